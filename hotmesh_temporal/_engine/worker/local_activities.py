"""Local activities, as Temporal's Core SDK runs them.

A local activity runs inside the workflow task that scheduled it, on the worker that
runs the workflow: no activity task row, no claim. When the activation that scheduled
it is done, the worker runs it (retrying in process while the backoff stays within
``local_retry_threshold``), resolves it in a further activation of the same task, and
so on until the workflow blocks on something else. The task's completion then records
each outcome as a ``core_local_activity`` MarkerRecorded event in place of the
schedule command, so a replay reads the outcome from history and never runs the
activity again. A backoff beyond the threshold ends the attempt loop: the marker
records the failure with its ``backoff`` and the workflow sleeps on a durable timer
before scheduling the activity again (Temporal's DoBackoff).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hotmesh_temporal._engine.observability.metrics import activity_attempt_meter
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime.markers import LOCAL_ACTIVITY_MARKER, json_payload
from hotmesh_temporal.api.failure.v1 import Failure

DEFAULT_LOCAL_RETRY_THRESHOLD = timedelta(minutes=1)
logger = logging.getLogger("hotmesh_temporal.worker")


@dataclass
class LocalActivityRun:
    """What a local activity needs to know about the workflow run it belongs to."""

    namespace: str
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str


class LocalActivityExecutor:
    """Runs local activities with the worker's registered activity definitions."""

    def __init__(
        self,
        *,
        activities: Mapping[str, Any],
        dynamic: Any,
        executor: Any,
        data_converter: Any,
        client: Any,
        max_concurrent: int | None = None,
        interceptors: Sequence[Any] = (),
        metric_meter: Any = None,
    ) -> None:
        # max_concurrent_local_activities: attempts beyond it wait for a free slot.
        self._slots = asyncio.Semaphore(max_concurrent) if max_concurrent else None
        self._activities = activities
        self._dynamic = dynamic
        self._executor = executor
        self._dc = data_converter
        self._client = client
        self._interceptors = list(interceptors)
        self._metric_meter = metric_meter

    async def run(self, cmd: c.ScheduleActivity, run: LocalActivityRun) -> c.LocalActivityMarker:
        """Run attempts until success, a final failure, or a long backoff."""
        scheduled = cmd.original_schedule_time or datetime.now(timezone.utc)
        attempt = cmd.attempt
        threshold = cmd.local_retry_threshold or DEFAULT_LOCAL_RETRY_THRESHOLD
        while True:
            try:
                result = await self._attempt_in_slot(cmd, run, attempt, scheduled)
            except Exception as err:  # noqa: BLE001 - every failure is recorded
                failure = Failure()
                await self._dc.encode_failure(err, failure)
                delay = _retry_delay(cmd, attempt, scheduled, failure)
                if delay is not None and _starts_too_late(cmd, scheduled, delay):
                    # As Core: a retry that could only start after the schedule-to-start
                    # timeout ends the activity with that timeout instead.
                    failure = Failure()
                    await self._dc.encode_failure(_schedule_to_start_timeout(), failure)
                    delay = None
                if delay is None:
                    return _marker(cmd, attempt, scheduled, failure=failure)
                if delay > threshold.total_seconds():
                    return _marker(
                        cmd, attempt, scheduled, failure=failure, backoff=timedelta(seconds=delay)
                    )
                await asyncio.sleep(delay)
                attempt += 1
                continue
            return _marker(cmd, attempt, scheduled, result=result)

    async def _attempt_in_slot(
        self, cmd: c.ScheduleActivity, run: LocalActivityRun, attempt: int, scheduled: datetime
    ) -> Any:
        """One attempt, once a slot is free. Core's schedule-to-start timeout bounds
        the wait from the activity's first scheduling to the attempt's start."""
        if _starts_too_late(cmd, scheduled, 0.0):
            raise _schedule_to_start_timeout()
        if self._slots is None:
            return await self._attempt(cmd, run, attempt, scheduled)
        try:
            await asyncio.wait_for(self._slots.acquire(), _start_time_left(cmd, scheduled))
        except asyncio.TimeoutError:
            raise _schedule_to_start_timeout() from None
        try:
            return await self._attempt(cmd, run, attempt, scheduled)
        finally:
            self._slots.release()

    async def _attempt(
        self, cmd: c.ScheduleActivity, run: LocalActivityRun, attempt: int, scheduled: datetime
    ) -> Any:
        defn = self._activities.get(cmd.activity_type) or self._dynamic
        if defn is None:
            from hotmesh_temporal.exceptions import ApplicationError

            names = ", ".join(sorted(self._activities)) or "none"
            raise ApplicationError(
                f"Activity function {cmd.activity_type} is not registered on this worker, "
                f"available activities: {names}",
                type="NotFoundError",
            )
        args = await self._arguments(defn, cmd)
        context = self._context(defn, cmd, run, attempt, scheduled)
        timeout = _attempt_timeout(cmd, scheduled)
        try:
            value = await asyncio.wait_for(self._execute(defn, args, context, cmd), timeout)
        except asyncio.TimeoutError:
            raise _timeout_error(cmd, scheduled) from None
        return (await self._dc.encode([value]))[0]

    async def _arguments(self, defn: Any, cmd: c.ScheduleActivity) -> list[Any]:
        payloads = list(cmd.arguments)
        if defn.name is None:  # dynamic: one Sequence[RawValue] argument
            from hotmesh_temporal.common import RawValue

            codec = self._dc.payload_codec
            raw = list(await codec.decode(payloads)) if codec else payloads
            return [[RawValue(p) for p in raw]]
        return list(await self._dc.decode(payloads, defn.arg_types)) if payloads else []

    def _context(
        self,
        defn: Any,
        cmd: c.ScheduleActivity,
        run: LocalActivityRun,
        attempt: int,
        scheduled: datetime,
    ) -> Any:
        from hotmesh_temporal import activity as activity_api

        info = _info(cmd, run, attempt, scheduled)
        return activity_api._Context(
            info=lambda: info,
            heartbeat=lambda *details: None,  # local activities do not heartbeat
            cancelled=threading.Event(),
            worker_shutdown=threading.Event(),
            payload_converter_factory=lambda: self._dc.payload_converter,
            client=self._client,
            runtime_metric_meter=activity_attempt_meter(
                self._metric_meter, defn.is_async, self._executor
            ),
            thread_cancel_raises=False,
            async_cancelled=asyncio.Event() if defn.is_async else None,
            async_shutdown=asyncio.Event() if defn.is_async else None,
        )

    async def _execute(
        self, defn: Any, args: list[Any], context: Any, cmd: c.ScheduleActivity
    ) -> Any:
        """The attempt, through the worker's activity interceptors (as temporalio runs
        local activities), with the headers the workflow gave the activity."""
        from hotmesh_temporal._engine.runtime.interception import execute_activity_attempt

        return await execute_activity_attempt(
            self._interceptors,
            context=context,
            info=context.info(),
            heartbeat=lambda *details: None,  # local activities do not heartbeat
            fn=defn.fn,
            args=args,
            executor=None if defn.is_async else self._executor,
            headers=dict(cmd.headers or {}),
            invoke=lambda fn, call_args: self._invoke(defn, fn, call_args, context),
        )

    async def _invoke(self, defn: Any, fn: Any, args: list[Any], context: Any) -> Any:
        import contextvars

        from hotmesh_temporal import activity as activity_api

        if defn.is_async:
            token = activity_api._current_context.set(context)
            try:
                task = asyncio.ensure_future(fn(*args))
            finally:
                activity_api._current_context.reset(token)
            return await task
        if self._executor is None:
            raise RuntimeError("sync activities need an activity_executor on the worker")
        ctx = contextvars.copy_context()
        ctx.run(activity_api._current_context.set, context)
        return await asyncio.get_running_loop().run_in_executor(self._executor, ctx.run, fn, *args)


async def run_with_local_activities(
    driver: Any,
    started_at: datetime,
    history_length: int,
    executor: LocalActivityExecutor | None,
    run: LocalActivityRun,
    keep_alive: Callable[[], Awaitable[Any]] | None = None,
    keep_alive_every: float = 5.0,
) -> Any:
    """Run the task's activation, then every local activity it schedules, resolving
    each in its own activation as it finishes, until the workflow waits on something
    else. As Core does, each outcome's marker follows the commands issued before it
    and precedes those its resolution causes. Returns the driver's ActivationResult
    with the local schedules replaced by markers. ``keep_alive`` is called every
    ``keep_alive_every`` seconds while local activities run (to extend the lease)."""
    running: dict[asyncio.Future, c.ScheduleActivity] = {}

    def start(cmds: list) -> None:
        if cmds and executor is None:
            raise RuntimeError("this workflow worker cannot run local activities")
        for cmd in cmds:
            running[asyncio.ensure_future(executor.run(cmd, run))] = cmd

    start(driver.take_unresolved_local_activities())  # scheduled by an earlier task
    result = await driver.run_current(started_at, history_length)
    commands: list[c.Command] = []
    try:
        while result.failure is None:
            commands += [cmd for cmd in result.commands if not is_local_activity(cmd)]
            if _closes_run(result.commands):  # the run ends: its local activities stop
                break
            start([cmd for cmd in result.commands if is_local_activity(cmd)])
            if not running:
                break
            finished = await _first_done(list(running), keep_alive, keep_alive_every)
            del running[finished]
            marker = finished.result()
            commands.append(marker)
            driver.queue_jobs([resolution(marker)])
            result = await driver.run_current(started_at, history_length)
    finally:
        for task in running:
            task.cancel()
    if result.failure is None:
        result.commands = commands
    return result


async def _first_done(
    tasks: list, keep_alive: Callable[[], Awaitable[Any]] | None, every: float
) -> asyncio.Future:
    """The first of ``tasks`` to finish (the earliest scheduled on a tie), calling
    ``keep_alive`` every ``every`` seconds while none has."""
    while True:
        done, _ = await asyncio.wait(tasks, timeout=every, return_when=asyncio.FIRST_COMPLETED)
        if done:
            return next(task for task in tasks if task in done)
        if keep_alive is None:
            continue
        try:
            await keep_alive()
        except Exception:  # a lost lease shows at completion (stale); keep working
            logger.warning("could not extend the workflow task lease", exc_info=True)


def _closes_run(commands: list) -> bool:
    closing = (c.CompleteWorkflow, c.FailWorkflow, c.CancelWorkflowExecution, c.ContinueAsNew)
    return any(isinstance(cmd, closing) for cmd in commands)


def is_local_activity(cmd: Any) -> bool:
    """A command scheduling a local activity (run by the worker, recorded as a marker)."""
    return isinstance(cmd, c.ScheduleActivity) and cmd.is_local


# --------------------------------------------------------------- marker <-> job


def marker_attributes(marker: c.LocalActivityMarker) -> dict[str, Any]:
    """MarkerRecorded attributes in Core's format."""
    data = {
        "seq": marker.seq,
        "attempt": marker.attempt,
        "activity_id": marker.activity_id,
        "activity_type": marker.activity_type,
        "complete_time": _seconds_nanos_time(marker.complete_time),
        "backoff": _seconds_nanos_span(marker.backoff),
        "original_schedule_time": _seconds_nanos_time(marker.original_schedule_time),
    }
    details: dict[str, Any] = {"data": h.payloads([json_payload(data)])}
    if marker.result is not None:
        details["result"] = h.payloads([marker.result])
    return {
        "markerName": LOCAL_ACTIVITY_MARKER,
        "details": details,
        "failure": h.failure(marker.failure),
    }


def marker_from_attributes(attrs: Mapping[str, Any]) -> c.LocalActivityMarker | None:
    """The outcome a ``core_local_activity`` marker recorded (None if unreadable)."""
    import json

    details = attrs.get("details") or {}
    data_payloads = h.parse_payloads(details.get("data"))
    if not data_payloads:
        return None
    try:
        data = json.loads(data_payloads[0].data)
        result = h.parse_payloads(details.get("result"))
        return c.LocalActivityMarker(
            seq=int(data["seq"]),
            activity_id=str(data.get("activity_id", "")),
            activity_type=str(data.get("activity_type", "")),
            attempt=int(data.get("attempt") or 1),
            complete_time=_parse_optional_time(data.get("complete_time")),
            original_schedule_time=_parse_optional_time(data.get("original_schedule_time")),
            result=result[0] if result else None,
            failure=h.parse_failure(attrs.get("failure")),
            backoff=_parse_backoff(data.get("backoff")),
        )
    except (ValueError, KeyError, TypeError):
        return None


def is_local_activity_marker(attrs: Mapping[str, Any]) -> bool:
    return attrs.get("markerName") == LOCAL_ACTIVITY_MARKER


def resolution(marker: c.LocalActivityMarker) -> c.ResolveActivity:
    """The job that hands a local activity's outcome to the workflow."""
    if marker.failure is None:
        return c.ResolveActivity(
            seq=marker.seq, completed=marker.result, has_completed=True, is_local=True
        )
    if marker.backoff is not None:
        return c.ResolveActivity(
            seq=marker.seq,
            is_local=True,
            backoff=c.LocalActivityBackoff(
                attempt=marker.attempt + 1,
                backoff_duration=marker.backoff,
                original_schedule_time=marker.original_schedule_time,
            ),
        )
    wrapper = Failure.from_json_dict(
        {
            "message": "Local Activity task failed"
            if not _is_timeout(marker.failure)
            else _LOCAL_TIMED_OUT,
            "activityFailureInfo": {
                "activityType": {"name": marker.activity_type},
                "activityId": marker.activity_id,
                "retryState": _retry_state(marker.failure),
            },
        }
    )
    wrapper.cause.CopyFrom(marker.failure)
    return c.ResolveActivity(seq=marker.seq, failed=wrapper, is_local=True)


def _marker(
    cmd: c.ScheduleActivity,
    attempt: int,
    scheduled: datetime,
    *,
    result: Any = None,
    failure: Failure | None = None,
    backoff: timedelta | None = None,
) -> c.LocalActivityMarker:
    return c.LocalActivityMarker(
        seq=cmd.seq,
        activity_id=cmd.activity_id,
        activity_type=cmd.activity_type,
        attempt=attempt,
        complete_time=datetime.now(timezone.utc),
        original_schedule_time=scheduled,
        result=result,
        failure=failure,
        backoff=backoff,
        user_metadata=cmd.user_metadata,  # Core records the summary on the marker too
    )


# ------------------------------------------------------------------- retries


def _retry_delay(
    cmd: c.ScheduleActivity, attempt: int, scheduled: datetime, failure: Failure
) -> float | None:
    """Seconds until the next attempt, or None when the failure is final: the rules
    of Temporal's Core SDK for local activities, which differ from the server's for
    activities in how non_retryable_error_types is read (see _names_error_type)."""
    policy = cmd.retry_policy
    info = (
        failure.application_failure_info if failure.HasField("application_failure_info") else None
    )
    if info is not None and info.non_retryable:
        return None
    if _is_timeout(failure) and failure.timeout_failure_info.timeout_type in (2, 3):
        return None  # schedule-to-start and schedule-to-close timeouts are final
    initial = policy.initial_interval.total_seconds() if policy else 1.0
    coefficient = policy.backoff_coefficient if policy else 2.0
    maximum = (
        policy.maximum_interval.total_seconds()
        if policy and policy.maximum_interval
        else 100 * initial
    )
    if policy and _names_error_type(policy.non_retryable_error_types, info):
        return None
    if policy and policy.maximum_attempts and attempt >= policy.maximum_attempts:
        return None
    delay = min(initial * coefficient ** (attempt - 1), maximum)
    if info is not None and info.HasField("next_retry_delay"):
        delay = info.next_retry_delay.ToTimedelta().total_seconds()
    if cmd.schedule_to_close_timeout is not None:
        deadline = scheduled + cmd.schedule_to_close_timeout
        if datetime.now(timezone.utc) + timedelta(seconds=delay) >= deadline:
            return None
    return delay


def _names_error_type(non_retryable: Sequence[str] | None, info: Any) -> bool:
    """Whether the policy's non_retryable_error_types names the failure, as Core reads
    it for local activities: only an application failure has a type (a timeout or
    cancellation has none, so neither its class name nor the server's
    "TemporalTimeout:<type>" stops a start-to-close timeout's retries), and names
    are compared ignoring case."""
    error_type = (info.type if info is not None else "").lower()
    return any(name.lower() == error_type for name in non_retryable or ())


def _attempt_timeout(cmd: c.ScheduleActivity, scheduled: datetime) -> float | None:
    limits = []
    if cmd.start_to_close_timeout is not None:
        limits.append(cmd.start_to_close_timeout.total_seconds())
    if cmd.schedule_to_close_timeout is not None:
        left = scheduled + cmd.schedule_to_close_timeout - datetime.now(timezone.utc)
        limits.append(max(left.total_seconds(), 0.0))
    return min(limits) if limits else None


def _start_time_left(cmd: c.ScheduleActivity, scheduled: datetime) -> float | None:
    """Seconds an attempt may still wait to start, or None without a limit."""
    if cmd.schedule_to_start_timeout is None:
        return None
    left = scheduled + cmd.schedule_to_start_timeout - datetime.now(timezone.utc)
    return max(left.total_seconds(), 0.0)


def _starts_too_late(cmd: c.ScheduleActivity, scheduled: datetime, delay: float) -> bool:
    left = _start_time_left(cmd, scheduled)
    return left is not None and delay >= left


def _schedule_to_start_timeout() -> BaseException:
    from hotmesh_temporal.exceptions import TimeoutError, TimeoutType

    return TimeoutError(_TIMED_OUT, type=TimeoutType.SCHEDULE_TO_START, last_heartbeat_details=[])


# Core's words for a local activity's timeout (the cause, and the ActivityError's).
_TIMED_OUT = "Activity timed out"
_LOCAL_TIMED_OUT = "Local Activity timed out"


def _timeout_error(cmd: c.ScheduleActivity, scheduled: datetime) -> BaseException:
    from hotmesh_temporal.exceptions import TimeoutError, TimeoutType

    whole = cmd.schedule_to_close_timeout
    if whole is not None and datetime.now(timezone.utc) >= scheduled + whole:
        kind = TimeoutType.SCHEDULE_TO_CLOSE
    else:
        kind = TimeoutType.START_TO_CLOSE
    return TimeoutError(_TIMED_OUT, type=kind, last_heartbeat_details=[])


def _is_timeout(failure: Failure) -> bool:
    return failure.HasField("timeout_failure_info")


def _retry_state(failure: Failure) -> str:
    if _is_timeout(failure):
        # What Core reports for a local activity's final timeout (seen on temporalio
        # 1.35 against a dev server, for start-to-close and schedule-to-start alike).
        return "RETRY_STATE_CANCEL_REQUESTED"
    info = (
        failure.application_failure_info if failure.HasField("application_failure_info") else None
    )
    if info is not None and info.non_retryable:
        return "RETRY_STATE_NON_RETRYABLE_FAILURE"
    return "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"


def _info(cmd: c.ScheduleActivity, run: LocalActivityRun, attempt: int, scheduled: datetime) -> Any:
    from hotmesh_temporal import activity as activity_api
    from hotmesh_temporal.common import Priority

    now = datetime.now(timezone.utc)
    return activity_api.Info(
        activity_id=cmd.activity_id,
        activity_type=cmd.activity_type,
        attempt=attempt,
        current_attempt_scheduled_time=now,
        heartbeat_details=[],
        heartbeat_timeout=None,
        is_local=True,
        namespace=run.namespace,
        schedule_to_close_timeout=cmd.schedule_to_close_timeout,
        scheduled_time=scheduled,
        start_to_close_timeout=cmd.start_to_close_timeout,
        started_time=now,
        task_queue=run.task_queue,
        task_token=b"",
        workflow_id=run.workflow_id,
        workflow_namespace=run.namespace,
        workflow_run_id=run.run_id,
        workflow_type=run.workflow_type,
        priority=Priority(),
        retry_policy=cmd.retry_policy,
    )


# Core serializes the marker's timestamps and durations with serde as
# {"seconds": <int>, "nanos": <int>} objects (null when absent).

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _seconds_nanos_time(value: datetime) -> dict[str, int]:
    return _seconds_nanos_span(value - _EPOCH) or {"seconds": 0, "nanos": 0}


def _seconds_nanos_span(value: timedelta | None) -> dict[str, int] | None:
    if value is None:
        return None
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    seconds, rest = divmod(micros, 1_000_000)
    return {"seconds": seconds, "nanos": rest * 1000}


def _parse_span(value: Any) -> timedelta | None:
    if isinstance(value, Mapping):
        return timedelta(
            seconds=int(value.get("seconds", 0)), microseconds=int(value.get("nanos", 0)) // 1000
        )
    if isinstance(value, str):  # tolerate the proto3 JSON forms too
        return h.parse_duration(value)
    return None


def _parse_optional_time(value: Any) -> datetime:
    if isinstance(value, str):
        return h.parse_time(value)
    span = _parse_span(value)
    return _EPOCH + span if span is not None else _EPOCH


def _parse_backoff(value: Any) -> timedelta | None:
    return None if value is None else _parse_span(value)
