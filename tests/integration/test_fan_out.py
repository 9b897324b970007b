"""A workflow that fans out many activities at once: their completions arrive together,
are reported together (one transaction per pile, see completion_batcher.py), and the
run's history is what one-by-one reporting writes: every activity scheduled, started
and completed once, and the history replays deterministically."""

from __future__ import annotations

import asyncio
import collections
import uuid
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.api.enums.v1 import EventType
from hotmesh_temporal.worker import Replayer, Worker


@activity.defn
async def square(value: int) -> int:
    return value * value


@workflow.defn
class FanOutWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        results = await asyncio.gather(
            *(
                workflow.execute_activity(square, i, start_to_close_timeout=timedelta(seconds=30))
                for i in range(count)
            )
        )
        # A second, smaller wave after the first, on the same run.
        more = await asyncio.gather(
            *(
                workflow.execute_activity(square, i, start_to_close_timeout=timedelta(seconds=30))
                for i in range(5)
            )
        )
        return sum(results) + sum(more)


async def test_fan_out_completions_reported_together_keep_the_history_exact(client, task_queue):
    count = 60
    async with Worker(
        client, task_queue=task_queue, workflows=[FanOutWorkflow], activities=[square]
    ):
        handle = await client.start_workflow(
            FanOutWorkflow.run, count, id=f"fan-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await handle.result() == sum(i * i for i in range(count)) + sum(
            i * i for i in range(5)
        )
    history = await handle.fetch_history()
    kinds = [e.event_type for e in history.events]

    assert kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == count + 5
    assert kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) == count + 5
    assert kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) == count + 5
    # Each completion follows its own Started event.
    started_of = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started_of[event.event_id] = (
                event.activity_task_started_event_attributes.scheduled_event_id
            )
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            assert started_of[attrs.started_event_id] == attrs.scheduled_event_id
    replayed = await Replayer(workflows=[FanOutWorkflow]).replay_workflow(history)
    assert replayed.replay_failure is None


async def test_a_fan_out_keeps_its_run_cached(client, task_queue):
    """An activity of a fan-out is not run ahead while others of its run are still in
    hand: such a prediction was refused as soon as another report landed first, and the
    cached run, taken out for it, was dropped and replayed from the database
    (``events_after``: a run of a hundred activities read its whole history back)."""
    store = (await client._engine()).store
    async with Worker(
        client, task_queue=task_queue, workflows=[FanOutWorkflow], activities=[square]
    ):
        before = collections.Counter(store.calls)
        handle = await client.start_workflow(
            FanOutWorkflow.run, 40, id=f"fan-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.result()
        calls = collections.Counter(store.calls) - before
    assert calls["events_after"] == 0, calls
    assert calls["complete_activity_run_ahead"] == 0, calls
