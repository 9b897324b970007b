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

from hotmesh_temporal import activity as activity_api
from hotmesh_temporal._engine.observability.metrics import activity_attempt_meter
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime.interception import execute_activity_attempt
from hotmesh_temporal._engine.runtime.local_markers import (
    LOCAL_TIMEOUT_CAUSE,
    _is_timeout,
    is_local_activity,
    resolution,
)
from hotmesh_temporal._engine.worker import activity_worker as activity_log_lines
from hotmesh_temporal.api.failure.v1 import Failure
from hotmesh_temporal.common import Priority, RawValue
from hotmesh_temporal.converter import ActivitySerializationContext
from hotmesh_temporal.exceptions import ApplicationError, TimeoutType
from hotmesh_temporal.exceptions import TimeoutError as TemporalTimeoutError

DEFAULT_LOCAL_RETRY_THRESHOLD = timedelta(minutes=1)
logger = logging.getLogger(__name__)  # the engine's own lines (no temporalio counterpart)


@dataclass
class LocalActivityRun:
    """What a local activity needs to know about the workflow run it belongs to."""

    namespace: str
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str


def _local_converter(data_converter: Any, cmd: c.ScheduleActivity, run: LocalActivityRun) -> Any:
    """The data converter in the context of one local activity (is_local=True), as
    temporalio gives it to the activity's arguments, result and failure."""
    return data_converter.with_context(
        ActivitySerializationContext(
            namespace=run.namespace,
            activity_id=cmd.activity_id,
            activity_type=cmd.activity_type,
            activity_task_queue=run.task_queue,
            workflow_id=run.workflow_id,
            workflow_type=run.workflow_type,
            is_local=True,
        )
    )


async def _arguments(dc: Any, defn: Any, cmd: c.ScheduleActivity) -> list[Any]:
    payloads = list(cmd.arguments)
    if defn.name is None:  # dynamic: one Sequence[RawValue] argument
        codec = dc._edge_codec
        raw = list(await codec.decode(payloads)) if codec else payloads
        return [[RawValue(p) for p in raw]]
    return list(await dc.decode(payloads, defn.arg_types)) if payloads else []


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
                await _local_converter(self._dc, cmd, run).encode_failure(err, failure)
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
        # The lines temporalio logs for an attempt, local or not (activity_worker's).
        token = _log_token(cmd, attempt)
        activity_log_lines.logger.debug("Running activity %s (token %s)", cmd.activity_type, token)
        defn = self._activities.get(cmd.activity_type) or self._dynamic
        if defn is None:
            names = ", ".join(sorted(self._activities)) or "none"
            err = ApplicationError(
                f"Activity function {cmd.activity_type} is not registered on this worker, "
                f"available activities: {names}",
                type="NotFoundError",
            )
            activity_log_lines.log_unregistered_failure(err)
            activity_log_lines.log_completion(token, "failed")
            raise err
        dc = _local_converter(self._dc, cmd, run)
        args = await _arguments(dc, defn, cmd)
        context = self._context(defn, cmd, run, attempt, scheduled)
        details = activity_log_lines.log_details_of(context.info())
        activity_log_lines.activity_log(details, logging.DEBUG, "Starting activity")
        timeout = _attempt_timeout(cmd, scheduled)
        try:
            value = await asyncio.wait_for(self._execute(defn, args, context, cmd), timeout)
            encoded = (await dc.encode([value]))[0]
        except asyncio.TimeoutError:
            activity_log_lines.log_completion(token, "timed out")
            raise _timeout_error(cmd, scheduled) from None
        except Exception as err:
            activity_log_lines.log_activity_failure(details, err)
            activity_log_lines.log_completion(token, "failed")
            raise
        activity_log_lines.log_completion(token, "completed")
        return encoded

    def _context(
        self,
        defn: Any,
        cmd: c.ScheduleActivity,
        run: LocalActivityRun,
        attempt: int,
        scheduled: datetime,
    ) -> Any:

        info = _info(cmd, run, attempt, scheduled)
        dc = _local_converter(self._dc, cmd, run)
        return activity_api._Context(
            info=lambda: info,
            heartbeat=lambda *details: None,  # local activities do not heartbeat
            cancelled=threading.Event(),
            worker_shutdown=threading.Event(),
            payload_converter_factory=lambda: dc.payload_converter,
            client=self._client,
            runtime_metric_meter=activity_attempt_meter(
                self._metric_meter, defn.is_async, self._executor
            ),
            async_cancelled=asyncio.Event() if defn.is_async else None,
            async_shutdown=asyncio.Event() if defn.is_async else None,
        )

    async def _execute(
        self, defn: Any, args: list[Any], context: Any, cmd: c.ScheduleActivity
    ) -> Any:
        """The attempt, through the worker's activity interceptors (as temporalio runs
        local activities), with the headers the workflow gave the activity."""
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
    waiting: Callable[[bool], None] | None = None,
) -> Any:
    """Run the task's activation, then every local activity it schedules, resolving
    each in its own activation as it finishes, until the workflow waits on something
    else. As Core does, each outcome's marker follows the commands issued before it
    and precedes those its resolution causes. Returns the driver's ActivationResult
    with the local schedules replaced by markers. ``keep_alive`` is called every
    ``keep_alive_every`` seconds while local activities run (to extend the lease);
    ``waiting`` is told when the task starts and stops waiting for them (the worker
    does not count a task that only waits as one being worked on)."""
    running: dict[asyncio.Future, c.ScheduleActivity] = {}

    def start(cmds: list) -> None:
        if cmds and executor is None:
            raise RuntimeError("this workflow worker cannot run local activities")
        for cmd in cmds:
            assert executor is not None  # checked above
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
            if waiting is not None:
                waiting(True)
            try:
                finished = await _first_done(list(running), keep_alive, keep_alive_every)
            finally:
                if waiting is not None:
                    waiting(False)
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


# --------------------------------------------------------------- markers


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
    return TemporalTimeoutError(
        LOCAL_TIMEOUT_CAUSE, type=TimeoutType.SCHEDULE_TO_START, last_heartbeat_details=[]
    )


def _timeout_error(cmd: c.ScheduleActivity, scheduled: datetime) -> BaseException:

    whole = cmd.schedule_to_close_timeout
    if whole is not None and datetime.now(timezone.utc) >= scheduled + whole:
        kind = TimeoutType.SCHEDULE_TO_CLOSE
    else:
        kind = TimeoutType.START_TO_CLOSE
    return TemporalTimeoutError(LOCAL_TIMEOUT_CAUSE, type=kind, last_heartbeat_details=[])


def _log_token(cmd: c.ScheduleActivity, attempt: int) -> bytes:
    # temporalio's log lines print core's local activity token (b'local_act_...').
    return f"local_act_{cmd.seq}_{attempt}".encode()


def _info(cmd: c.ScheduleActivity, run: LocalActivityRun, attempt: int, scheduled: datetime) -> Any:

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
        # Opaque and unique per attempt, as Core's local activity tokens (never empty:
        # code that keys state on the token must not see every local activity collide).
        task_token=f"local|{run.run_id}|{cmd.seq}|{attempt}".encode(),
        workflow_id=run.workflow_id,
        workflow_namespace=run.namespace,
        workflow_run_id=run.run_id,
        workflow_type=run.workflow_type,
        priority=Priority(),
        retry_policy=cmd.retry_policy,
    )
