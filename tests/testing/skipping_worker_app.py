"""A worker in a process of its own, for the time-skipping test across processes.

Run as: python skipping_worker_app.py DSN TASK_QUEUE. Prints "ready" once its worker
polls, then runs until killed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker


@workflow.defn(name="NapWorkflow")
class NapWorkflow:
    @workflow.run
    async def run(self, minutes: float) -> list[str]:
        before = workflow.now()
        await workflow.sleep(timedelta(minutes=minutes))
        return [before.isoformat(), workflow.now().isoformat()]


async def main(dsn: str, task_queue: str) -> None:
    client = await Client.connect(dsn)
    async with Worker(client, task_queue=task_queue, workflows=[NapWorkflow]):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
