"""Run: ``python -m samples.sleep_for_days``

A "month" lasts ``SLEEP_SECONDS`` here (default 1 s) so the run takes seconds; set
``SLEEP_SECONDS=2592000`` for the real thing.
"""

import asyncio
import os

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.sleep_for_days.workflows import (
    MonthlyReminderWorkflow,
    ReminderInput,
    send_reminder,
)

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "sleep-for-days"
PERIOD = float(os.environ.get("SLEEP_SECONDS", "1"))


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[MonthlyReminderWorkflow],
        activities=[send_reminder],
    ):
        handle = await client.start_workflow(
            MonthlyReminderWorkflow.run,
            ReminderInput(email="ada@example.com", period_seconds=PERIOD),
            id="sleep-for-days-workflow",
            task_queue=TASK_QUEUE,
        )
        while await handle.query(MonthlyReminderWorkflow.reminders_sent) < 3:
            await asyncio.sleep(PERIOD / 4)
        await handle.signal(MonthlyReminderWorkflow.stop)
        print(f"Result: stopped after {await handle.result()} reminders")


if __name__ == "__main__":
    asyncio.run(main())
