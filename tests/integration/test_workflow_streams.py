"""hotmesh_temporal.contrib.workflow_streams: a workflow's stream published to from the
workflow, an activity and a client, subscribed to by a client, carried through
continue-as-new, and drained after the workflow closes."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import WorkflowUpdateFailedError
from hotmesh_temporal.common import RawValue
from hotmesh_temporal.contrib.workflow_streams import (
    WorkflowStream,
    WorkflowStreamClient,
    WorkflowStreamState,
)
from hotmesh_temporal.worker import Worker


@dataclass
class Progress:
    step: int
    note: str


@dataclass
class JobInput:
    steps: int
    rounds_left: int = 0
    stream_state: WorkflowStreamState | None = None


@activity.defn
async def report_from_activity(count: int) -> None:
    async with WorkflowStreamClient.from_within_activity(
        batch_interval=timedelta(milliseconds=50)
    ) as stream:
        logs = stream.topic("log", type=str)
        for i in range(count):
            logs.publish(f"activity line {i}")


@workflow.defn
class StreamingJob:
    @workflow.init
    def __init__(self, job: JobInput) -> None:
        self.stream = WorkflowStream(job.stream_state)
        self.release = False

    @workflow.run
    async def run(self, job: JobInput) -> int:
        progress = self.stream.topic("progress", type=Progress)
        for step in range(job.steps):
            progress.publish(Progress(step, f"round {job.rounds_left}"))
            await workflow.sleep(0.05)
        await workflow.execute_activity(
            report_from_activity, 2, start_to_close_timeout=timedelta(seconds=10)
        )
        if job.rounds_left > 0:
            await self.stream.continue_as_new(
                lambda state: [JobInput(job.steps, job.rounds_left - 1, state)]
            )
        await workflow.wait_condition(lambda: self.release)
        return await workflow.execute_local_activity(
            count_nothing, start_to_close_timeout=timedelta(seconds=5)
        )

    @workflow.signal
    def finish(self) -> None:
        self.release = True

    @workflow.update
    def truncate_to(self, offset: int) -> None:
        self.stream.truncate(offset)


@activity.defn
async def count_nothing() -> int:
    return 0


async def collect(iterator, count: int, timeout: float = 30) -> list:
    items = []

    async def take() -> None:
        async for item in iterator:
            items.append(item)
            if len(items) == count:
                return

    await asyncio.wait_for(take(), timeout)
    return items


async def test_items_from_workflow_activity_and_client_reach_a_subscriber(client, task_queue):
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[StreamingJob],
        activities=[report_from_activity, count_nothing],
    ):
        workflow_id = f"stream-{uuid.uuid4()}"
        handle = await client.start_workflow(
            StreamingJob.run, JobInput(steps=3), id=workflow_id, task_queue=task_queue
        )
        streams = WorkflowStreamClient.create(client, workflow_id)
        progress = await collect(
            streams.topic("progress", type=Progress).subscribe(poll_cooldown=timedelta(0)), 3
        )
        assert [(i.offset, i.data) for i in progress] == [
            (0, Progress(0, "round 0")),
            (1, Progress(1, "round 0")),
            (2, Progress(2, "round 0")),
        ]
        logs = await collect(streams.subscribe("log", 3, poll_cooldown=timedelta(0)), 2)
        assert [i.data for i in logs] == ["activity line 0", "activity line 1"]
        async with WorkflowStreamClient.create(client, workflow_id) as publisher:
            publisher.topic("log", type=str).publish("from the client", force_flush=True)
        assert await streams.get_offset() == 6
        everything = await collect(streams.subscribe(poll_cooldown=timedelta(0)), 6)
        assert [i.topic for i in everything] == ["progress"] * 3 + ["log"] * 3
        raw = await collect(streams.subscribe("log", 5, result_type=RawValue), 1)
        assert (
            isinstance(raw[0].data, RawValue) and raw[0].data.payload.data == b'"from the client"'
        )
        await handle.signal(StreamingJob.finish)
        assert await handle.result() == 0
        # After the workflow closed, a subscription reads what it kept, then ends.
        closed = [i async for i in streams.subscribe("log", poll_cooldown=timedelta(0))]
        assert [i.data for i in closed] == [
            "activity line 0",
            "activity line 1",
            "from the client",
        ]


async def test_a_stream_survives_continue_as_new_and_truncation(client, task_queue):
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[StreamingJob],
        activities=[report_from_activity, count_nothing],
    ):
        workflow_id = f"stream-{uuid.uuid4()}"
        handle = await client.start_workflow(
            StreamingJob.run,
            JobInput(steps=2, rounds_left=1),
            id=workflow_id,
            task_queue=task_queue,
        )
        streams = WorkflowStreamClient.create(client, workflow_id)
        progress = await collect(
            streams.topic("progress", type=Progress).subscribe(poll_cooldown=timedelta(0)), 4
        )
        assert [i.data.note for i in progress] == ["round 1"] * 2 + ["round 0"] * 2
        assert [i.offset for i in progress] == [0, 1, 4, 5]  # logs took offsets 2 and 3
        await collect(streams.subscribe("log", 6, poll_cooldown=timedelta(0)), 2)
        await handle.execute_update(StreamingJob.truncate_to, 4)
        kept = await collect(streams.subscribe(poll_cooldown=timedelta(0)), 1)
        assert kept[0].offset == 4  # truncated offsets are skipped, offsets unchanged
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("__temporal_workflow_stream_poll", {"from_offset": 1})
        assert refused.value.cause.type == "TruncatedOffset"
        assert "has been truncated" in refused.value.cause.message
        await handle.signal(StreamingJob.finish)
        await handle.result()


def test_stream_must_be_built_in_workflow_init():
    with pytest.raises(RuntimeError, match="@workflow.init"):
        WorkflowStream()
