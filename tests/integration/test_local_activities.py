"""Local activities run inside the workflow task, are recorded as Temporal's
``core_local_activity`` markers, retry as Temporal does, and never run again on
replay."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ActivityError, ApplicationError, TimeoutError
from hotmesh_temporal.worker import Replayer, Worker

calls: Counter = Counter()


def wf_id() -> str:
    return f"wf-{uuid.uuid4()}"


@activity.defn
async def describe_self(key: str) -> dict:
    calls[key] += 1
    info = activity.info()
    return {"is_local": info.is_local, "attempt": info.attempt, "key": key}


@activity.defn
async def fails_twice(key: str) -> int:
    calls[key] += 1
    if calls[key] < 3:
        raise ApplicationError(f"attempt {calls[key]}")
    return activity.info().attempt


@activity.defn
async def always_fails(key: str) -> None:
    calls[key] += 1
    raise ApplicationError("no way", type="Broken", non_retryable=True)


@activity.defn
async def too_slow(key: str) -> None:
    calls[key] += 1
    await asyncio.sleep(2)


@workflow.defn
class LocalWorkflow:
    @workflow.run
    async def run(self, key: str) -> list:
        first = await workflow.execute_local_activity(
            describe_self, key, start_to_close_timeout=timedelta(seconds=5)
        )
        await workflow.sleep(timedelta(milliseconds=20))
        second = await workflow.execute_local_activity(
            describe_self, key, start_to_close_timeout=timedelta(seconds=5)
        )
        return [first, second]


@workflow.defn
class RetryingLocalWorkflow:
    @workflow.run
    async def run(self, key: str, threshold_ms: int) -> int:
        return await workflow.execute_local_activity(
            fails_twice,
            key,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
            local_retry_threshold=timedelta(milliseconds=threshold_ms),
        )


@workflow.defn
class FailingLocalWorkflow:
    @workflow.run
    async def run(self, key: str, slow: bool) -> None:
        await workflow.execute_local_activity(
            too_slow if slow else always_fails,
            key,
            start_to_close_timeout=timedelta(milliseconds=200),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


def _markers(history) -> list:
    out = []
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            attrs = event.marker_recorded_event_attributes
            if attrs.marker_name == "core_local_activity":
                out.append(attrs)
    return out


def _marker_data(marker) -> dict:
    return json.loads(marker.details["data"].payloads[0].data)


async def test_local_activity_is_a_marker_not_a_task(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[LocalWorkflow], activities=[describe_self]
    ):
        handle = await client.start_workflow(
            LocalWorkflow.run, key, id=wf_id(), task_queue=task_queue
        )
        first, second = await handle.result()
    assert first == {"is_local": True, "attempt": 1, "key": key}
    assert second["is_local"] is True
    history = await handle.fetch_history()
    kinds = [e.WhichOneof("attributes") for e in history.events]
    assert "activity_task_scheduled_event_attributes" not in kinds
    markers = _markers(history)
    assert [_marker_data(m)["seq"] for m in markers] == [1, 2]
    data = _marker_data(markers[0])
    assert data["activity_type"] == "describe_self" and data["attempt"] == 1
    assert set(data["complete_time"]) == {"seconds", "nanos"}
    assert json.loads(markers[0].details["result"].payloads[0].data)["key"] == key


async def test_replay_reads_the_marker_and_does_not_run_the_activity(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    # No cache: every workflow task rebuilds the run from history.
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[LocalWorkflow],
        activities=[describe_self],
        max_cached_workflows=0,
    ):
        handle = await client.start_workflow(
            LocalWorkflow.run, key, id=wf_id(), task_queue=task_queue
        )
        await handle.result()
    assert calls[key] == 2
    await Replayer(workflows=[LocalWorkflow]).replay_workflow(await handle.fetch_history())
    assert calls[key] == 2


async def test_retries_within_the_threshold_stay_in_the_task(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[RetryingLocalWorkflow], activities=[fails_twice]
    ):
        handle = await client.start_workflow(
            RetryingLocalWorkflow.run, args=[key, 60_000], id=wf_id(), task_queue=task_queue
        )
        assert await handle.result() == 3
    history = await handle.fetch_history()
    markers = _markers(history)
    assert len(markers) == 1 and _marker_data(markers[0])["attempt"] == 3
    assert not any(e.HasField("timer_started_event_attributes") for e in history.events)


async def test_backoff_beyond_the_threshold_sleeps_on_a_timer(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[RetryingLocalWorkflow], activities=[fails_twice]
    ):
        handle = await client.start_workflow(
            RetryingLocalWorkflow.run, args=[key, 10], id=wf_id(), task_queue=task_queue
        )
        assert await handle.result() == 3
    history = await handle.fetch_history()
    markers = _markers(history)
    assert [_marker_data(m)["attempt"] for m in markers] == [1, 2, 3]
    assert _marker_data(markers[0])["backoff"] == {"seconds": 0, "nanos": 50_000_000}
    assert markers[0].HasField("failure") and not markers[2].HasField("failure")
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    assert len(timers) == 2
    await Replayer(workflows=[RetryingLocalWorkflow]).replay_workflow(history)


async def test_final_failure_reaches_the_workflow_as_activity_error(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[FailingLocalWorkflow], activities=[always_fails]
    ):
        handle = await client.start_workflow(
            FailingLocalWorkflow.run, args=[key, False], id=wf_id(), task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    error = caught.value.cause
    assert isinstance(error, ActivityError)
    assert isinstance(error.cause, ApplicationError) and error.cause.type == "Broken"
    assert calls[key] == 1
    await Replayer(workflows=[FailingLocalWorkflow]).replay_workflow(await handle.fetch_history())


async def test_start_to_close_timeout(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[FailingLocalWorkflow], activities=[too_slow]
    ):
        handle = await client.start_workflow(
            FailingLocalWorkflow.run, args=[key, True], id=wf_id(), task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    assert isinstance(caught.value.cause, ActivityError)
    assert isinstance(caught.value.cause.cause, TimeoutError)


@activity.defn
async def slow_twice(key: str) -> int:
    calls[key] += 1
    if calls[key] < 3:
        await asyncio.sleep(2)
    return calls[key]


@activity.defn
async def fails_as_broken(key: str) -> None:
    calls[key] += 1
    raise ApplicationError("broken again", type="Broken")


@workflow.defn
class NonRetryableLocalWorkflow:
    @workflow.run
    async def run(self, key: str, slow: bool, non_retryable: list) -> int:
        return await workflow.execute_local_activity(
            slow_twice if slow else fails_as_broken,
            key,
            start_to_close_timeout=timedelta(milliseconds=200),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=10),
                maximum_attempts=3,
                non_retryable_error_types=non_retryable,
            ),
        )


async def _run_non_retryable(client, task_queue, key: str, slow: bool, names: list) -> Any:
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[NonRetryableLocalWorkflow],
        activities=[slow_twice, fails_as_broken],
    ):
        return await client.execute_workflow(
            NonRetryableLocalWorkflow.run,
            args=[key, slow, names],
            id=wf_id(),
            task_queue=task_queue,
        )


async def test_non_retryable_error_types_never_stop_a_local_timeout(client, task_queue):
    # As Temporal's Core SDK: a local activity's start-to-close timeout has no error
    # type, so no entry names it (neither the class nor the server's spelling).
    key = f"k-{uuid.uuid4()}"
    names = ["TimeoutError", "TemporalTimeout:TIMEOUT_TYPE_START_TO_CLOSE", "Timeout"]
    assert await _run_non_retryable(client, task_queue, key, True, names) == 3
    assert calls[key] == 3


async def test_non_retryable_error_types_of_local_activities_ignore_case(client, task_queue):
    # Core compares the application failure's type with each entry ignoring case.
    key = f"k-{uuid.uuid4()}"
    with pytest.raises(WorkflowFailureError) as caught:
        await _run_non_retryable(client, task_queue, key, False, ["broken"])
    assert isinstance(caught.value.cause.cause, ApplicationError)
    assert caught.value.cause.cause.type == "Broken"
    assert calls[key] == 1


@workflow.defn(name="LocalWorkflow")
class TimerFirst:
    @workflow.run
    async def run(self, key: str) -> None:
        await workflow.sleep(timedelta(milliseconds=20))


async def test_changed_local_activity_is_nondeterminism(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[LocalWorkflow], activities=[describe_self]
    ):
        handle = await client.start_workflow(
            LocalWorkflow.run, key, id=wf_id(), task_queue=task_queue
        )
        await handle.result()
    history = await handle.fetch_history()

    with pytest.raises(workflow.NondeterminismError, match="core_local_activity"):
        await Replayer(workflows=[TimerFirst]).replay_workflow(history)


@activity.defn
async def outlasts_the_task(key: str) -> str:
    calls[key] += 1
    await asyncio.sleep(2.5)
    return "done"


@workflow.defn
class LongLocalWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        return await workflow.execute_local_activity(
            outlasts_the_task, key, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_a_long_local_activity_keeps_its_task_and_runs_once(client, task_queue):
    """The task's lease (1 s here) is extended while the local activity runs, so the
    task is not released to run the activity a second time."""
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[LongLocalWorkflow], activities=[outlasts_the_task]
    ):
        handle = await client.start_workflow(
            LongLocalWorkflow.run,
            key,
            id=wf_id(),
            task_queue=task_queue,
            task_timeout=timedelta(seconds=1),
        )
        # Without the lease extension the task is taken back every second and the
        # activity starts over forever: bound the wait.
        assert await asyncio.wait_for(handle.result(), 20) == "done"
    assert calls[key] == 1


@activity.defn
async def keeps_failing(key: str) -> None:
    calls[key] += 1
    raise ApplicationError("still broken")


@workflow.defn
class GiveUpDuringBackoff:
    @workflow.run
    async def run(self, key: str) -> str:
        handle = workflow.start_local_activity(
            keeps_failing,
            key,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=30)),
            local_retry_threshold=timedelta(seconds=1),
        )
        try:
            await asyncio.wait_for(handle, timeout=0.3)
        except asyncio.TimeoutError:  # as on Temporal: the backoff sleep is cancelled
            return "gave up"
        return "finished"


async def test_cancelling_a_local_activity_in_its_timer_backoff(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[GiveUpDuringBackoff],
        activities=[keeps_failing],
        max_cached_workflows=0,
    ):
        handle = await client.start_workflow(
            GiveUpDuringBackoff.run, key, id=wf_id(), task_queue=task_queue
        )
        assert await asyncio.wait_for(handle.result(), 20) == "gave up"
    assert calls[key] == 1  # the next attempt waited for a 30 s timer, never reached
    history = await handle.fetch_history()
    assert _marker_data(_markers(history)[0])["backoff"] == {"seconds": 30, "nanos": 0}
    kinds = [e.WhichOneof("attributes") for e in history.events]
    assert "timer_canceled_event_attributes" in kinds  # the backoff timer
    await Replayer(workflows=[GiveUpDuringBackoff]).replay_workflow(history)


@workflow.defn
class ForgetsItsLocalActivity:
    @workflow.run
    async def run(self, key: str) -> str:
        workflow.start_local_activity(
            describe_self, key, start_to_close_timeout=timedelta(seconds=5)
        )
        return "done without waiting"


async def test_a_run_that_ends_does_not_start_its_local_activities(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ForgetsItsLocalActivity],
        activities=[describe_self],
    ):
        handle = await client.start_workflow(
            ForgetsItsLocalActivity.run, key, id=wf_id(), task_queue=task_queue
        )
        assert await handle.result() == "done without waiting"
    assert calls[key] == 0
    history = await handle.fetch_history()
    assert _markers(history) == []
    await Replayer(workflows=[ForgetsItsLocalActivity]).replay_workflow(history)


running_now: Counter = Counter()


@activity.defn
async def counts_overlap(key: str) -> int:
    running_now[key] += 1
    peak = running_now[key]
    await asyncio.sleep(0.1)
    running_now[key] -= 1
    return peak


@workflow.defn
class ManyLocalActivities:
    @workflow.run
    async def run(self, key: str) -> int:
        handles = [
            workflow.start_local_activity(
                counts_overlap, key, start_to_close_timeout=timedelta(seconds=5)
            )
            for _ in range(4)
        ]
        return max([await h for h in handles])


async def test_max_concurrent_local_activities_is_a_cap(client, task_queue):
    key = f"k-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ManyLocalActivities],
        activities=[counts_overlap],
        max_concurrent_local_activities=1,
    ):
        handle = await client.start_workflow(
            ManyLocalActivities.run, key, id=wf_id(), task_queue=task_queue
        )
        assert await handle.result() == 1
    assert len(_markers(await handle.fetch_history())) == 4
