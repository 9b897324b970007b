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
import concurrent.futures
import contextvars
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hotmesh_temporal import activity as activity_api
from hotmesh_temporal import workflow
from hotmesh_temporal._engine.observability.metrics import activity_attempt_meter
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime.interception import execute_activity_attempt
from hotmesh_temporal._engine.runtime.local_markers import (
    LOCAL_CANCELLED_CAUSE,
    LOCAL_TIMEOUT_CAUSE,
    _is_timeout,
    is_local_activity,
    resolution,
)
from hotmesh_temporal._engine.worker import activity_worker as activity_log_lines
from hotmesh_temporal._engine.worker.activity_worker import _call_in_thread
from hotmesh_temporal.api.failure.v1 import Failure
from hotmesh_temporal.common import Priority, RawValue
from hotmesh_temporal.converter import ActivitySerializationContext, StorageDriverWorkflowInfo
from hotmesh_temporal.exceptions import ApplicationError, TimeoutType
from hotmesh_temporal.exceptions import CancelledError as TemporalCancelledError
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


class LocalAttemptControl:
    """Cancellation of one local activity from workflow code, reaching its attempt as
    Temporal's Core makes it: the attempt's ``is_cancelled()`` turns True with
    ``cancel_requested`` details, an async activity's task is cancelled with
    "Activity cancelled", a sync activity in a thread pool gets ``CancelledError``
    raised in its thread, and no further attempt starts."""

    def __init__(self) -> None:
        self.cancel_requested = False
        self._context: Any = None
        self._future: asyncio.Future | None = None
        self._woken = asyncio.Event()  # ends a retry backoff or a wait for a slot

    def attempt_started(self, context: Any) -> None:
        self._context, self._future = context, None
        if self.cancel_requested:
            self._signal(context)

    def invoked(self, future: asyncio.Future) -> None:
        """The async activity's own task (what cancellation cancels)."""
        self._future = future
        if self.cancel_requested:
            future.cancel("Activity cancelled")

    def cancel(self) -> None:
        if self.cancel_requested:
            return
        self.cancel_requested = True
        self._woken.set()
        if self._context is not None:
            self._signal(self._context)
            if self._future is not None:
                self._future.cancel("Activity cancelled")  # the text temporalio gives

    @staticmethod
    def _signal(ctx: Any) -> None:
        ctx.cancellation_details = activity_api.ActivityCancellationDetails(cancel_requested=True)
        ctx.cancelled.set()
        if ctx.async_cancelled is not None:
            ctx.async_cancelled.set()
        elif ctx.thread_raiser is not None:
            ctx.thread_raiser.raise_in_thread(TemporalCancelledError)

    async def sleep(self, seconds: float) -> None:
        """A retry backoff, cut short by cancellation."""
        try:
            await asyncio.wait_for(self._woken.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def is_cancellation(self, err: BaseException) -> bool:
        """Whether ``err`` is the attempt giving in to this cancellation (rather than
        the task running it being cancelled from outside)."""
        if not self.cancel_requested:
            return False
        if isinstance(err, TemporalCancelledError):
            return True
        if not isinstance(err, asyncio.CancelledError):
            return False
        task = asyncio.current_task()
        cancelling = getattr(task, "cancelling", None)  # Python 3.11+
        return cancelling is None or cancelling() == 0


def _local_converter(data_converter: Any, cmd: c.ScheduleActivity, run: LocalActivityRun) -> Any:
    """The data converter in the context of one local activity (is_local=True), as
    temporalio gives it to the activity's arguments, result and failure (stored, when
    large, on behalf of the workflow run)."""
    target = StorageDriverWorkflowInfo(
        namespace=run.namespace, id=run.workflow_id, run_id=run.run_id, type=run.workflow_type
    )
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
    )._with_store_target(target)


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

    async def run(
        self,
        cmd: c.ScheduleActivity,
        run: LocalActivityRun,
        control: LocalAttemptControl | None = None,
    ) -> c.LocalActivityMarker:
        """Run attempts until success, a final failure, a long backoff, or a
        cancellation from the workflow (which ends the attempts: none is retried)."""
        control = control or LocalAttemptControl()
        scheduled = cmd.original_schedule_time or datetime.now(timezone.utc)
        attempt = cmd.attempt
        threshold = cmd.local_retry_threshold or DEFAULT_LOCAL_RETRY_THRESHOLD
        while True:
            try:
                if control.cancel_requested:
                    raise TemporalCancelledError("Cancelled")
                result = await self._attempt_in_slot(cmd, run, attempt, scheduled, control)
            except BaseException as err:  # noqa: BLE001 - every failure is recorded
                if control.is_cancellation(err):
                    # As temporalio: an attempt that gives in to its cancellation is
                    # recorded as Temporal's "Cancelled" failure, and is final.
                    err = TemporalCancelledError("Cancelled")
                elif not isinstance(err, Exception):
                    raise
                failure = Failure()
                await _local_converter(self._dc, cmd, run).encode_failure(err, failure)
                if control.cancel_requested:
                    return _marker(cmd, attempt, scheduled, failure=failure)
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
                await control.sleep(delay)
                attempt += 1
                continue
            return _marker(cmd, attempt, scheduled, result=result)

    async def _attempt_in_slot(
        self,
        cmd: c.ScheduleActivity,
        run: LocalActivityRun,
        attempt: int,
        scheduled: datetime,
        control: LocalAttemptControl,
    ) -> Any:
        """One attempt, once a slot is free. Core's schedule-to-start timeout bounds
        the wait from the activity's first scheduling to the attempt's start."""
        if _starts_too_late(cmd, scheduled, 0.0):
            raise _schedule_to_start_timeout()
        if self._slots is None:
            return await self._attempt(cmd, run, attempt, scheduled, control)
        try:
            await asyncio.wait_for(self._slots.acquire(), _start_time_left(cmd, scheduled))
        except asyncio.TimeoutError:
            raise _schedule_to_start_timeout() from None
        try:
            if control.cancel_requested:  # cancelled while it waited for the slot
                raise TemporalCancelledError("Cancelled")
            return await self._attempt(cmd, run, attempt, scheduled, control)
        finally:
            self._slots.release()

    async def _attempt(
        self,
        cmd: c.ScheduleActivity,
        run: LocalActivityRun,
        attempt: int,
        scheduled: datetime,
        control: LocalAttemptControl,
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
        if not defn.is_async and self._interruptible(defn):
            context.thread_raiser = activity_api._ThreadCancelRaiser()
        control.attempt_started(context)
        details = activity_log_lines.log_details_of(context.info())
        activity_log_lines.activity_log(details, logging.DEBUG, "Starting activity")
        timeout = _attempt_timeout(cmd, scheduled)
        try:
            value = await asyncio.wait_for(
                self._execute(defn, args, context, cmd, control), timeout
            )
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

    def _interruptible(self, defn: Any) -> bool:
        """As temporalio: only a thread pool's threads can have cancellation raised
        in them, and not for activities defined with no_thread_cancel_exception."""
        return isinstance(self._executor, concurrent.futures.ThreadPoolExecutor) and not getattr(
            defn, "no_thread_cancel_exception", False
        )

    async def _execute(
        self,
        defn: Any,
        args: list[Any],
        context: Any,
        cmd: c.ScheduleActivity,
        control: LocalAttemptControl,
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
            invoke=lambda fn, call_args: self._invoke(defn, fn, call_args, context, control),
        )

    async def _invoke(
        self, defn: Any, fn: Any, args: list[Any], context: Any, control: LocalAttemptControl
    ) -> Any:
        if defn.is_async:
            token = activity_api._current_context.set(context)
            try:
                task = asyncio.ensure_future(fn(*args))
            finally:
                activity_api._current_context.reset(token)
            control.invoked(task)
            return await task
        if self._executor is None:
            raise RuntimeError("sync activities need an activity_executor on the worker")
        ctx = contextvars.copy_context()
        ctx.run(activity_api._current_context.set, context)
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, ctx.run, _call_in_thread, context.thread_raiser, fn, args
        )


# Core completes a task whose local activities still run once this share of the
# workflow task timeout has passed (a "heartbeat"), and carries on in a new task.
HEARTBEAT_SHARE_OF_TASK_TIMEOUT = 0.8


@dataclass
class InFlightLocalActivities:
    """Local activities still running when their task was completed early (a task
    heartbeat): they keep running and are carried to the run's next task."""

    running: dict[asyncio.Future, _Running]

    def seqs(self) -> set[int]:
        return {entry.cmd.seq for entry in self.running.values()}

    def cancel(self) -> None:
        """The run's next task is not ours (or the run ended): stop them."""
        for task, entry in self.running.items():
            entry.control.cancel()
            task.cancel()
        self.running.clear()


@dataclass
class LocalActivitiesOutcome:
    """What a task's activations and local activities came to: the commands to
    complete the task with and, for a heartbeat (the task completed while local
    activities run on), those activities (the completion must force a new task)."""

    result: Any  # the driver's ActivationResult
    in_flight: InFlightLocalActivities | None = None


async def run_with_local_activities(
    driver: Any,
    started_at: datetime,
    history_length: int,
    executor: LocalActivityExecutor | None,
    run: LocalActivityRun,
    keep_alive: Callable[[], Awaitable[Any]] | None = None,
    keep_alive_every: float = 5.0,
    waiting: Callable[[bool], None] | None = None,
    carried: InFlightLocalActivities | None = None,
    heartbeat_at: float | None = None,
    after_first_activation: Callable[[], Awaitable[None]] | None = None,
) -> LocalActivitiesOutcome:
    """Run the task's activation, then every local activity it schedules, resolving
    each in its own activation as it finishes, until the workflow waits on something
    else. As Core does, each outcome's marker follows the commands issued before it
    and precedes those its resolution causes. Returns the driver's ActivationResult
    with the local schedules replaced by markers. ``keep_alive`` is called every
    ``keep_alive_every`` seconds while local activities run (to extend the lease);
    ``waiting`` is told when the task starts and stops waiting for them (the worker
    does not count a task that only waits as one being worked on).

    ``heartbeat_at`` (event loop time): as Core, when local activities still run
    then, the task is completed with what it has so far and the activities carried
    on (``in_flight``), so that what arrives meanwhile (a signal, a timer, a
    cancellation) reaches the workflow in the next task. ``carried``: the local
    activities a heartbeat carried over from the run's previous task;
    ``after_first_activation`` is awaited once the task's first activation has run
    (the worker answers the queries that waited for the task then)."""
    running: dict[asyncio.Future, _Running] = dict(carried.running) if carried else {}
    carried_seqs = carried.seqs() if carried else set()

    def start(cmds: list) -> None:
        if cmds and executor is None:
            raise RuntimeError("this workflow worker cannot run local activities")
        for cmd in cmds:
            assert executor is not None  # checked above
            control = LocalAttemptControl()
            running[asyncio.ensure_future(executor.run(cmd, run, control))] = _Running(cmd, control)

    def take(cmds: list) -> list[c.ScheduleActivity]:
        """The activation's commands, a local activity's cancellation in its place:
        a cancelled attempt the workflow does not wait for is recorded at once, as
        Core records it (the attempt still runs until it gives in; its outcome is
        dropped), and so is one cancelled before it started. Returns the local
        activities to start."""
        schedules = {cmd.seq: cmd for cmd in cmds if is_local_activity(cmd)}
        for cmd in cmds:
            if is_local_activity(cmd):
                continue  # started below, recorded as a marker when it finishes
            if isinstance(cmd, c.RequestCancelActivity) and cmd.is_local:
                unstarted = schedules.pop(cmd.seq, None)
                if unstarted is not None:
                    commands.append(_cancelled_marker(unstarted, before_start=True))
                    continue
                marker = _cancel_running(running, cmd.seq)
                if marker is not None:
                    commands.append(marker)
                continue
            commands.append(cmd)
        return list(schedules.values())

    # Scheduled by an earlier task: a replayed driver owes them, unless a heartbeat
    # carried them here still running (they are not started twice).
    owed = driver.take_unresolved_local_activities()
    start([cmd for cmd in owed if cmd.seq not in carried_seqs])
    commands: list[c.Command] = []
    in_flight: InFlightLocalActivities | None = None
    try:
        result = await driver.run_current(started_at, history_length)
        if after_first_activation is not None and result.failure is None:
            await after_first_activation()
        while result.failure is None:
            to_start = take(result.commands)
            if _closes_run(result.commands):  # the run ends: its local activities stop
                break
            start(to_start)
            if not running:
                break
            if waiting is not None:
                waiting(True)
            try:
                finished = await _first_done(
                    list(running), keep_alive, keep_alive_every, heartbeat_at
                )
            finally:
                if waiting is not None:
                    waiting(False)
            if finished is None:  # the task's time is nearly up: heartbeat
                in_flight = InFlightLocalActivities(running)
                break
            del running[finished]
            marker = finished.result()
            commands.append(marker)
            driver.queue_jobs([resolution(marker)])
            result = await driver.run_current(started_at, history_length)
    finally:
        if in_flight is None:
            for task, entry in running.items():
                entry.control.cancel()
                task.cancel()
    if result.failure is None:
        result.commands = commands
    return LocalActivitiesOutcome(result, in_flight)


def heartbeat_deadline(begun: float, task_timeout: float) -> float:
    """When (event loop time) a task begun at ``begun`` heartbeats, as Core."""
    return begun + task_timeout * HEARTBEAT_SHARE_OF_TASK_TIMEOUT


@dataclass
class _Running:
    cmd: c.ScheduleActivity
    control: LocalAttemptControl


_abandoned: set[asyncio.Future] = set()  # cancelled attempts still finishing


def _cancel_running(
    running: dict[asyncio.Future, _Running], seq: int
) -> c.LocalActivityMarker | None:
    """Cancel the running local activity ``seq``. With WAIT_CANCELLATION_COMPLETED
    the workflow waits for the attempt's outcome (its marker comes when it ends);
    otherwise the cancellation is recorded now (returned) and the attempt let go."""
    task, entry = next(((t, e) for t, e in running.items() if e.cmd.seq == seq), (None, None))
    if task is None or entry is None:
        return None
    entry.control.cancel()
    waits = workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
    if entry.cmd.cancellation_type == int(waits):
        return None
    del running[task]
    _abandoned.add(task)
    task.add_done_callback(_forget_abandoned)
    return _cancelled_marker(entry.cmd)


def _forget_abandoned(task: asyncio.Future) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.debug("cancelled local activity ended with %r", task.exception())


def _cancelled_marker(cmd: c.ScheduleActivity, before_start: bool = False) -> c.LocalActivityMarker:
    """What Core records for a local activity cancelled without waiting, or before
    it started: attempt 0, Temporal's "Activity cancelled" failure, and no completion
    time (but for one cancelled before it started with WAIT_CANCELLATION_COMPLETED)."""
    waits = cmd.cancellation_type == int(
        workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
    )
    failure = Failure.from_json_dict({"message": LOCAL_CANCELLED_CAUSE, "canceledFailureInfo": {}})
    return c.LocalActivityMarker(
        seq=cmd.seq,
        activity_id=cmd.activity_id,
        activity_type=cmd.activity_type,
        attempt=0,
        complete_time=datetime.now(timezone.utc) if before_start and waits else None,
        original_schedule_time=cmd.original_schedule_time or datetime.now(timezone.utc),
        failure=failure,
        user_metadata=cmd.user_metadata,
    )


async def _first_done(
    tasks: list,
    keep_alive: Callable[[], Awaitable[Any]] | None,
    every: float,
    until: float | None = None,
) -> asyncio.Future | None:
    """The first of ``tasks`` to finish (the earliest scheduled on a tie), calling
    ``keep_alive`` every ``every`` seconds while none has; None when ``until``
    (event loop time) comes first."""
    loop = asyncio.get_running_loop()
    while True:
        wait = every if until is None else max(min(every, until - loop.time()), 0.0)
        done, _ = await asyncio.wait(tasks, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        if done:
            return next(task for task in tasks if task in done)
        if until is not None and loop.time() >= until:
            return None
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
