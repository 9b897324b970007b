"""Cost of handing one workflow step to the workflow task executor.

Every synchronous step of a run (building its instance, one activation, one query)
runs on a thread of the worker's workflow task executor, not on the worker's event
loop (worker/activations.py). This measures what that hand-off adds per step: an
empty step run inline against the same step through ``WorkflowTaskExecutor.run``
(thread pool, deadlock timer, result back on the loop), in wall time and in CPU of
the whole process, over N steps one after another.

    python -m bench.handoff [--steps 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from hotmesh_temporal._engine.runtime.driver import run_inline
from hotmesh_temporal._engine.worker.activations import WorkflowTaskExecutor


def _step() -> int:
    return 1


async def _measure(run, steps: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        await run(_step)
    return (
        (time.perf_counter() - wall) / steps * 1e6,
        (time.process_time() - cpu) / steps * 1e6,
    )


async def main(steps: int) -> None:
    executor = WorkflowTaskExecutor(None, max_concurrent_workflow_tasks=None, debug_mode=False)
    through_pool = executor.steps_for_run("bench")
    await _measure(through_pool, 500)  # warm the pool's threads
    for label, run in (("inline", run_inline), ("executor", through_pool)) * 2:
        wall, cpu = await _measure(run, steps)
        print(f"{label:9} {wall:8.1f} us wall per step, {cpu:8.1f} us CPU per step")
    executor.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    asyncio.run(main(parser.parse_args().steps))
