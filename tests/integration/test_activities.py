"""Activity semantics a Temporal user relies on, proven on the real engine (Postgres).

Each test runs a workflow that calls an activity and asserts what temporalio would give:
executors, ``activity.info()``, retries and their backoff, failure chains, the four
timeout types, heartbeat details across attempts, cancellation, worker shutdown and
the failure of activities that cannot run or cannot return.

Activities record what they observe in module-level dicts keyed by workflow id (tests
run one after another on one event loop; the process pool test forks, so it returns
what it sees instead).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import threading
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    RetryState,
    TimeoutError,
)
from hotmesh_temporal.worker import SharedStateManager, Worker

# What activities saw, by workflow id.
SEEN: dict[str, list[Any]] = defaultdict(list)
STARTED: dict[str, asyncio.Event] = {}


def _wid() -> str:
    return f"wf-{uuid.uuid4()}"


def _note(*values: Any) -> None:
    SEEN[activity.info().workflow_id].append(values if len(values) > 1 else values[0])


# ------------------------------------------------------------------------ activities


@activity.defn
async def echo_async(value: str) -> str:
    # Async activities run on the worker's event loop.
    _note("loop", asyncio.get_running_loop() is not None, threading.current_thread().name)
    return f"async:{value}"


@activity.defn
def echo_thread(value: str) -> str:
    _note(
        "thread",
        threading.current_thread() is threading.main_thread(),
        activity.info().activity_type,
    )
    return f"thread:{value}"


@activity.defn
def echo_process(value: str) -> list:
    # Runs in a child process: it can still read its info.
    info = activity.info()
    return [f"process:{value}", os.getpid(), info.activity_type, info.workflow_id, info.attempt]


@activity.defn
async def capture_info() -> str:
    info = activity.info()
    SEEN[info.workflow_id].append(info)
    return "ok"


@activity.defn
async def flaky(fail_times: int) -> str:
    info = activity.info()
    _note((info.attempt, time.monotonic()))
    if info.attempt <= fail_times:
        raise RuntimeError(f"attempt {info.attempt} failed")
    return f"succeeded on attempt {info.attempt}"


@activity.defn
async def always_fails() -> None:
    _note(activity.info().attempt)
    raise ValueError("bad value")


class MyNonRetryableError(Exception):
    pass


@activity.defn
async def raises_custom() -> None:
    _note(activity.info().attempt)
    raise MyNonRetryableError("do not retry me")


@activity.defn
async def raises_non_retryable_app_error() -> None:
    _note(activity.info().attempt)
    raise ApplicationError("fatal", type="Fatal", non_retryable=True)


@activity.defn
async def raises_with_next_delay() -> str:
    info = activity.info()
    _note((info.attempt, time.monotonic()))
    if info.attempt == 1:
        raise ApplicationError("later", next_retry_delay=timedelta(seconds=0.6))
    return "done"


@activity.defn
async def raises_with_details() -> None:
    raise ApplicationError("with details", {"k": 1}, "two", type="MyType", non_retryable=True)


@activity.defn
async def sleeps(seconds: float) -> str:
    _note(activity.info().attempt)
    await asyncio.sleep(seconds)
    return "slept"


@activity.defn
async def heartbeats_then_stops() -> str:
    activity.heartbeat("hb-1")
    await asyncio.sleep(4)
    return "should have timed out"


@activity.defn
async def heartbeat_then_fail() -> str:
    info = activity.info()
    _note((info.attempt, list(info.heartbeat_details)))
    if info.attempt == 1:
        activity.heartbeat("progress-5")
        raise RuntimeError("crash after progress")
    return "resumed"


@activity.defn
async def cancellable_async() -> str:
    wid = activity.info().workflow_id
    STARTED.setdefault(wid, asyncio.Event()).set()
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        SEEN[wid].append(
            ("async-cancelled", activity.is_cancelled(), activity.cancellation_details())
        )
        raise


@activity.defn
def cancellable_thread() -> str:
    wid = activity.info().workflow_id
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline:
            activity.heartbeat()
            if activity.is_cancelled():
                SEEN[wid].append(("is_cancelled", True))
            time.sleep(0.05)
    except CancelledError:
        SEEN[wid].append(("thread-cancelled", activity.is_cancelled()))
        raise
    return "never cancelled"


@activity.defn
async def waits_for_shutdown() -> str:
    wid = activity.info().workflow_id
    SEEN[wid].append(("before", activity.is_worker_shutdown()))
    STARTED.setdefault(wid, asyncio.Event()).set()
    await activity.wait_for_worker_shutdown()
    SEEN[wid].append(("after", activity.is_worker_shutdown()))
    return "finished after shutdown"


@activity.defn
def waits_for_shutdown_sync() -> str:
    wid = activity.info().workflow_id
    SEEN[wid].append(("before", activity.is_worker_shutdown()))
    activity.wait_for_worker_shutdown_sync(10)
    SEEN[wid].append(("after", activity.is_worker_shutdown()))
    return "sync finished after shutdown"


@activity.defn
async def returns_unserializable() -> Any:
    _note(activity.info().attempt)
    return object()


@activity.defn
async def ignores_shutdown() -> str:
    info = activity.info()
    STARTED.setdefault(info.workflow_id, asyncio.Event()).set()
    if info.attempt == 1:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            SEEN[info.workflow_id].append(("cancelled", activity.cancellation_details()))
            raise
    SEEN[info.workflow_id].append(("attempt", info.attempt))
    return f"done on attempt {info.attempt}"


@activity.defn
def thread_heartbeat_then_fail() -> str:
    info = activity.info()
    SEEN[info.workflow_id].append((info.attempt, list(info.heartbeat_details)))
    if info.attempt == 1:
        activity.heartbeat("thread-progress", 7)
        raise RuntimeError("thread crash")
    return "thread resumed"


@activity.defn
async def heartbeat_then_hang() -> str:
    info = activity.info()
    SEEN[info.workflow_id].append((info.attempt, list(info.heartbeat_details)))
    if info.attempt == 1:
        activity.heartbeat("hb-before-hang")
        await asyncio.sleep(5)
    return "second attempt"


@activity.defn
async def keeps_heartbeating(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        activity.heartbeat()
        await asyncio.sleep(0.05)
    return "alive"


@workflow.defn
class CancelledWhileActivityRuns:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            cancellable_async,
            start_to_close_timeout=timedelta(seconds=20),
            heartbeat_timeout=timedelta(seconds=0.5),
        )


@activity.defn
async def fails_then_hangs() -> str:
    if activity.info().attempt == 1:
        raise RuntimeError("first attempt broke")
    await asyncio.sleep(3)
    return "too late"


# ------------------------------------------------------------------------- workflows


def _describe(err: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {
        "class": type(err).__name__,
        "message": getattr(err, "message", str(err)),
    }
    if isinstance(err, ActivityError):
        out.update(
            retry_state=err.retry_state.name if err.retry_state else None,
            activity_type=err.activity_type,
            activity_id=err.activity_id,
        )
    if isinstance(err, ApplicationError):
        out.update(type=err.type, details=list(err.details), non_retryable=err.non_retryable)
    if isinstance(err, TimeoutError):
        out.update(
            type=err.type.name if err.type else None,
            last_heartbeat_details=list(err.last_heartbeat_details),
        )
    cause = err.__cause__
    if cause is not None:
        out["cause"] = _describe(cause)
    return out


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


@workflow.defn
class RunActivity:
    """Runs one activity with the options given; returns its result or how it failed."""

    @workflow.run
    async def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        retry = spec.get("retry")
        try:
            result = await workflow.execute_activity(
                spec["activity"],
                args=spec.get("args", []),
                task_queue=spec.get("task_queue"),
                start_to_close_timeout=_seconds(spec.get("start_to_close", 10)),
                schedule_to_close_timeout=_seconds(spec.get("schedule_to_close")),
                schedule_to_start_timeout=_seconds(spec.get("schedule_to_start")),
                heartbeat_timeout=_seconds(spec.get("heartbeat")),
                retry_policy=None
                if retry is None
                else RetryPolicy(
                    initial_interval=timedelta(seconds=retry.get("initial", 0.05)),
                    backoff_coefficient=retry.get("coefficient", 2.0),
                    maximum_attempts=retry.get("max_attempts", 0),
                    non_retryable_error_types=retry.get("non_retryable"),
                ),
            )
        except ActivityError as err:
            return {"error": _describe(err)}
        return {"ok": result}


@workflow.defn
class RaiseActivityFailure:
    """Lets the ActivityError fail the workflow (the client sees the whole chain)."""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            always_fails,
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=0.05), maximum_attempts=2),
        )


@workflow.defn
class CancelActivity:
    """Starts an activity, cancels it once it runs, reports what the workflow got."""

    @workflow.run
    async def run(self, name: str, cancellation_type: int) -> dict[str, Any]:
        handle = workflow.start_activity(
            name,
            start_to_close_timeout=timedelta(seconds=20),
            heartbeat_timeout=timedelta(seconds=0.5),
            cancellation_type=workflow.ActivityCancellationType(cancellation_type),
        )
        await workflow.sleep(timedelta(seconds=0.5))
        handle.cancel()
        try:
            await handle
        except ActivityError as err:
            return {"error": _describe(err)}
        return {"ok": "activity was not cancelled"}


async def _history(client, workflow_id: str) -> list[tuple]:
    """(event id, type, attributes) of the events of a workflow id's runs."""
    store = (await client._engine()).store
    return [
        tuple(r)
        for r in await store.pool.fetch(
            f'SELECT h.event_id, h.event_type, h.attributes FROM "{store.schema}".history_events h '
            f'JOIN "{store.schema}".executions e USING (run_id) WHERE e.workflow_id = $1 '
            "ORDER BY h.event_id",
            workflow_id,
        )
    ]


def _spec(activity_name: str, **kw: Any) -> dict[str, Any]:
    return {"activity": activity_name, **kw}


async def _run(
    client, task_queue: str, spec: dict[str, Any], wid: str | None = None
) -> dict[str, Any]:
    return await client.execute_workflow(
        RunActivity.run,
        spec,
        id=wid or _wid(),
        task_queue=task_queue,
        execution_timeout=timedelta(seconds=30),
    )


# ------------------------------------------------------------------------- executors


async def test_async_activity_runs_on_the_event_loop(client, task_queue):
    wid = _wid()
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[echo_async]
    ):
        out = await _run(client, task_queue, _spec("echo_async", args=["a"]), wid)
    assert out == {"ok": "async:a"}
    assert SEEN[wid] == [("loop", True, threading.main_thread().name)]


async def test_sync_activity_in_thread_pool(client, task_queue):
    wid = _wid()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[RunActivity],
            activities=[echo_thread],
            activity_executor=pool,
        ):
            out = await _run(client, task_queue, _spec("echo_thread", args=["t"]), wid)
    assert out == {"ok": "thread:t"}
    assert SEEN[wid] == [("thread", False, "echo_thread")]


async def test_sync_activity_in_process_pool(client, task_queue):
    wid = _wid()
    with concurrent.futures.ProcessPoolExecutor(1) as pool, multiprocessing.Manager() as mgr:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[RunActivity],
            activities=[echo_process],
            activity_executor=pool,
            shared_state_manager=SharedStateManager.create_from_multiprocessing(mgr),
        ):
            out = await _run(client, task_queue, _spec("echo_process", args=["p"]), wid)
    value, pid, activity_type, workflow_id, attempt = out["ok"]
    assert value == "process:p"
    assert pid != os.getpid()
    assert (activity_type, workflow_id, attempt) == ("echo_process", wid, 1)


async def test_sync_activity_without_executor_is_rejected(client, task_queue):
    with pytest.raises(ValueError, match="activity_executor"):
        Worker(client, task_queue=task_queue, activities=[echo_thread])


# ------------------------------------------------------------------------------ info


async def test_activity_info(client, task_queue):
    wid = _wid()
    before = datetime.now(timezone.utc)
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[capture_info]
    ):
        handle = await client.start_workflow(
            RunActivity.run,
            _spec(
                "capture_info",
                start_to_close=7,
                schedule_to_close=9,
                heartbeat=3,
                retry={
                    "initial": 0.5,
                    "coefficient": 3.0,
                    "max_attempts": 4,
                    "non_retryable": ["Nope"],
                },
            ),
            id=wid,
            task_queue=task_queue,
        )
        assert await handle.result() == {"ok": "ok"}
    after = datetime.now(timezone.utc)
    (info,) = SEEN[wid]
    assert info.activity_id == "1"
    assert info.activity_type == "capture_info"
    assert info.attempt == 1
    assert info.workflow_id == wid
    assert info.workflow_run_id == handle.result_run_id
    assert info.workflow_type == "RunActivity"
    assert info.workflow_namespace == client.namespace == info.namespace
    assert info.task_queue == task_queue
    assert info.is_local is False
    assert info.heartbeat_details == []
    slack = timedelta(seconds=2)  # database clock vs. this process's clock
    assert before - slack <= info.scheduled_time <= info.started_time <= after + slack
    assert info.current_attempt_scheduled_time == info.scheduled_time
    assert info.scheduled_time.tzinfo is not None
    assert info.start_to_close_timeout == timedelta(seconds=7)
    assert info.schedule_to_close_timeout == timedelta(seconds=9)
    assert info.heartbeat_timeout == timedelta(seconds=3)
    assert info.retry_policy == RetryPolicy(
        initial_interval=timedelta(seconds=0.5),
        backoff_coefficient=3.0,
        maximum_interval=timedelta(seconds=50),
        maximum_attempts=4,
        non_retryable_error_types=["Nope"],
    )
    assert isinstance(info.task_token, bytes) and info.task_token


# --------------------------------------------------------------------------- retries


async def test_retries_until_success_with_backoff(client, task_queue):
    wid = _wid()
    async with Worker(client, task_queue=task_queue, workflows=[RunActivity], activities=[flaky]):
        out = await _run(
            client,
            task_queue,
            _spec("flaky", args=[2], retry={"initial": 0.2, "coefficient": 2.0}),
            wid,
        )
    assert out == {"ok": "succeeded on attempt 3"}
    attempts = [a for a, _ in SEEN[wid]]
    assert attempts == [1, 2, 3]
    times = [t for _, t in SEEN[wid]]
    gap1, gap2 = times[1] - times[0], times[2] - times[1]
    assert 0.18 <= gap1 < 1.5, gap1  # initial_interval
    assert 0.38 <= gap2 < 1.5, gap2  # initial_interval * coefficient
    assert gap2 > gap1


async def test_maximum_attempts_fails_workflow_with_chain(client, task_queue):
    wid = _wid()
    async with Worker(
        client, task_queue=task_queue, workflows=[RaiseActivityFailure], activities=[always_fails]
    ):
        with pytest.raises(WorkflowFailureError) as caught:
            await client.execute_workflow(RaiseActivityFailure.run, id=wid, task_queue=task_queue)
    assert SEEN[wid] == [1, 2]
    err = caught.value.cause
    assert isinstance(err, ActivityError)
    assert err.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
    assert err.activity_type == "always_fails"
    assert err.activity_id == "1"
    cause = err.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "ValueError"
    assert cause.message == "bad value"
    assert not cause.non_retryable
    # History: one Scheduled, then the last attempt's Started (attempt 2, carrying the
    # previous attempt's failure) and the Failed event, as a Temporal server records them.
    events = await _history(client, wid)
    kinds = [k for _, k, _ in events if k.startswith("ActivityTask")]
    assert kinds == ["ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskFailed"]
    ids = {k: (i, a) for i, k, a in events}
    assert err.scheduled_event_id == ids["ActivityTaskScheduled"][0]
    assert err.started_event_id == ids["ActivityTaskStarted"][0]
    assert err.identity
    started = ids["ActivityTaskStarted"][1]
    assert started["attempt"] == 2
    assert started["lastFailure"]["message"] == "bad value"
    failed = ids["ActivityTaskFailed"][1]
    assert failed["retryState"] == "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"
    assert failed["failure"]["applicationFailureInfo"]["type"] == "ValueError"
    assert events[-1][1] == "WorkflowExecutionFailed"


async def test_maximum_attempts_seen_in_workflow(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[always_fails]
    ):
        out = await _run(client, task_queue, _spec("always_fails", retry={"max_attempts": 3}))
    err = out["error"]
    assert err["class"] == "ActivityError"
    assert err["retry_state"] == "MAXIMUM_ATTEMPTS_REACHED"
    assert err["cause"]["class"] == "ApplicationError"
    assert err["cause"]["type"] == "ValueError"
    assert err["cause"]["message"] == "bad value"


async def test_non_retryable_error_types_stop_retries(client, task_queue):
    wid = _wid()
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[raises_custom]
    ):
        out = await _run(
            client,
            task_queue,
            _spec("raises_custom", retry={"non_retryable": ["MyNonRetryableError"]}),
            wid,
        )
    assert SEEN[wid] == [1]
    assert out["error"]["retry_state"] == "NON_RETRYABLE_FAILURE"
    assert out["error"]["cause"]["type"] == "MyNonRetryableError"
    assert out["error"]["cause"]["message"] == "do not retry me"


async def test_non_retryable_application_error_stops_retries(client, task_queue):
    wid = _wid()
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[RunActivity],
        activities=[raises_non_retryable_app_error],
    ):
        out = await _run(client, task_queue, _spec("raises_non_retryable_app_error", retry={}), wid)
    assert SEEN[wid] == [1]
    assert out["error"]["retry_state"] == "NON_RETRYABLE_FAILURE"
    assert out["error"]["cause"]["type"] == "Fatal"
    assert out["error"]["cause"]["non_retryable"] is True


async def test_next_retry_delay_is_honoured(client, task_queue):
    wid = _wid()
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[raises_with_next_delay]
    ):
        out = await _run(
            client, task_queue, _spec("raises_with_next_delay", retry={"initial": 0.05}), wid
        )
    assert out == {"ok": "done"}
    (a1, t1), (a2, t2) = SEEN[wid]
    assert (a1, a2) == (1, 2)
    assert 0.55 <= t2 - t1 < 2.0, t2 - t1  # next_retry_delay, not initial_interval


async def test_application_error_details_and_type_reach_workflow(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[raises_with_details]
    ):
        out = await _run(client, task_queue, _spec("raises_with_details"))
    cause = out["error"]["cause"]
    assert cause["class"] == "ApplicationError"
    assert cause["type"] == "MyType"
    assert cause["message"] == "with details"
    assert cause["details"] == [{"k": 1}, "two"]
    assert cause["non_retryable"] is True


# -------------------------------------------------------------------------- timeouts


async def test_start_to_close_timeout(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[RunActivity], activities=[sleeps]):
        out = await _run(
            client,
            task_queue,
            _spec("sleeps", args=[3], start_to_close=0.5, retry={"max_attempts": 1}),
        )
    err = out["error"]
    assert err["class"] == "ActivityError"
    assert err["retry_state"] == "MAXIMUM_ATTEMPTS_REACHED"
    assert err["cause"]["class"] == "TimeoutError"
    assert err["cause"]["type"] == "START_TO_CLOSE"


async def test_start_to_close_timeout_is_retried(client, task_queue):
    wid = _wid()
    start = time.monotonic()
    async with Worker(client, task_queue=task_queue, workflows=[RunActivity], activities=[sleeps]):
        out = await _run(
            client,
            task_queue,
            _spec("sleeps", args=[3], start_to_close=0.3, retry={"max_attempts": 2}),
            wid,
        )
    # Both timed-out attempts still sleep; the worker's shutdown cancels them both.
    assert time.monotonic() - start < 3.2  # the second attempt alone would end at ~3.4 s
    assert SEEN[wid] == [1, 2]
    assert out["error"]["cause"]["type"] == "START_TO_CLOSE"
    assert out["error"]["retry_state"] == "MAXIMUM_ATTEMPTS_REACHED"


async def test_schedule_to_close_timeout(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[RunActivity], activities=[sleeps]):
        out = await _run(
            client,
            task_queue,
            _spec("sleeps", args=[3], start_to_close=None, schedule_to_close=0.7),
        )
    err = out["error"]
    assert err["class"] == "ActivityError"
    assert err["retry_state"] == "TIMEOUT"
    assert err["cause"]["class"] == "TimeoutError"
    assert err["cause"]["type"] == "SCHEDULE_TO_CLOSE"


async def test_schedule_to_start_timeout(client, task_queue):
    nobody = f"unpolled-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[RunActivity]):
        out = await _run(
            client,
            task_queue,
            _spec("anything", task_queue=nobody, schedule_to_start=0.5),
        )
    err = out["error"]
    assert err["class"] == "ActivityError"
    assert err["cause"]["class"] == "TimeoutError"
    assert err["cause"]["type"] == "SCHEDULE_TO_START"
    assert err["retry_state"] == "NON_RETRYABLE_FAILURE"


async def test_heartbeat_timeout(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[heartbeats_then_stops]
    ):
        out = await _run(
            client,
            task_queue,
            _spec("heartbeats_then_stops", heartbeat=1, retry={"max_attempts": 1}),
        )
    err = out["error"]
    assert err["class"] == "ActivityError"
    assert err["retry_state"] == "MAXIMUM_ATTEMPTS_REACHED"
    assert err["cause"]["class"] == "TimeoutError"
    assert err["cause"]["type"] == "HEARTBEAT"
    assert err["cause"]["last_heartbeat_details"] == ["hb-1"]


async def test_timeout_named_non_retryable_stops_retries(client, task_queue):
    # Temporal spells a timeout in non_retryable_error_types "TemporalTimeout:<type>".
    wid = _wid()
    policy = {"non_retryable": ["TemporalTimeout:TIMEOUT_TYPE_START_TO_CLOSE"]}
    async with Worker(client, task_queue=task_queue, workflows=[RunActivity], activities=[sleeps]):
        out = await _run(
            client, task_queue, _spec("sleeps", args=[3], start_to_close=0.3, retry=policy), wid
        )
    assert SEEN[wid] == [1]
    assert out["error"]["retry_state"] == "NON_RETRYABLE_FAILURE"
    assert out["error"]["cause"]["type"] == "START_TO_CLOSE"


async def test_heartbeat_timeout_named_non_retryable_stops_retries(client, task_queue):
    wid = _wid()
    # Naming the other timeout type leaves the start-to-close timeout retryable.
    policy = {"non_retryable": ["TemporalTimeout:TIMEOUT_TYPE_HEARTBEAT"], "max_attempts": 2}
    async with Worker(client, task_queue=task_queue, workflows=[RunActivity], activities=[sleeps]):
        out = await _run(
            client, task_queue, _spec("sleeps", args=[3], start_to_close=0.3, retry=policy), wid
        )
    assert SEEN[wid] == [1, 2]
    assert out["error"]["retry_state"] == "MAXIMUM_ATTEMPTS_REACHED"
    wid = _wid()
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[heartbeat_then_hang]
    ):
        out = await _run(
            client, task_queue, _spec("heartbeat_then_hang", heartbeat=0.5, retry=policy), wid
        )
    assert SEEN[wid] == [(1, [])]  # the second attempt would have succeeded
    assert out["error"]["retry_state"] == "NON_RETRYABLE_FAILURE"
    assert out["error"]["cause"]["type"] == "HEARTBEAT"
    assert out["error"]["cause"]["last_heartbeat_details"] == ["hb-before-hang"]


# ------------------------------------------------------------------------ heartbeats


async def test_heartbeat_details_reach_next_attempt(client, task_queue):
    wid = _wid()
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[heartbeat_then_fail]
    ):
        out = await _run(
            client, task_queue, _spec("heartbeat_then_fail", retry={"initial": 0.05}), wid
        )
    assert out == {"ok": "resumed"}
    assert SEEN[wid] == [(1, []), (2, ["progress-5"])]


# ---------------------------------------------------------------------- cancellation


async def _cancel(client, task_queue, fn, cancellation_type, pool=None) -> tuple:
    wid = _wid()
    name = fn.__name__
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CancelActivity],
        activities=[fn],
        activity_executor=pool,
    ):
        start = time.monotonic()
        out = await client.execute_workflow(
            CancelActivity.run,
            args=[name, int(cancellation_type)],
            id=wid,
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        elapsed = time.monotonic() - start
        # Let the activity see its cancellation before the worker goes away.
        for _ in range(100):
            if SEEN[wid]:
                break
            await asyncio.sleep(0.05)
    return out, SEEN[wid], elapsed


async def test_cancel_async_activity_wait_cancellation_completed(client, task_queue):
    out, seen, _ = await _cancel(
        client,
        task_queue,
        cancellable_async,
        workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    )
    err = out["error"]
    assert err["class"] == "ActivityError"
    assert err["cause"]["class"] == "CancelledError"
    assert err["retry_state"] == "CANCEL_REQUESTED"
    assert seen[0][0] == "async-cancelled"
    assert seen[0][1] is True
    assert seen[0][2] == activity.ActivityCancellationDetails(cancel_requested=True)


async def test_cancel_thread_activity_wait_cancellation_completed(client, task_queue):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        out, seen, _ = await _cancel(
            client,
            task_queue,
            cancellable_thread,
            workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            pool,
        )
    err = out["error"]
    assert err["class"] == "ActivityError"
    assert err["cause"]["class"] == "CancelledError"
    # The thread saw the cancellation: heartbeat() raised CancelledError.
    assert ("thread-cancelled", True) in seen


async def test_cancel_try_cancel_resolves_at_once(client, task_queue):
    out, seen, elapsed = await _cancel(
        client,
        task_queue,
        cancellable_async,
        workflow.ActivityCancellationType.TRY_CANCEL,
    )
    err = out["error"]
    assert err["class"] == "ActivityError"
    assert err["cause"]["class"] == "CancelledError"
    # The workflow did not wait for the activity (it learns of the cancel by heartbeat).
    assert elapsed < 0.5 + 0.4, elapsed
    assert seen and seen[0][0] == "async-cancelled"


# -------------------------------------------------------------------- worker shutdown


async def test_wait_for_worker_shutdown(client, task_queue):
    wid = _wid()
    STARTED[wid] = asyncio.Event()
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[RunActivity],
        activities=[waits_for_shutdown],
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    run = asyncio.create_task(worker.run())
    handle = await client.start_workflow(
        RunActivity.run,
        _spec("waits_for_shutdown"),
        id=wid,
        task_queue=task_queue,
        execution_timeout=timedelta(seconds=30),
    )
    await asyncio.wait_for(STARTED[wid].wait(), 10)
    await worker.shutdown()
    await run
    assert SEEN[wid] == [("before", False), ("after", True)]
    # The activity completed during the graceful shutdown: a new worker finishes the run.
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[waits_for_shutdown]
    ):
        assert await asyncio.wait_for(handle.result(), 10) == {"ok": "finished after shutdown"}


async def test_wait_for_worker_shutdown_sync(client, task_queue):
    wid = _wid()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[RunActivity],
            activities=[waits_for_shutdown_sync],
            activity_executor=pool,
            graceful_shutdown_timeout=timedelta(seconds=5),
        )
        run = asyncio.create_task(worker.run())
        handle = await client.start_workflow(
            RunActivity.run,
            _spec("waits_for_shutdown_sync"),
            id=wid,
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        for _ in range(200):
            if SEEN[wid]:
                break
            await asyncio.sleep(0.05)
        await worker.shutdown()
        await run
        assert SEEN[wid] == [("before", False), ("after", True)]
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[RunActivity],
            activities=[waits_for_shutdown_sync],
            activity_executor=pool,
        ):
            assert await asyncio.wait_for(handle.result(), 10) == {
                "ok": "sync finished after shutdown"
            }


# ------------------------------------------------------------------ broken activities


async def test_unknown_activity_type(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[echo_async]
    ):
        out = await _run(client, task_queue, _spec("does_not_exist", retry={"max_attempts": 1}))
    err = out["error"]
    assert err["class"] == "ActivityError"
    assert err["cause"]["class"] == "ApplicationError"
    assert "does_not_exist" in err["cause"]["message"]
    assert "echo_async" in err["cause"]["message"]  # lists what is registered
    assert err["cause"]["type"] == "NotFoundError"


async def test_unserializable_result_fails_the_attempt(client, task_queue):
    wid = _wid()
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[returns_unserializable]
    ):
        start = time.monotonic()
        out = await _run(
            client,
            task_queue,
            _spec("returns_unserializable", retry={"max_attempts": 2}),
            wid,
        )
        elapsed = time.monotonic() - start
    assert SEEN[wid] == [1, 2]  # the failed encoding is an attempt failure: retried
    err = out["error"]
    assert err["retry_state"] == "MAXIMUM_ATTEMPTS_REACHED"
    assert err["cause"]["class"] == "ApplicationError"
    assert err["cause"]["type"] == "TypeError"
    assert elapsed < 5, elapsed  # reported at once, not left to the start_to_close timeout


@workflow.defn
class CancelUnstarted:
    @workflow.run
    async def run(self, nobody: str) -> dict[str, Any]:
        handle = workflow.start_activity(
            "anything",
            task_queue=nobody,
            start_to_close_timeout=timedelta(seconds=5),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await workflow.sleep(timedelta(seconds=0.2))
        handle.cancel()
        try:
            await handle
        except ActivityError as err:
            return {"error": _describe(err)}
        return {"ok": None}


async def test_activity_cancelled_before_it_starts(client, task_queue):
    # No worker polls the activity's queue: the cancel resolves it without any attempt.
    wid = _wid()
    nobody = f"unpolled-{uuid.uuid4()}"

    async with Worker(client, task_queue=task_queue, workflows=[CancelUnstarted]):
        start = time.monotonic()
        out = await client.execute_workflow(
            CancelUnstarted.run,
            nobody,
            id=wid,
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        elapsed = time.monotonic() - start
    assert out["error"]["class"] == "ActivityError"
    assert out["error"]["cause"]["class"] == "CancelledError"
    assert elapsed < 2, elapsed


async def test_shutdown_past_graceful_timeout_cancels_and_retries(client, task_queue):
    # An activity still running when the graceful timeout ends is cancelled (it sees
    # worker_shutdown); the attempt fails and is retried elsewhere: nothing is lost.
    wid = _wid()
    STARTED[wid] = asyncio.Event()
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[RunActivity],
        activities=[ignores_shutdown],
        graceful_shutdown_timeout=timedelta(seconds=0.3),
    )
    run = asyncio.create_task(worker.run())
    handle = await client.start_workflow(
        RunActivity.run,
        _spec("ignores_shutdown", retry={"initial": 0.05}),
        id=wid,
        task_queue=task_queue,
        execution_timeout=timedelta(seconds=30),
    )
    await asyncio.wait_for(STARTED[wid].wait(), 10)
    start = time.monotonic()
    await worker.shutdown()
    await run
    assert time.monotonic() - start < 3
    assert SEEN[wid] == [("cancelled", activity.ActivityCancellationDetails(worker_shutdown=True))]
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[ignores_shutdown]
    ):
        assert await asyncio.wait_for(handle.result(), 10) == {"ok": "done on attempt 2"}


async def test_thread_heartbeat_details_reach_next_attempt(client, task_queue):
    wid = _wid()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[RunActivity],
            activities=[thread_heartbeat_then_fail],
            activity_executor=pool,
        ):
            out = await _run(
                client,
                task_queue,
                _spec("thread_heartbeat_then_fail", retry={"initial": 0.05}),
                wid,
            )
    assert out == {"ok": "thread resumed"}
    assert SEEN[wid] == [(1, []), (2, ["thread-progress", 7])]


@pytest.mark.parametrize("eager", [True, False])
async def test_eager_and_polled_activities_agree(client, task_queue, eager):
    wid = _wid()
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[RunActivity],
        activities=[flaky],
        disable_eager_activity_execution=not eager,
    ):
        out = await _run(client, task_queue, _spec("flaky", args=[1], retry={"initial": 0.05}), wid)
    assert out == {"ok": "succeeded on attempt 2"}
    assert [a for a, _ in SEEN[wid]] == [1, 2]


async def test_heartbeat_timeout_retried_with_details(client, task_queue):
    wid = _wid()
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[heartbeat_then_hang]
    ):
        out = await _run(
            client,
            task_queue,
            _spec("heartbeat_then_hang", heartbeat=0.5, retry={"initial": 0.05}),
            wid,
        )
    assert out == {"ok": "second attempt"}
    assert SEEN[wid] == [(1, []), (2, ["hb-before-hang"])]


async def test_heartbeats_keep_activity_alive(client, task_queue):
    # Heartbeats are throttled to 80% of the heartbeat timeout: the activity outlives it.
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[keeps_heartbeating]
    ):
        out = await _run(
            client,
            task_queue,
            _spec("keeps_heartbeating", args=[1.6], heartbeat=0.5, retry={"max_attempts": 1}),
        )
    assert out == {"ok": "alive"}


async def test_retries_stop_at_schedule_to_close(client, task_queue):
    wid = _wid()
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[always_fails]
    ):
        out = await _run(
            client,
            task_queue,
            _spec(
                "always_fails",
                start_to_close=None,
                schedule_to_close=1.5,
                retry={"initial": 0.3, "coefficient": 2.0},
            ),
            wid,
        )
    # Attempts at 0, 0.3 and 0.9 s; the next would start at 2.1 s, past the 1.5 s limit
    # (0.6 s of slack either way keeps this true on a loaded machine).
    assert SEEN[wid] == [1, 2, 3]
    err = out["error"]
    assert err["retry_state"] == "TIMEOUT"
    assert err["cause"]["class"] == "ApplicationError"
    assert err["cause"]["message"] == "bad value"


async def test_workflow_cancel_cancels_running_activity(client, task_queue):
    wid = _wid()
    STARTED[wid] = asyncio.Event()
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CancelledWhileActivityRuns],
        activities=[cancellable_async],
    ):
        handle = await client.start_workflow(
            CancelledWhileActivityRuns.run,
            id=wid,
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        await asyncio.wait_for(STARTED[wid].wait(), 10)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as caught:
            await asyncio.wait_for(handle.result(), 10)
        for _ in range(100):
            if SEEN[wid]:
                break
            await asyncio.sleep(0.05)
    assert isinstance(caught.value.cause, CancelledError)
    assert SEEN[wid] and SEEN[wid][0][0] == "async-cancelled"


async def test_timeout_carries_previous_attempt_failure_as_cause(client, task_queue):
    # As a Temporal server records it: the final timeout's cause is the last failure.
    async with Worker(
        client, task_queue=task_queue, workflows=[RunActivity], activities=[fails_then_hangs]
    ):
        out = await _run(
            client,
            task_queue,
            _spec(
                "fails_then_hangs", start_to_close=0.3, retry={"initial": 0.05, "max_attempts": 2}
            ),
        )
    err = out["error"]
    assert err["retry_state"] == "MAXIMUM_ATTEMPTS_REACHED"
    assert err["cause"]["class"] == "TimeoutError"
    assert err["cause"]["type"] == "START_TO_CLOSE"
    assert err["cause"]["cause"]["class"] == "ApplicationError"
    assert err["cause"]["cause"]["message"] == "first attempt broke"
