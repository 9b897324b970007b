"""Run: ``python -m samples.schedules``

Creates a schedule that starts ``StatusReportWorkflow`` every ``EVERY`` (2 s here; a
day in real life), lets it fire, triggers one extra run by hand, pauses it, reads its
state back and deletes it.
"""

import asyncio
import os
from datetime import timedelta

from hotmesh_temporal.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
)
from hotmesh_temporal.worker import Worker
from samples.schedules.workflows import StatusReportWorkflow, compile_report

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "schedules"
EVERY = timedelta(seconds=2)


async def create_report_schedule(
    client: Client, schedule_id: str, task_queue: str, every: timedelta
) -> ScheduleHandle:
    return await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(
                StatusReportWorkflow.run,
                "the build farm",
                id=f"{schedule_id}-report",  # each run gets this id plus a timestamp
                task_queue=task_queue,
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
            state=ScheduleState(note="status report for the build farm"),
        ),
    )


async def wait_for_actions(handle: ScheduleHandle, count: int) -> int:
    while (actions := (await handle.describe()).info.num_actions) < count:
        await asyncio.sleep(0.2)
    return actions


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[StatusReportWorkflow],
        activities=[compile_report],
    ):
        handle = await create_report_schedule(client, "schedules-sample", TASK_QUEUE, EVERY)
        try:
            print(f"Schedule {handle.id} fires every {EVERY.total_seconds():g} s")
            await wait_for_actions(handle, 2)
            await handle.trigger()  # one extra run, now
            actions = await wait_for_actions(handle, 3)
            await handle.pause(note="paused by the sample")
            described = await handle.describe()
            latest = described.info.recent_actions[-1].action
            result = await client.get_workflow_handle(latest.workflow_id).result()
            print(f"Actions taken: {actions}; paused: {described.schedule.state.paused}")
            print(f"Result of the latest run: {result}")
        finally:
            await handle.delete()
            print("Schedule deleted")


if __name__ == "__main__":
    asyncio.run(main())
