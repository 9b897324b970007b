"""Standalone activities: activities a client starts with no workflow around them
(``Client.start_activity`` and friends), run by an ordinary Worker, as in temporalio.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from hotmesh_temporal import activity
from hotmesh_temporal.client import (
    ActivityExecutionStatus,
    ActivityFailureError,
    ActivityOptionsKeys,
    PendingActivityState,
)
from hotmesh_temporal.common import ActivityIDConflictPolicy, ActivityIDReusePolicy, RetryPolicy
from hotmesh_temporal.exceptions import (
    ActivityAlreadyStartedError,
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
    TimeoutType,
)
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker

MINUTE = timedelta(minutes=1)
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), backoff_coefficient=1)


@dataclass
class Greeting:
    name: str
    times: int


@activity.defn
async def greet(greeting: Greeting) -> Greeting:
    return Greeting(f"hello {greeting.name}", greeting.times + 1)


@activity.defn
async def describe_self() -> dict:
    info = activity.info()
    return {
        "in_workflow": info.in_workflow,
        "workflow_id": info.workflow_id,
        "workflow_run_id": info.workflow_run_id,
        "workflow_type": info.workflow_type,
        "activity_id": info.activity_id,
        "activity_run_id": info.activity_run_id,
        "attempt": info.attempt,
    }


@activity.defn
async def flaky(fail_times: int) -> int:
    attempt = activity.info().attempt
    if attempt <= fail_times:
        raise ApplicationError(f"attempt {attempt} failed", type="Flaky")
    return attempt


@activity.defn
async def always_fails() -> None:
    raise ApplicationError("no luck", {"why": "always"}, type="Broken", non_retryable=True)


@activity.defn
async def sleeper(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "woke"


@activity.defn
async def heartbeater(beats: int) -> list:
    """Resumes from its last heartbeat after a retry; heartbeats until cancelled."""
    info = activity.info()
    start = info.heartbeat_details[0] if info.heartbeat_details else 0
    for i in range(start, beats):
        activity.heartbeat(i + 1)
        await asyncio.sleep(0.05)
        if i + 1 == 3 and info.attempt == 1:
            raise ApplicationError("crash after 3 beats")
    return [info.attempt, start]


@activity.defn
async def wait_for_cancel() -> str:
    while True:
        activity.heartbeat("beat")
        await asyncio.sleep(0.05)


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    @activity.defn
    async def bump(self, by: int) -> int:
        self.calls += by
        return self.calls


@activity.defn(name="Doubler")
class Doubler:
    async def __call__(self, value: int) -> int:
        return value * 2


def _id() -> str:
    return f"act-{uuid.uuid4().hex[:10]}"


def _worker(client, task_queue, *activities):
    return Worker(client, task_queue=task_queue, activities=list(activities))


async def test_execute_returns_typed_result(client, task_queue):
    async with _worker(client, task_queue, greet):
        result = await client.execute_activity(
            greet,
            Greeting("ann", 1),
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
        )
    assert result == Greeting("hello ann", 2)


async def test_start_then_result_by_name_and_handle(client, task_queue):
    async with _worker(client, task_queue, greet):
        handle = await client.start_activity(
            "greet",
            Greeting("bo", 0),
            id=_id(),
            task_queue=task_queue,
            schedule_to_close_timeout=MINUTE,
            result_type=Greeting,
        )
        assert handle.run_id
        assert await handle.result() == Greeting("hello bo", 1)
        # Another handle to the same id reads the stored outcome.
        again = client.get_activity_handle(handle.id, result_type=Greeting)
        assert await again.result() == Greeting("hello bo", 1)
        by_run = client.get_activity_handle(handle.id, run_id=handle.run_id)
        assert await by_run.result() == {"name": "hello bo", "times": 1}


async def test_info_has_no_workflow(client, task_queue):
    async with _worker(client, task_queue, describe_self):
        activity_id = _id()
        handle = await client.start_activity(
            describe_self, id=activity_id, task_queue=task_queue, start_to_close_timeout=MINUTE
        )
        info = await handle.result()
    assert info == {
        "in_workflow": False,
        "workflow_id": None,
        "workflow_run_id": None,
        "workflow_type": None,
        "activity_id": activity_id,
        "activity_run_id": handle.run_id,
        "attempt": 1,
    }


async def test_class_and_method_variants(client, task_queue):
    counter = Counter()
    async with _worker(client, task_queue, counter.bump, Doubler()):
        assert (
            await client.execute_activity_method(
                Counter.bump, 5, id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
            )
            == 5
        )
        handle = await client.start_activity_method(
            Counter.bump, args=[2], id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
        )
        assert await handle.result() == 7
        assert (
            await client.execute_activity_class(
                Doubler, 21, id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
            )
            == 42
        )
        handle = await client.start_activity_class(
            Doubler, 4, id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
        )
        assert await handle.result() == 8


async def test_retries_until_success(client, task_queue):
    async with _worker(client, task_queue, flaky):
        handle = await client.start_activity(
            flaky,
            2,
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            retry_policy=FAST_RETRY,
        )
        assert await handle.result() == 3
        desc = await handle.describe(include_last_failure=True, include_outcome=True)
    assert desc.status == ActivityExecutionStatus.COMPLETED
    assert desc.attempt == 3
    assert desc.run_state is None
    assert desc.has_result() and await desc.result() == 3
    assert not desc.has_outcome_failure()
    last = await desc.last_failure()
    assert isinstance(last, ApplicationError) and last.message == "attempt 2 failed"


async def test_failure_after_maximum_attempts(client, task_queue):
    async with _worker(client, task_queue, flaky):
        with pytest.raises(ActivityFailureError) as err:
            await client.execute_activity(
                flaky,
                10,
                id=_id(),
                task_queue=task_queue,
                start_to_close_timeout=MINUTE,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=20), maximum_attempts=2
                ),
            )
    assert isinstance(err.value.cause, ApplicationError)
    assert err.value.cause.message == "attempt 2 failed"
    assert err.value.cause.type == "Flaky"


async def test_non_retryable_failure_with_details(client, task_queue):
    async with _worker(client, task_queue, always_fails):
        handle = await client.start_activity(
            always_fails, id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
        )
        with pytest.raises(ActivityFailureError) as err:
            await handle.result()
        desc = await handle.describe(include_outcome=True)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError) and cause.non_retryable
    assert cause.details == ({"why": "always"},)
    assert desc.status == ActivityExecutionStatus.FAILED and desc.attempt == 1
    assert desc.has_outcome_failure() and not desc.has_result()
    assert isinstance(await desc.outcome_failure(), ApplicationError)


async def test_start_to_close_timeout_retries_then_times_out(client, task_queue):
    async with _worker(client, task_queue, sleeper):
        handle = await client.start_activity(
            sleeper,
            30,
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=timedelta(milliseconds=300),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=20), maximum_attempts=2
            ),
        )
        with pytest.raises(ActivityFailureError) as err:
            await handle.result()
        desc = await handle.describe()
    assert isinstance(err.value.cause, TimeoutError)
    assert err.value.cause.type == TimeoutType.START_TO_CLOSE
    assert desc.status == ActivityExecutionStatus.TIMED_OUT and desc.attempt == 2


async def test_schedule_to_start_timeout_without_worker(client, task_queue):
    handle = await client.start_activity(
        "nobody_runs_this",
        id=_id(),
        task_queue=task_queue,
        start_to_close_timeout=MINUTE,
        schedule_to_start_timeout=timedelta(milliseconds=200),
    )
    # No worker polls the activity's queue; a worker elsewhere keeps time (sweeps).
    async with _worker(client, f"{task_queue}-elsewhere", describe_self):
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(handle.result(), 15)
    assert isinstance(err.value.cause, TimeoutError)
    assert err.value.cause.type == TimeoutType.SCHEDULE_TO_START


async def test_schedule_to_close_timeout(client, task_queue):
    async with _worker(client, task_queue, sleeper):
        handle = await client.start_activity(
            sleeper,
            30,
            id=_id(),
            task_queue=task_queue,
            schedule_to_close_timeout=timedelta(milliseconds=700),
        )
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(handle.result(), 15)
        desc = await handle.describe()
    assert isinstance(err.value.cause, TimeoutError)
    assert err.value.cause.type == TimeoutType.SCHEDULE_TO_CLOSE
    assert desc.status == ActivityExecutionStatus.TIMED_OUT
    # Without its own start-to-close timeout, an attempt may take the whole time.
    assert desc.start_to_close_timeout == timedelta(milliseconds=700)


async def test_retries_stop_before_schedule_to_close(client, task_queue):
    async with _worker(client, task_queue, flaky):
        handle = await client.start_activity(
            flaky,
            1000,
            id=_id(),
            task_queue=task_queue,
            # Attempts at 0, 0.6 and 1.2 s; the next would start at 1.8 s, past the
            # deadline (the last attempt has 0.3 s to fail before it: load-proof).
            schedule_to_close_timeout=timedelta(milliseconds=1500),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=600), backoff_coefficient=1
            ),
        )
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(handle.result(), 15)
        desc = await handle.describe()
    # A retry that could not start in time is not made: the last failure is the outcome.
    assert isinstance(err.value.cause, ApplicationError)
    assert desc.status == ActivityExecutionStatus.FAILED and 2 <= desc.attempt <= 3


async def test_heartbeat_details_reach_the_retry(client, task_queue):
    async with _worker(client, task_queue, heartbeater):
        handle = await client.start_activity(
            heartbeater,
            5,
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=FAST_RETRY,
        )
        assert await handle.result() == [2, 3]
        desc = await handle.describe(include_heartbeat_details=True)
    # The last heartbeat recorded (throttled ones before completion may be dropped).
    assert (await desc.heartbeat_details())[0] in (4, 5)
    assert desc.total_heartbeat_count >= 2
    assert desc.last_heartbeat_time is not None


async def test_heartbeat_timeout(client, task_queue):
    async with _worker(client, task_queue, sleeper):
        handle = await client.start_activity(
            sleeper,
            30,
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            heartbeat_timeout=timedelta(milliseconds=300),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(handle.result(), 15)
    assert isinstance(err.value.cause, TimeoutError)
    assert err.value.cause.type == TimeoutType.HEARTBEAT


async def test_cancel_running_activity(client, task_queue):
    async with _worker(client, task_queue, wait_for_cancel):
        handle = await client.start_activity(
            wait_for_cancel,
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            heartbeat_timeout=timedelta(seconds=5),
        )
        await _until(handle, lambda d: d.run_state == PendingActivityState.STARTED)
        await handle.cancel(reason="enough")
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(handle.result(), 15)
        desc = await handle.describe()
    assert isinstance(err.value.cause, CancelledError)
    assert desc.status == ActivityExecutionStatus.CANCELED
    assert desc.canceled_reason == "enough"


async def test_cancel_scheduled_activity_is_immediate(client, task_queue):
    handle = await client.start_activity(
        "nobody_runs_this", id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
    )
    assert (await handle.describe()).run_state == PendingActivityState.SCHEDULED
    await handle.cancel()
    with pytest.raises(ActivityFailureError) as err:
        await handle.result()
    assert isinstance(err.value.cause, CancelledError)
    # A closed activity cannot be cancelled again.
    with pytest.raises(RPCError) as rpc:
        await handle.cancel()
    assert rpc.value.status == RPCStatusCode.FAILED_PRECONDITION


async def test_terminate(client, task_queue):
    async with _worker(client, task_queue, wait_for_cancel):
        handle = await client.start_activity(
            wait_for_cancel, id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
        )
        await _until(handle, lambda d: d.run_state == PendingActivityState.STARTED)
        await handle.terminate(reason="stop now")
        with pytest.raises(ActivityFailureError) as err:
            await handle.result()
        desc = await handle.describe()
    assert isinstance(err.value.cause, TerminatedError)
    assert err.value.cause.message == "stop now"
    assert desc.status == ActivityExecutionStatus.TERMINATED
    assert desc.close_time is not None and desc.execution_duration is not None


async def test_describe_running_with_input_and_options(client, task_queue):
    handle = await client.start_activity(
        "nobody_runs_this",
        args=["a", 2],
        id=_id(),
        task_queue=task_queue,
        start_to_close_timeout=MINUTE,
        schedule_to_close_timeout=timedelta(minutes=5),
        heartbeat_timeout=timedelta(seconds=7),
        retry_policy=RetryPolicy(maximum_attempts=4),
    )
    desc = await handle.describe(include_input=True)
    assert desc.activity_id == handle.id and desc.activity_run_id == handle.run_id
    assert desc.activity_type == "nobody_runs_this"
    assert desc.status == ActivityExecutionStatus.RUNNING
    assert desc.run_state == PendingActivityState.SCHEDULED
    assert desc.task_queue == task_queue
    assert desc.start_to_close_timeout == MINUTE
    assert desc.schedule_to_close_timeout == timedelta(minutes=5)
    assert desc.heartbeat_timeout == timedelta(seconds=7)
    assert desc.retry_policy.maximum_attempts == 4
    assert desc.expiration_time == desc.schedule_time + timedelta(minutes=5)
    assert await desc.input() == ["a", 2]
    assert not desc.has_result() and not desc.has_heartbeat_details()
    without = await handle.describe()
    assert not without.has_input() and await without.input() is None
    await handle.terminate()


async def test_start_delay(client, task_queue):
    async with _worker(client, task_queue, describe_self):
        handle = await client.start_activity(
            describe_self,
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            start_delay=timedelta(milliseconds=600),
        )
        desc = await handle.describe()
        assert desc.start_delay == timedelta(milliseconds=600)
        assert desc.execution_time == desc.schedule_time + timedelta(milliseconds=600)
        assert desc.status == ActivityExecutionStatus.RUNNING
        await asyncio.wait_for(handle.result(), 15)
        done = await handle.describe()
    assert done.last_started_time >= desc.execution_time


async def test_update_start_delay_moves_the_first_attempt(client, task_queue):
    async with _worker(client, task_queue, describe_self):
        handle = await client.start_activity(
            describe_self,
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            start_delay=timedelta(hours=1),
        )
        await asyncio.sleep(0.3)
        assert (await handle.describe()).run_state == PendingActivityState.SCHEDULED
        options = await handle.update_options([ActivityOptionsKeys.start_delay.value_unset()])
        assert options.start_delay is None
        assert (await asyncio.wait_for(handle.result(), 15))["attempt"] == 1
        desc = await handle.describe()
    assert desc.execution_time == desc.schedule_time


async def test_pause_unpause_and_update_options(client, task_queue):
    handle = await client.start_activity(
        describe_self, id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
    )
    await handle.pause(reason="hold")
    desc = await handle.describe()
    assert desc.status == ActivityExecutionStatus.PAUSED
    assert desc.run_state == PendingActivityState.PAUSED
    other_queue = f"{task_queue}-other"
    options = await handle.update_options(
        [
            ActivityOptionsKeys.task_queue.value_set(other_queue),
            ActivityOptionsKeys.start_to_close_timeout.value_set(timedelta(seconds=30)),
            ActivityOptionsKeys.heartbeat_timeout.value_set(timedelta(seconds=9)),
        ]
    )
    assert options.task_queue == other_queue
    assert options.start_to_close_timeout == timedelta(seconds=30)
    assert options.heartbeat_timeout == timedelta(seconds=9)
    cleared = await handle.update_options([ActivityOptionsKeys.heartbeat_timeout.value_unset()])
    assert cleared.heartbeat_timeout is None
    async with _worker(client, other_queue, describe_self):
        # Paused: a worker of the new queue does not get it.
        await asyncio.sleep(0.5)
        assert (await handle.describe()).status == ActivityExecutionStatus.PAUSED
        await handle.unpause()
        result = await asyncio.wait_for(handle.result(), 15)
    assert result["activity_run_id"] == handle.run_id
    desc = await handle.describe()
    assert desc.task_queue == other_queue
    assert desc.status == ActivityExecutionStatus.COMPLETED


async def test_restore_original_options(client, task_queue):
    handle = await client.start_activity(
        "nobody_runs_this",
        id=_id(),
        task_queue=task_queue,
        start_to_close_timeout=MINUTE,
        retry_policy=RetryPolicy(maximum_attempts=3),
    )
    changed = await handle.update_options(
        [
            ActivityOptionsKeys.retry_policy.value_set(RetryPolicy(maximum_attempts=9)),
            ActivityOptionsKeys.schedule_to_start_timeout.value_set(timedelta(hours=1)),
        ]
    )
    assert changed.retry_policy.maximum_attempts == 9
    assert changed.schedule_to_start_timeout == timedelta(hours=1)
    restored = await handle.restore_original_options()
    assert restored.retry_policy.maximum_attempts == 3
    assert restored.schedule_to_start_timeout is None
    assert restored.task_queue == task_queue
    with pytest.raises(ValueError):
        await handle.update_options([])
    with pytest.raises(ValueError):
        await handle.update_options(
            [
                ActivityOptionsKeys.start_delay.value_set(timedelta(1)),
                ActivityOptionsKeys.start_delay.value_unset(),
            ]
        )
    await handle.terminate()


async def test_id_conflict_and_reuse_policies(client, task_queue):
    activity_id = _id()
    first = await client.start_activity(
        "nobody_runs_this", id=activity_id, task_queue=task_queue, start_to_close_timeout=MINUTE
    )
    with pytest.raises(ActivityAlreadyStartedError) as err:
        await client.start_activity(
            "nobody_runs_this", id=activity_id, task_queue=task_queue, start_to_close_timeout=MINUTE
        )
    assert err.value.run_id == first.run_id and err.value.activity_id == activity_id
    existing = await client.start_activity(
        "nobody_runs_this",
        id=activity_id,
        task_queue=task_queue,
        start_to_close_timeout=MINUTE,
        id_conflict_policy=ActivityIDConflictPolicy.USE_EXISTING,
    )
    assert existing.run_id == first.run_id
    await first.terminate()
    # Terminated counts as failed: ALLOW_DUPLICATE_FAILED_ONLY starts a new run.
    second = await client.start_activity(
        "nobody_runs_this",
        id=activity_id,
        task_queue=task_queue,
        start_to_close_timeout=MINUTE,
        id_reuse_policy=ActivityIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )
    assert second.run_id != first.run_id
    await second.terminate()
    with pytest.raises(ActivityAlreadyStartedError):
        await client.start_activity(
            "nobody_runs_this",
            id=activity_id,
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            id_reuse_policy=ActivityIDReusePolicy.REJECT_DUPLICATE,
        )
    # The latest run is what an id-only handle addresses.
    assert (
        await client.get_activity_handle(activity_id).describe()
    ).activity_run_id == second.run_id


async def test_completed_id_failed_only_policy_refuses(client, task_queue):
    async with _worker(client, task_queue, describe_self):
        activity_id = _id()
        await client.execute_activity(
            describe_self, id=activity_id, task_queue=task_queue, start_to_close_timeout=MINUTE
        )
        with pytest.raises(ActivityAlreadyStartedError):
            await client.start_activity(
                describe_self,
                id=activity_id,
                task_queue=task_queue,
                start_to_close_timeout=MINUTE,
                id_reuse_policy=ActivityIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        # The default policy allows a new run of a closed id.
        again = await client.execute_activity(
            describe_self, id=activity_id, task_queue=task_queue, start_to_close_timeout=MINUTE
        )
    assert again["activity_id"] == activity_id


async def test_list_and_count(client, task_queue):
    kind = f"kind_{uuid.uuid4().hex[:8]}"
    ids = [_id() for _ in range(3)]
    handles = [
        await client.start_activity(
            kind, id=i, task_queue=task_queue, start_to_close_timeout=MINUTE
        )
        for i in ids
    ]
    await handles[0].terminate()
    listed = [a async for a in client.list_activities(f"ActivityType = '{kind}'")]
    assert sorted(a.activity_id for a in listed) == sorted(ids)
    assert {a.task_queue for a in listed} == {task_queue}
    running = [
        a.activity_id
        async for a in client.list_activities(
            f"ActivityType = '{kind}' AND ExecutionStatus = 'Running'", page_size=1
        )
    ]
    assert sorted(running) == sorted(ids[1:])
    limited = [a async for a in client.list_activities(f"ActivityType = '{kind}'", limit=2)]
    assert len(limited) == 2
    by_id = [a async for a in client.list_activities(f"ActivityId = '{ids[0]}'")]
    assert [a.status for a in by_id] == [ActivityExecutionStatus.TERMINATED]
    count = await client.count_activities(f"ActivityType = '{kind}'")
    assert count.count == 3 and count.groups == []
    grouped = await client.count_activities(f"ActivityType = '{kind}' GROUP BY ExecutionStatus")
    assert {tuple(g.group_values): g.count for g in grouped.groups} == {
        ("Running",): 2,
        ("Terminated",): 1,
    }
    with pytest.raises(RPCError) as err:
        await client.count_activities("ActivityType = ")
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    for handle in handles[1:]:
        await handle.terminate()


async def test_search_attributes_filter_and_order(client, task_queue):
    from hotmesh_temporal.common import (
        SearchAttributeKey,
        SearchAttributePair,
        TypedSearchAttributes,
    )

    tenant = SearchAttributeKey.for_keyword("CustomKeywordField")
    size = SearchAttributeKey.for_int("CustomIntField")
    mark = uuid.uuid4().hex
    handles = []
    for n in (3, 1, 2):
        handles.append(
            await client.start_activity(
                "nobody_runs_this",
                id=_id(),
                task_queue=task_queue,
                start_to_close_timeout=MINUTE,
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(tenant, mark), SearchAttributePair(size, n)]
                ),
            )
        )
    ordered = [
        a.typed_search_attributes.get(size)
        async for a in client.list_activities(
            f"CustomKeywordField = '{mark}' AND CustomIntField >= 2 ORDER BY CustomIntField"
        )
    ]
    assert ordered == [2, 3]
    desc = await handles[0].describe()
    assert desc.typed_search_attributes.get(tenant) == mark
    for handle in handles:
        await handle.terminate()


async def test_unknown_activity_id(client):
    handle = client.get_activity_handle(f"missing-{uuid.uuid4()}")
    for call in (handle.result, handle.describe, handle.cancel, handle.terminate, handle.pause):
        with pytest.raises(RPCError) as err:
            await call()
        assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_bad_start_arguments(client, task_queue):
    with pytest.raises(ValueError, match="start_to_close_timeout or schedule_to_close_timeout"):
        await client.start_activity("x", id=_id(), task_queue=task_queue)
    with pytest.raises(ValueError, match="non-negative"):
        await client.start_activity(
            "x",
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            start_delay=timedelta(seconds=-1),
        )
    assert (await client.count_activities("ActivityType = 'x'")).count == 0


async def test_workflow_activities_are_not_listed(client, task_queue):
    # A standalone activity's task is not a workflow's: the workflow list stays empty.
    handle = await client.start_activity(
        "nobody_runs_this", id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
    )
    assert [w async for w in client.list_workflows(f"TaskQueue = '{task_queue}'")] == []
    await handle.terminate()


@activity.defn
async def fails_when_cancelled() -> str:
    """Swallows cancellation and fails instead: a failure after a cancel request
    is final (no retry)."""
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        raise ApplicationError("gave up", type="GaveUp") from None


async def test_failure_after_cancel_request_is_not_retried(client, task_queue):
    async with _worker(client, task_queue, fails_when_cancelled):
        handle = await client.start_activity(
            fails_when_cancelled,
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=FAST_RETRY,
        )
        await _until(handle, lambda d: d.run_state == PendingActivityState.STARTED)
        await handle.cancel()
        assert (await handle.describe()).run_state in (PendingActivityState.CANCEL_REQUESTED, None)
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(handle.result(), 15)
        desc = await handle.describe()
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "GaveUp"
    assert desc.status == ActivityExecutionStatus.FAILED and desc.attempt == 1


GATE: dict[str, asyncio.Event] = {}


@activity.defn
async def fail_once_at_gate() -> int:
    info = activity.info()
    if info.attempt == 1:
        await GATE[info.activity_id].wait()
        raise ApplicationError("first attempt fails")
    return info.attempt


async def test_pause_holds_back_the_retry_of_a_running_attempt(client, task_queue):
    activity_id = _id()
    GATE[activity_id] = asyncio.Event()
    async with _worker(client, task_queue, fail_once_at_gate):
        handle = await client.start_activity(
            fail_once_at_gate,
            id=activity_id,
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
            retry_policy=FAST_RETRY,
        )
        await _until(handle, lambda d: d.run_state == PendingActivityState.STARTED)
        await handle.pause()
        assert (await handle.describe()).run_state == PendingActivityState.PAUSE_REQUESTED
        GATE[activity_id].set()
        paused = await _until(handle, lambda d: d.run_state == PendingActivityState.PAUSED)
        assert paused.status == ActivityExecutionStatus.PAUSED and paused.attempt == 2
        await asyncio.sleep(0.5)  # far beyond the retry interval: still held back
        assert (await handle.describe()).status == ActivityExecutionStatus.PAUSED
        await handle.unpause(jitter=timedelta(milliseconds=100))
        assert await asyncio.wait_for(handle.result(), 15) == 2


@activity.defn
async def completes_elsewhere() -> str:
    activity.raise_complete_async()


async def test_async_completion_by_activity_id(client, task_queue):
    async with _worker(client, task_queue, completes_elsewhere):
        handle = await client.start_activity(
            completes_elsewhere, id=_id(), task_queue=task_queue, start_to_close_timeout=MINUTE
        )
        await _until(handle, lambda d: d.run_state == PendingActivityState.STARTED)
        await asyncio.sleep(0.2)
        await client.get_async_activity_handle(activity_id=handle.id).heartbeat("half")
        by_run = client.get_async_activity_handle(activity_id=handle.id, run_id=handle.run_id)
        await by_run.complete("done elsewhere")
        assert await handle.result() == "done elsewhere"
        with pytest.raises(RPCError) as err:
            await by_run.complete("twice")
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_client_interceptors_see_activity_calls(client, task_queue):
    from hotmesh_temporal.client import Client, Interceptor, OutboundInterceptor

    calls: list[str] = []

    class Outbound(OutboundInterceptor):
        async def start_activity(self, input):
            calls.append("start_activity")
            input.args = [Greeting(input.args[0].name.upper(), 0)]
            return await super().start_activity(input)

        async def describe_activity(self, input):
            calls.append("describe_activity")
            return await super().describe_activity(input)

        async def count_activities(self, input):
            calls.append("count_activities")
            return await super().count_activities(input)

    class Recorder(Interceptor):
        def intercept_client(self, next):
            return Outbound(next)

    chained = Client(**{**client.config(), "interceptors": [Recorder()]})
    async with _worker(client, task_queue, greet):
        handle = await chained.start_activity(
            greet,
            Greeting("zed", 0),
            id=_id(),
            task_queue=task_queue,
            start_to_close_timeout=MINUTE,
        )
        assert await handle.result() == Greeting("hello ZED", 1)
        await handle.describe()
        await chained.count_activities(f"ActivityId = '{handle.id}'")
    assert calls == ["start_activity", "describe_activity", "count_activities"]


async def test_time_skipping_environment_skips_a_start_delay(pg_dsn, monkeypatch):
    from hotmesh_temporal.testing import WorkflowEnvironment

    monkeypatch.setenv("HOTMESH_DSN", pg_dsn)
    async with await WorkflowEnvironment.start_time_skipping() as env:
        before = await env.get_current_time()
        queue = f"tq-{uuid.uuid4()}"
        async with _worker(env.client, queue, describe_self):
            result = await asyncio.wait_for(
                env.client.execute_activity(
                    describe_self,
                    id=_id(),
                    task_queue=queue,
                    start_to_close_timeout=MINUTE,
                    start_delay=timedelta(hours=3),
                ),
                30,
            )
        assert result["in_workflow"] is False
        assert await env.get_current_time() - before >= timedelta(hours=3)


async def _until(handle, predicate, timeout: float = 10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        desc = await handle.describe()
        if predicate(desc):
            return desc
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached: {desc}")
        await asyncio.sleep(0.05)
