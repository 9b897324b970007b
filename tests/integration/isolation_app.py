"""A worker process for the runtime isolation tests (test_isolation.py).

Run as: python isolation_app.py DSN TASK_QUEUE [--debug-mode]. Logs go to stderr with
their time, so the test can read when a workflow task was failed as deadlocked.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker


@activity.defn
async def short_step(step: int) -> int:
    await asyncio.sleep(0.02)
    return step + 1


@workflow.defn
class SpinForever:
    """Never yields: every attempt of its first task must be failed as deadlocked."""

    @workflow.run
    async def run(self) -> None:
        while True:
            pass


# Not sandboxed: the sandbox refuses time.perf_counter() in workflow code (as
# temporalio's does), and this one reads the wall clock on purpose.
@workflow.defn(sandboxed=False)
class SpinAWhile:
    """Holds its thread for ``seconds`` of wall-clock time without yielding, then
    finishes (reading the wall clock is not deterministic: a test workflow only)."""

    @workflow.run
    async def run(self, seconds: float) -> float:
        import time

        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            pass
        return time.perf_counter() - started


@workflow.defn
class Quick:
    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_activity(
            short_step, n, start_to_close_timeout=timedelta(seconds=10)
        )


async def main(dsn: str, task_queue: str, debug_mode: bool) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(created).3f %(name)s %(message)s"
    )
    client = await Client.connect(dsn)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[SpinForever, SpinAWhile, Quick, CpuSteps],
        activities=[short_step, beating_step],
        debug_mode=debug_mode,
    )
    print("worker ready", flush=True)
    await worker.run()


# ------------------------------------------------------- takeover under CPU load
# Used by the worker process that gets killed and by the test's own worker.

HEARTBEAT_TIMEOUT = timedelta(seconds=1)

# (workflow id, step, attempt, pid, times of each heartbeat call), per attempt run here.
BEATS: list[tuple[str, int, int, int, list[float]]] = []


@activity.defn
async def beating_step(step: int) -> int:
    import os
    import time

    info = activity.info()
    beats: list[float] = []
    BEATS.append((info.workflow_id, step, info.attempt, os.getpid(), beats))
    for _ in range(6):
        activity.heartbeat(step)
        beats.append(time.monotonic())
        await asyncio.sleep(0.05)
    return step


def burn(loops: int) -> int:
    """Deterministic CPU work (the test sizes ``loops`` to about 100 ms)."""
    total = 0
    for i in range(loops):
        total += i & 1
    return total


@workflow.defn
class CpuSteps:
    @workflow.run
    async def run(self, steps: int, loops: int) -> int:
        done = 0
        for step in range(steps):
            burn(loops)
            done += await workflow.execute_activity(
                beating_step,
                step,
                start_to_close_timeout=timedelta(seconds=2),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
            )
        return done


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], "--debug-mode" in sys.argv[3:]))
