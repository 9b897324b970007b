import asyncio
import uuid

from hotmesh_temporal import activity
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.sleep_for_days.workflows import MonthlyReminderWorkflow, ReminderInput


async def test_reminds_every_period_until_stopped(client: Client):
    sent: list = []

    @activity.defn(name="send_reminder")
    async def send_reminder_mocked(email: str, number: int) -> None:
        sent.append((email, number))

    task_queue = str(uuid.uuid4())
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[MonthlyReminderWorkflow],
        activities=[send_reminder_mocked],
    ):
        handle = await client.start_workflow(
            MonthlyReminderWorkflow.run,
            ReminderInput(email="bob@example.com", period_seconds=0.2),
            id=str(uuid.uuid4()),
            task_queue=task_queue,
        )
        while len(sent) < 3:
            await asyncio.sleep(0.05)
        await handle.signal(MonthlyReminderWorkflow.stop)
        total = await handle.result()
    assert total >= 3
    assert sent == [("bob@example.com", n) for n in range(1, total + 1)]


async def test_default_period_is_thirty_days():
    assert ReminderInput(email="x").period_seconds == 30 * 24 * 3600
