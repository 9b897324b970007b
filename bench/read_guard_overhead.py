"""What the sandbox's read guards cost readers of ``os`` and ``os.environ``.

Once a guarded workflow has run, ``os`` has a module class watching the attribute
reads temporalio's sandbox refuses (``os.name``, ``os.path``) and ``os.environ`` a
class checking its uses (hotmesh_temporal._engine.runtime.determinism). This prints,
per access and in nanoseconds, what reading ``os.sep``, ``os.path`` and
``os.environ["PATH"]`` and joining a path costs before and after they are installed,
outside workflow code (every thread of the process pays this), and inside a guarded
workflow step for an allowed read from the standard library. It prints; it asserts
nothing.

    python -m bench.read_guard_overhead
"""

from __future__ import annotations

import os
import timeit

from hotmesh_temporal._engine.runtime import determinism
from hotmesh_temporal.worker.workflow_sandbox import SandboxRestrictions
from hotmesh_temporal.worker.workflow_sandbox._restrictions import CallRefusals

NUMBER = 200_000
READS = {
    "os.sep": lambda: os.sep,
    "os.path": lambda: os.path,
    "os.environ['PATH']": lambda: os.environ["PATH"],
    "os.path.join('a', 'b')": lambda: os.path.join("a", "b"),
}


def per_access_ns() -> dict[str, float]:
    return {
        name: min(timeit.repeat(read, number=NUMBER, repeat=5)) / NUMBER * 1e9
        for name, read in READS.items()
    }


def main() -> None:
    before = per_access_ns()
    refusals = CallRefusals(SandboxRestrictions.default.invalid_module_members)
    determinism._guard_reads(refusals)
    after = per_access_ns()
    print(f"{'read':26} {'unguarded ns':>13} {'guarded ns':>11} {'extra ns':>9}")
    for name in READS:
        extra = after[name] - before[name]
        print(f"{name:26} {before[name]:13.1f} {after[name]:11.1f} {extra:9.1f}")


if __name__ == "__main__":
    main()
