"""A failed workflow task is recorded in history as Temporal records it (issue 20):
WorkflowTaskStarted and WorkflowTaskFailed (cause, failure, identity) for the first
failure of a streak, then the retry's WorkflowTaskScheduled whose attempt counts the
retries; later failures of the streak add no events."""

from __future__ import annotations

import asyncio
import uuid

from hotmesh_temporal import workflow
from hotmesh_temporal.api.enums.v1 import EventType, WorkflowTaskFailedCause
from hotmesh_temporal.worker import Replayer, Worker


@workflow.defn
class BrokenUntilFixed:
    def __init__(self) -> None:
        self.fixed = False

    @workflow.run
    async def run(self) -> str:
        if not self.fixed:
            raise RuntimeError("broken until fixed")
        return "fixed"

    @workflow.signal
    def fix(self) -> None:
        self.fixed = True


def _types(history) -> list[str]:
    return [EventType.Name(e.event_type) for e in history.events]


async def _wait_for_attempt(handle, attempt: int):
    for _ in range(200):
        history = await handle.fetch_history()
        last = history.events[-1]
        if (
            last.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
            and last.workflow_task_scheduled_event_attributes.attempt >= attempt
        ):
            return history
        await asyncio.sleep(0.1)
    raise AssertionError(f"attempt {attempt} never reached: {_types(history)}")


async def test_first_failure_of_a_streak_is_in_history(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[BrokenUntilFixed]):
        handle = await client.start_workflow(
            BrokenUntilFixed.run, id=f"wft-failed-{uuid.uuid4()}", task_queue=task_queue
        )
        stuck = await _wait_for_attempt(handle, 3)
        assert _types(stuck) == [
            "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
            "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
            "EVENT_TYPE_WORKFLOW_TASK_STARTED",
            "EVENT_TYPE_WORKFLOW_TASK_FAILED",
            "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        ]
        failed = stuck.events[3].workflow_task_failed_event_attributes
        assert failed.cause == (
            WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE
        )
        assert failed.failure.message == "broken until fixed"
        assert failed.failure.application_failure_info.type == "RuntimeError"
        assert (failed.scheduled_event_id, failed.started_event_id) == (2, 3)

        await handle.signal(BrokenUntilFixed.fix)
        assert await handle.result() == "fixed"

    history = await handle.fetch_history()
    assert _types(history)[:8] == _types(stuck) + [
        "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
    ]
    assert history.events[4].workflow_task_scheduled_event_attributes.attempt >= 3
    completed = history.events[7].workflow_task_completed_event_attributes
    assert failed.identity == completed.identity != ""
    await Replayer(workflows=[BrokenUntilFixed]).replay_workflow(history)


@workflow.defn(name="ChangesShape")
class StartsATimer:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False, timeout=3600)


@workflow.defn(name="ChangesShape")
class NowWaitsForever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def test_nondeterminism_is_recorded_with_its_cause(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[StartsATimer]):
        handle = await client.start_workflow(
            StartsATimer.run, id=f"wft-nd-{uuid.uuid4()}", task_queue=task_queue
        )
        for _ in range(100):
            if "EVENT_TYPE_TIMER_STARTED" in _types(await handle.fetch_history()):
                break
            await asyncio.sleep(0.05)
    await handle.signal("poke")  # a new task for the changed code
    async with Worker(
        client, task_queue=task_queue, workflows=[NowWaitsForever], max_cached_workflows=0
    ):
        stuck = await _wait_for_attempt(handle, 2)
    failed = [e for e in stuck.events if e.HasField("workflow_task_failed_event_attributes")]
    assert len(failed) == 1
    attrs = failed[0].workflow_task_failed_event_attributes
    assert attrs.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
    assert attrs.failure.message
    await handle.terminate()
