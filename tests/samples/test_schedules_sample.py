import asyncio
import uuid
from datetime import timedelta

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.schedules.__main__ import create_report_schedule, wait_for_actions
from samples.schedules.workflows import StatusReportWorkflow, compile_report


async def test_schedule_fires_triggers_pauses_and_deletes(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[StatusReportWorkflow],
        activities=[compile_report],
    ):
        handle = await create_report_schedule(
            client, f"schedule-{task_queue}", task_queue, timedelta(seconds=1)
        )
        try:
            assert await asyncio.wait_for(wait_for_actions(handle, 1), timeout=5) >= 1
            await handle.trigger()
            await asyncio.wait_for(wait_for_actions(handle, 2), timeout=5)
            await handle.pause(note="test")
            described = await handle.describe()
            assert described.schedule.state.paused
            assert described.schedule.state.note == "test"
            latest = described.info.recent_actions[-1].action
            result = await client.get_workflow_handle(latest.workflow_id).result()
            assert result == "status report for the build farm"
        finally:
            await handle.delete()
    ids = [s.id async for s in await client.list_schedules()]
    assert handle.id not in ids
