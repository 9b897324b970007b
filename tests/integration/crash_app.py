"""A worker process for the crash and multi-process tests.

Run as: python crash_app.py DSN TASK_QUEUE. Every activity execution is recorded in
the table crash_runs (workflow id, step, attempt, pid) so the test can prove which
attempts ran where, and that no completed activity ran again.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import asyncpg

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.worker import Worker

RUNS_TABLE = "crash_runs"


@activity.defn
async def crash_step(step: int) -> int:
    info = activity.info()
    await asyncio.sleep(0.05 + (step % 3) * 0.05)
    assert _pool is not None
    await _pool.execute(
        f"INSERT INTO {os.environ['CRASH_SCHEMA']}.{RUNS_TABLE} VALUES ($1, $2, $3, $4)",
        info.workflow_id,
        step,
        info.attempt,
        os.getpid(),
    )
    return step * 10


# Two connections for the records, whatever the number of activities running: the
# multi-process test runs several of these processes on a server whose max_connections
# may be Postgres's default of 100. Made in main(), before any activity runs.
_pool: asyncpg.Pool | None = None


@workflow.defn
class CrashWorkflow:
    @workflow.run
    async def run(self, steps: int) -> int:
        total = 0
        for step in range(steps):
            total += await workflow.execute_activity(
                crash_step,
                step,
                start_to_close_timeout=timedelta(seconds=2),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
            )
            await workflow.sleep(timedelta(milliseconds=100))
        return total


async def main(dsn: str, task_queue: str) -> None:
    global _pool
    _pool = await asyncpg.create_pool(os.environ["CRASH_BASE_DSN"], min_size=1, max_size=2)
    client = await Client.connect(dsn)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[CrashWorkflow],
        activities=[crash_step],
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
        # The multi-process test caps each worker so that no single process can take
        # the whole backlog before the others are up.
        max_concurrent_activities=int(os.environ.get("CRASH_MAX_ACTIVITIES", "100")),
    )
    print("worker ready", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
