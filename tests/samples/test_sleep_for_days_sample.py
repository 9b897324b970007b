import asyncio
import uuid
from datetime import timedelta

from hotmesh_temporal import activity
from hotmesh_temporal.testing import WorkflowEnvironment
from hotmesh_temporal.worker import Worker
from samples.sleep_for_days.workflows import THIRTY_DAYS, MonthlyReminderWorkflow, ReminderInput


async def test_reminds_every_period_until_stopped(env: WorkflowEnvironment):
    # With --workflow-environment=time-skipping the months are real and the clock skips
    # them; in local mode a "month" lasts 0.2 s.
    period = THIRTY_DAYS if env.supports_time_skipping else 0.2
    sent: list = []

    @activity.defn(name="send_reminder")
    async def send_reminder_mocked(email: str, number: int) -> None:
        sent.append((email, number))

    task_queue = str(uuid.uuid4())
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[MonthlyReminderWorkflow],
        activities=[send_reminder_mocked],
    ):
        handle = await env.client.start_workflow(
            MonthlyReminderWorkflow.run,
            ReminderInput(email="bob@example.com", period_seconds=period),
            id=str(uuid.uuid4()),
            task_queue=task_queue,
        )
        began = await env.get_current_time()
        while len(sent) < 3:
            await env.sleep(timedelta(seconds=period / 4))
            await asyncio.sleep(0.01)
        await handle.signal(MonthlyReminderWorkflow.stop)
        total = await handle.result()
        elapsed = await env.get_current_time() - began
    assert total >= 3
    assert sent == [("bob@example.com", n) for n in range(1, total + 1)]
    # Two full periods passed between the first and the third reminder.
    assert elapsed >= timedelta(seconds=2 * period)


async def test_default_period_is_thirty_days():
    assert ReminderInput(email="x").period_seconds == 30 * 24 * 3600
