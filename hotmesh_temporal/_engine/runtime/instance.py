"""One running workflow: applies activations, runs workflow code, collects commands.

The engine builds a :class:`~hotmesh_temporal._engine.runtime.activation.Activation` from history
and calls :meth:`WorkflowInstance.activate`. The instance applies the jobs (start the
run method, resolve activities / timers / children, deliver signals and updates,
request cancellation), runs the workflow's event loop until every coroutine is
blocked, and returns the commands the code issued.

How an error ends the activation follows Temporal: a ``FailureError`` (or a type listed
in ``failure_exception_types``) fails the *workflow*; any other exception fails the
workflow *task*, which the engine retries (typically after fixing the code).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import random
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import (
    TYPE_CHECKING,
    Any,
)

import hotmesh_temporal.common as temporal_common
import hotmesh_temporal.converter as temporal_converter
import hotmesh_temporal.exceptions as temporal_exceptions
from hotmesh_temporal import workflow
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime import determinism
from hotmesh_temporal._engine.runtime.loop import WorkflowEventLoop, dropped_quietly
from hotmesh_temporal._engine.runtime.updates import unfinished_handler_warnings
from hotmesh_temporal._engine.service import visibility
from hotmesh_temporal.workflow._definition import (
    QueryDefinition,
    SignalDefinition,
    UpdateDefinition,
    WorkflowDefinition,
)

if TYPE_CHECKING:
    from hotmesh_temporal.worker import _interceptor as wi

logger = logging.getLogger(__name__)

_current_update: contextvars.ContextVar[workflow.UpdateInfo | None] = contextvars.ContextVar(
    "hotmesh_current_update", default=None
)

# Seq counter kinds (see commands.py: one counter per kind, starting at 1).
ACTIVITY, TIMER, CHILD = "activity", "timer", "child"
SIGNAL_EXTERNAL, CANCEL_EXTERNAL = "signal_external", "cancel_external"

# Job application order inside one activation, as Temporal's core SDK does it:
# patches first, then the run is constructed, then signals / updates reach their
# handlers (so they run before the first step of the run method), then resolutions.
_JOB_PRIORITY = {
    c.NotifyHasPatch: 0,
    c.InitializeWorkflow: 1,
    c.SignalWorkflow: 2,
    c.DoUpdate: 2,
}
_OTHER_JOBS = 3


def is_cancelled_exception(err: BaseException) -> bool:
    """Cancellation itself, or an activity/child failure caused by cancellation."""
    if isinstance(err, (asyncio.CancelledError, temporal_exceptions.CancelledError)):
        return True
    return isinstance(
        err, (temporal_exceptions.ActivityError, temporal_exceptions.ChildWorkflowError)
    ) and isinstance(err.__cause__, temporal_exceptions.CancelledError)


# ---------------------------------------------------------------- pending work


@dataclass
class _PendingActivity:
    seq: int
    command: c.ScheduleActivity
    future: asyncio.Future
    cancel_requested: bool = False
    backoff_timer: Any = None  # a local activity waiting out a retry backoff


@dataclass
class _PendingChild:
    seq: int
    command: c.StartChildWorkflow
    started: asyncio.Future
    result: asyncio.Future
    run_id: str | None = None
    cancel_requested: bool = False


class _ActivityHandle(workflow.ActivityHandle):
    """Cancelling it requests activity cancellation instead of cancelling the task.

    The awaiting code then sees the outcome Temporal gives: an ``ActivityError``
    caused by ``CancelledError`` (at once, or when the activity confirms, depending
    on the cancellation type).
    """

    def __init__(self, instance: WorkflowInstance, pending: _PendingActivity, coro: Any) -> None:
        super().__init__(coro, loop=instance.loop)
        dropped_quietly(self)
        self._instance = instance
        self._pending = pending

    def cancel(self, msg: Any = None) -> bool:
        return self._instance._cancel_activity(self._pending)


class _ChildWorkflowHandle(workflow.ChildWorkflowHandle):
    def __init__(self, instance: WorkflowInstance, pending: _PendingChild, coro: Any) -> None:
        super().__init__(coro, loop=instance.loop)
        dropped_quietly(self)
        self._instance = instance
        self._pending = pending

    @property
    def id(self) -> str:
        return self._pending.command.workflow_id

    @property
    def first_execution_run_id(self) -> str | None:
        return self._pending.run_id

    async def signal(
        self,
        signal: Any,
        arg: Any = workflow._ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        event_groups: Any = None,
    ) -> None:
        await self._instance.outbound.signal_child_workflow(
            _wi().SignalChildWorkflowInput(
                signal=workflow._signal_name(signal),
                args=workflow._args_from(arg, args),
                child_workflow_id=self.id,
                headers={},
                event_groups=event_groups,
            )
        )

    def cancel(self, msg: Any = None) -> bool:
        return self._instance._cancel_child(self._pending)


# ------------------------------------------------------------------ instance


class WorkflowInstance:
    """A workflow run held in memory between activations."""

    def __init__(
        self,
        definition: WorkflowDefinition,
        info: workflow.Info,
        data_converter: temporal_converter.DataConverter,
        *,
        workflow_failure_exception_types: Sequence[type[BaseException]] = (),
        interceptor_classes: Sequence[Any] = (),
        extern_functions: Mapping[str, Callable] | None = None,
        metric_meter: Any = None,
        refused_calls: frozenset = frozenset(),
    ) -> None:
        self.definition = definition
        # Calls the sandbox refuses in workflow code (see determinism.refusing); the
        # guard costs CPU, so only workflows whose module seems to make them pay.
        guarded = definition.sandboxed and refused_calls
        if guarded and not determinism.may_read_datetime_clock(definition.cls):
            guarded = False
        self._refused_calls = refused_calls if guarded else frozenset()
        self._info = info
        self._payload_converter = data_converter.payload_converter
        self._failure_converter = data_converter.failure_converter
        self._worker_failure_types = tuple(workflow_failure_exception_types)
        self._workflow_failure_types = tuple(definition.failure_exception_types)
        self._interceptor_classes = tuple(interceptor_classes)
        self._extern_functions = dict(extern_functions or {})
        self._metric_meter = metric_meter
        self._workflow_meter: Any = None  # made on first workflow.metric_meter()
        self.loop = WorkflowEventLoop(self, start_time=info.start_time.timestamp())
        self.loop.runtime = self

        self._commands: list[c.Command] = []
        self._seqs: dict[str, int] = {}
        self._random = random.Random(0)
        self._seed = 0
        self._seed_callbacks: list[Callable[[int], None]] = []
        self._now = info.start_time
        self._replaying = False
        self._history_length = 0
        self._history_size = 0
        self._continue_as_new_suggested = False
        self._read_only = False
        self._details = ""

        self._object: Any = None
        self._main_task: asyncio.Task | None = None
        self._run_args: list[Any] | None = None
        self._terminal: c.Command | None = None
        self._task_failure: BaseException | None = None
        self._cancel_requested = False
        self._cancellation_reason: str | None = None
        self._last_completion_result: Sequence[Any] | None = None
        self._continued_failure: Any = None

        self._activities: dict[tuple[bool, int], _PendingActivity] = {}
        self._children: dict[int, _PendingChild] = {}
        self._externals: dict[tuple[str, int], asyncio.Future] = {}
        # Seqs resolved locally (cancelled with TRY_CANCEL / ABANDON): a late
        # resolution from history for them is expected and ignored.
        self._forgotten: set = set()
        self._conditions: list[tuple[Callable[[], bool], asyncio.Future]] = []

        self._signals: dict[str | None, SignalDefinition] = {}
        self._queries: dict[str | None, QueryDefinition] = {}
        self._updates: dict[str | None, UpdateDefinition] = {}
        self._buffered_signals: list[c.SignalWorkflow] = []
        # task -> (kind, name, unfinished policy, update id or None)
        self._running_handlers: dict[asyncio.Task, tuple[str, str, Any, str | None]] = {}

        self._patches_notified: set = set()
        self._patches_memo: dict[str, bool] = {}
        self._start_headers: Mapping[str, Any] = {}
        determinism.install()
        # The interceptors are built with this run as the workflow runtime, so that
        # their constructors and init() may call workflow.info().
        from hotmesh_temporal._engine.runtime.interception import WorkflowOutboundImpl, build_chains

        self.outbound: wi.WorkflowOutboundInterceptor = WorkflowOutboundImpl(self)
        with self.loop.running():
            self._inbound = build_chains(self, self._interceptor_classes)

    # ================================================================ activation

    def activate(self, activation: c.Activation) -> c.ActivationCompletion:
        """Apply the jobs, run workflow code until blocked, return its commands."""
        self._commands = []
        self._task_failure = None
        self._set_activation_facts(activation)
        if self._terminal is not None:
            return c.ActivationCompletion(commands=[])
        try:
            with self.loop.running(), determinism.refusing(self._refused_calls):
                for job in sorted(activation.jobs, key=_job_priority):
                    self._apply(job)
                self._start_run_method_once()
                self._run_until_blocked()
        except Exception as err:
            self._task_failure = err
        if self._task_failure is not None:
            return c.ActivationCompletion(commands=[], failure=self._task_failure)
        return c.ActivationCompletion(commands=self._outgoing_commands())

    def _set_activation_facts(self, activation: c.Activation) -> None:
        stamp = activation.timestamp
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        self._now = stamp
        self.loop.set_time(stamp.timestamp())
        self._replaying = activation.is_replaying
        self._history_length = activation.history_length
        self._history_size = activation.history_size
        self._continue_as_new_suggested = activation.continue_as_new_suggested

    def _apply(self, job: c.Job) -> None:
        handler = getattr(self, "_apply_" + type(job).__name__, None)
        if handler is None:
            raise RuntimeError(f"Unknown activation job {job!r}")
        handler(job)

    def _run_until_blocked(self) -> None:
        while True:
            self.loop.run_once()
            if self.loop.callback_errors:
                raise self.loop.callback_errors.pop(0)
            if self._task_failure is not None:
                return
            if not self._resolve_true_conditions():
                return

    def _resolve_true_conditions(self) -> bool:
        """Resolve every waiting condition that is now true; True if any was."""
        resolved = False
        for fn, fut in list(self._conditions):
            if fut.done():
                self._conditions.remove((fn, fut))
                continue
            try:
                ready = fn()
            except Exception as err:
                fut.set_exception(err)
                ready = True
            if ready:
                if not fut.done():
                    fut.set_result(True)
                self._conditions.remove((fn, fut))
                resolved = True
        return resolved

    def _outgoing_commands(self) -> list[c.Command]:
        if self._terminal is None:
            return list(self._commands)
        return [cmd for cmd in self._commands if cmd is not self._terminal] + [self._terminal]

    # ================================================================= commands

    def _check_writable(self, action: str) -> None:
        if self._read_only:
            raise workflow.ReadOnlyContextError(
                f"While in read-only function, action attempted: {action}"
            )

    def _next_seq(self, kind: str) -> int:
        self._check_writable(f"allocate {kind}")
        self._seqs[kind] = self._seqs.get(kind, 0) + 1
        return self._seqs[kind]

    def add_command(self, command: c.Command) -> None:
        self._check_writable(type(command).__name__)
        if self._terminal is None:
            self._commands.append(command)

    def discard_unsent_command(self, command: c.Command) -> bool:
        for index, queued in enumerate(self._commands):
            if queued is command:
                del self._commands[index]
                return True
        return False

    def next_timer_seq(self) -> int:
        return self._next_seq(TIMER)

    # ============================================================ initialization

    def _apply_InitializeWorkflow(self, job: c.InitializeWorkflow) -> None:
        self._seed = job.randomness_seed
        self._random = random.Random(job.randomness_seed)
        self._last_completion_result = job.last_completion_result
        self._continued_failure = job.continued_failure
        self._start_headers = dict(job.headers)
        self._register_class_handlers()
        args = self._decode_run_args(job.arguments)
        try:
            self._object = self._construct(args)
        except BaseException as err:
            self._finish_with_exception(err)
            return
        self._apply_dynamic_config()
        self._run_args = args

    def _decode_run_args(self, payloads: Sequence[Any]) -> list[Any]:
        if self.definition.dynamic:
            return [[temporal_common.RawValue(p) for p in payloads]]
        return self._decode(payloads, self.definition.arg_types)

    def _construct(self, args: list[Any]) -> Any:
        if self.definition.init_fn is not None:
            return self.definition.cls(*args)
        return self.definition.cls()

    def _apply_dynamic_config(self) -> None:
        config_fn = self.definition.dynamic_config_fn
        if config_fn is None:
            return
        config = config_fn(self._object)
        if config is not None and config.failure_exception_types is not None:
            self._workflow_failure_types = tuple(config.failure_exception_types)

    def _start_run_method_once(self) -> None:
        if self._run_args is None or self._main_task is not None or self._terminal is not None:
            return
        coro = self._inbound.execute_workflow(
            _wi().ExecuteWorkflowInput(
                type=self.definition.cls,
                run_fn=self.definition.run_fn,
                args=self._run_args,
                headers=self._start_headers,
            )
        )
        self._main_task = self.loop.create_task(coro, name="workflow run")
        self._main_task.add_done_callback(self._on_run_done)

    def _register_class_handlers(self) -> None:
        self._signals.update(self.definition.signals)
        self._queries.update(self.definition.queries)
        self._updates.update(self.definition.updates)

    # ============================================================= completion

    def _on_run_done(self, task: asyncio.Task) -> None:
        if task.cancelled():
            self._finish_with_exception(asyncio.CancelledError())
            return
        err = task.exception()
        if err is not None:
            self._finish_with_exception(err)
            return
        try:
            result = self._payload_converter.to_payload(task.result())
        except Exception as conversion_error:
            self._task_failure = conversion_error
            return
        self._finish(c.CompleteWorkflow(result=result))

    def _finish(self, command: c.Command) -> None:
        if self._terminal is not None:
            return
        self._warn_unfinished_handlers()
        self._commands.append(command)
        self._terminal = command

    def _finish_with_exception(self, err: BaseException) -> None:
        """Turn an exception that ended the run (or a handler) into the outcome."""
        if isinstance(err, workflow.ContinueAsNewError):
            command = getattr(err, "_hotmesh_command", None)
            if command is None:
                self._task_failure = RuntimeError(
                    "ContinueAsNewError raised without continue_as_new()"
                )
            else:
                self._finish(command)
        elif self._cancel_requested and is_cancelled_exception(err):
            self._finish(c.CancelWorkflowExecution())
        elif self.is_failure_exception(err):
            self._finish(c.FailWorkflow(failure=self._to_failure(err)))
        elif isinstance(err, asyncio.CancelledError):
            cancelled = temporal_exceptions.CancelledError(str(err) or "Cancelled")
            self._finish(c.FailWorkflow(failure=self._to_failure(cancelled)))
        elif isinstance(err, Exception):
            self._task_failure = err
        else:
            raise err  # KeyboardInterrupt, SystemExit: not ours to swallow

    def is_failure_exception(self, err: BaseException) -> bool:
        if isinstance(err, temporal_exceptions.FailureError):
            return True
        types = self._workflow_failure_types + self._worker_failure_types
        return bool(types) and isinstance(err, types)

    def _warn_unfinished_handlers(self) -> None:
        """As temporalio: one warning per kind (updates, signals) listing the handlers
        still running whose policy is WARN_AND_ABANDON (replays warn again too)."""
        warnable = [
            running
            for running in self._running_handlers.values()
            if running[2] == workflow.HandlerUnfinishedPolicy.WARN_AND_ABANDON
        ]
        for warning in unfinished_handler_warnings(warnable):
            warnings.warn(warning, stacklevel=2)

    # ============================================================= conversion

    def _decode(self, payloads: Sequence[Any], types: Sequence[Any] | None) -> list[Any]:
        if not payloads:
            return []
        hints = None
        if types is not None:
            hints = [types[i] if i < len(types) else None for i in range(len(payloads))]
        return list(self._payload_converter.from_payloads(list(payloads), hints))

    def _from_payload(self, payload: Any, type_hint: Any | None) -> Any:
        if payload is None:
            return None
        return self._payload_converter.from_payload(payload, type_hint)

    def _to_failure(self, err: BaseException) -> Any:
        from hotmesh_temporal.api.failure.v1 import Failure

        failure = Failure()
        self._failure_converter.to_failure(err, self._payload_converter, failure)
        return failure

    def _from_failure(self, failure: Any) -> BaseException:
        return self._failure_converter.from_failure(failure, self._payload_converter)

    # ============================================================ cancellation

    def _apply_CancelWorkflow(self, job: c.CancelWorkflow) -> None:
        self._cancel_requested = True
        self._cancellation_reason = job.reason or None
        if self._main_task is not None:
            self._main_task.cancel()
        elif self._run_args is not None:
            # Cancelled before the run method started: start it already cancelled.
            self._start_run_method_once()
            if self._main_task is not None:
                self._main_task.cancel()

    # ============================================================== activities

    def start_activity(self, input: Any, *, is_local: bool) -> workflow.ActivityHandle:
        """The end of the outbound chain for (local) activities: schedule the command.
        ``input`` is a worker ``StartActivityInput`` or ``StartLocalActivityInput``."""
        # One counter for activities and local activities, as temporalio numbers them
        # (a local activity marker's seq and default activity ids depend on it).
        seq = self._next_seq(ACTIVITY)
        command = c.ScheduleActivity(
            seq=seq,
            activity_id=input.activity_id or str(seq),
            activity_type=input.activity,
            task_queue=getattr(input, "task_queue", None) or self._info.task_queue,
            arguments=self._payload_converter.to_payloads(list(input.args)),
            schedule_to_close_timeout=input.schedule_to_close_timeout,
            schedule_to_start_timeout=input.schedule_to_start_timeout,
            start_to_close_timeout=input.start_to_close_timeout,
            heartbeat_timeout=getattr(input, "heartbeat_timeout", None),
            retry_policy=input.retry_policy,
            cancellation_type=int(input.cancellation_type),
            is_local=is_local,
            headers=dict(input.headers or {}),
            local_retry_threshold=getattr(input, "local_retry_threshold", None),
            user_metadata=self._user_metadata(input.summary, None),
        )
        result_type = input.ret_type
        pending = _PendingActivity(seq, command, self.loop.create_future())
        self._activities[(is_local, seq)] = pending
        self.add_command(command)
        return _ActivityHandle(self, pending, self._activity_result(pending, result_type))

    async def _activity_result(self, pending: _PendingActivity, result_type: Any | None) -> Any:
        payload = await pending.future
        return self._from_payload(payload, result_type)

    def _apply_ResolveActivity(self, job: c.ResolveActivity) -> None:
        key = (job.is_local, job.seq)
        pending = self._activities.pop(key, None)
        if pending is None:
            self._require_forgotten(("activity",) + key, f"activity seq {job.seq}")
            return
        if job.backoff is not None:
            self._retry_local_activity_later(pending, job.backoff)
            return
        outcome = job.failed if job.failed is not None else job.cancelled
        if outcome is not None:
            pending.future.set_exception(self._from_failure(outcome))
        else:
            pending.future.set_result(job.completed)

    def _retry_local_activity_later(
        self, pending: _PendingActivity, backoff: c.LocalActivityBackoff
    ) -> None:
        """Temporal's DoBackoff: sleep on a durable timer, then schedule the local
        activity again under a new seq, continuing its attempt count."""

        def reschedule() -> None:
            pending.backoff_timer = None
            if pending.future.done():
                return  # cancelled while backing off
            seq = self._next_seq(ACTIVITY)
            pending.seq = seq
            pending.command = dataclasses.replace(
                pending.command,
                seq=seq,
                attempt=backoff.attempt,
                original_schedule_time=backoff.original_schedule_time,
            )
            self._activities[(True, seq)] = pending
            self.add_command(pending.command)

        pending.backoff_timer = self.loop.call_later(
            backoff.backoff_duration.total_seconds(), reschedule
        )

    def _cancel_activity(self, pending: _PendingActivity) -> bool:
        if pending.future.done() or pending.cancel_requested:
            return False
        pending.cancel_requested = True
        if pending.backoff_timer is not None:
            # As in temporalio: what is cancelled is the backoff sleep (its timer is
            # cancelled), and the awaiting code sees plain cancellation.
            pending.backoff_timer.cancel()
            pending.backoff_timer = None
            pending.future.cancel()
            return True
        cancellation = workflow.ActivityCancellationType(pending.command.cancellation_type)
        if self.discard_unsent_command(pending.command):
            self._resolve_activity_cancelled(pending)
            return True
        if cancellation != workflow.ActivityCancellationType.ABANDON:
            self.add_command(
                c.RequestCancelActivity(seq=pending.seq, is_local=pending.command.is_local)
            )
        if cancellation != workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED:
            self._resolve_activity_cancelled(pending)
        return True

    def _resolve_activity_cancelled(self, pending: _PendingActivity) -> None:
        key = (pending.command.is_local, pending.seq)
        self._activities.pop(key, None)
        self._forgotten.add(("activity",) + key)
        error = temporal_exceptions.ActivityError(
            "Activity cancelled",
            scheduled_event_id=0,
            started_event_id=0,
            identity="",
            activity_type=pending.command.activity_type,
            activity_id=pending.command.activity_id,
            retry_state=temporal_exceptions.RetryState.CANCEL_REQUESTED,
        )
        error.__cause__ = temporal_exceptions.CancelledError("Cancelled")  # Temporal's wording
        pending.future.set_exception(error)

    def _require_forgotten(self, key: tuple, what: str) -> None:
        if key in self._forgotten:
            return
        raise workflow.NondeterminismError(
            f"Resolution for unknown {what}: does the code still issue it?"
        )

    # ================================================================== timers

    def _apply_FireTimer(self, job: c.FireTimer) -> None:
        self.loop.fire_timer(job.seq)

    async def wait_condition(
        self,
        fn: Callable[[], bool],
        *,
        timeout: Any | None = None,
        timeout_summary: str | None = None,
    ) -> None:
        self._check_writable("wait_condition")
        fut = self.loop.create_future()
        self._conditions.append((fn, fut))
        if timeout is None:
            await fut
            return
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        with self.loop.timer_metadata(self._user_metadata(timeout_summary, None)):
            await asyncio.wait_for(fut, seconds)

    async def sleep(self, seconds: float, summary: str | None) -> None:
        """``workflow.sleep``: asyncio's sleep, its timer carrying the summary."""
        with self.loop.timer_metadata(self._user_metadata(summary, None)):
            await asyncio.sleep(seconds)

    # ========================================================= child workflows

    async def start_child_workflow(
        self, input: wi.StartChildWorkflowInput
    ) -> workflow.ChildWorkflowHandle:
        """The end of the outbound chain for child workflows: start one, wait until
        it started (or failed to), and return its handle."""
        seq = self._next_seq(CHILD)
        command = c.StartChildWorkflow(
            seq=seq,
            workflow_id=input.id,
            workflow_type=input.workflow,
            task_queue=input.task_queue or self._info.task_queue,
            arguments=self._payload_converter.to_payloads(list(input.args)),
            namespace=self._info.namespace,
            execution_timeout=input.execution_timeout,
            run_timeout=input.run_timeout,
            task_timeout=input.task_timeout,
            parent_close_policy=int(input.parent_close_policy),
            id_reuse_policy=int(input.id_reuse_policy),
            retry_policy=input.retry_policy,
            cron_schedule=input.cron_schedule,
            memo=self._encode_memo(input.memo) if input.memo else None,
            search_attributes=self._encode_search_attributes(input.search_attributes),
            cancellation_type=int(input.cancellation_type),
            headers=dict(input.headers or {}),
            user_metadata=self._user_metadata(input.static_summary, input.static_details),
        )
        result_type = input.ret_type
        pending = _PendingChild(seq, command, self.loop.create_future(), self.loop.create_future())
        self._children[seq] = pending
        self.add_command(command)
        try:
            pending.run_id = await pending.started
        except asyncio.CancelledError:
            self._cancel_child_start(pending)
            raise
        return _ChildWorkflowHandle(self, pending, self._child_result(pending, result_type))

    async def _child_result(self, pending: _PendingChild, result_type: Any | None) -> Any:
        payload = await pending.result
        return self._from_payload(payload, result_type)

    def _cancel_child_start(self, pending: _PendingChild) -> None:
        self._children.pop(pending.seq, None)
        self._forgotten.add(("child", pending.seq))
        if not self.discard_unsent_command(pending.command):
            self.add_command(c.CancelChildWorkflow(seq=pending.seq))

    def _apply_ResolveChildWorkflowStart(self, job: c.ResolveChildWorkflowStart) -> None:
        pending = self._children.get(job.seq)
        if pending is None:
            self._require_forgotten(("child", job.seq), f"child workflow seq {job.seq}")
            return
        if job.run_id is not None:
            pending.started.set_result(job.run_id)
            return
        del self._children[job.seq]
        if job.cancelled is not None:
            pending.started.set_exception(self._from_failure(job.cancelled))
        else:
            pending.started.set_exception(
                temporal_exceptions.WorkflowAlreadyStartedError(
                    pending.command.workflow_id, pending.command.workflow_type
                )
            )

    def _apply_ResolveChildWorkflow(self, job: c.ResolveChildWorkflow) -> None:
        pending = self._children.pop(job.seq, None)
        if pending is None:
            self._require_forgotten(("child", job.seq), f"child workflow seq {job.seq}")
            return
        outcome = job.failed if job.failed is not None else job.cancelled
        if outcome is not None:
            pending.result.set_exception(self._from_failure(outcome))
        else:
            pending.result.set_result(job.completed)

    def _cancel_child(self, pending: _PendingChild) -> bool:
        if pending.result.done() or pending.cancel_requested:
            return False
        pending.cancel_requested = True
        cancellation = workflow.ChildWorkflowCancellationType(pending.command.cancellation_type)
        if cancellation != workflow.ChildWorkflowCancellationType.ABANDON:
            self.add_command(c.CancelChildWorkflow(seq=pending.seq))
        if cancellation in (
            workflow.ChildWorkflowCancellationType.ABANDON,
            workflow.ChildWorkflowCancellationType.TRY_CANCEL,
        ):
            self._resolve_child_cancelled(pending)
        return True

    def _resolve_child_cancelled(self, pending: _PendingChild) -> None:
        self._children.pop(pending.seq, None)
        self._forgotten.add(("child", pending.seq))
        error = temporal_exceptions.ChildWorkflowError(
            "Child Workflow execution cancelled",
            namespace=pending.command.namespace,
            workflow_id=pending.command.workflow_id,
            run_id=pending.run_id or "",
            workflow_type=pending.command.workflow_type,
            initiated_event_id=0,
            started_event_id=0,
            retry_state=temporal_exceptions.RetryState.CANCEL_REQUESTED,
        )
        error.__cause__ = temporal_exceptions.CancelledError("")  # core sends no message
        pending.result.set_exception(error)

    # ====================================================== external workflows

    async def signal_external_workflow(
        self,
        *,
        workflow_id: str,
        run_id: str | None,
        signal_name: str,
        args: Sequence[Any],
        child_workflow_only: bool,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        seq = self._next_seq(SIGNAL_EXTERNAL)
        command = c.SignalExternalWorkflow(
            seq=seq,
            workflow_id=workflow_id,
            run_id=run_id or "",
            signal_name=signal_name,
            arguments=self._payload_converter.to_payloads(list(args)),
            namespace=self._info.namespace,
            child_workflow_only=child_workflow_only,
            headers=dict(headers or {}),
        )
        await self._external_outcome(SIGNAL_EXTERNAL, seq, command)

    async def cancel_external_workflow(
        self, *, workflow_id: str, run_id: str | None, reason: str = ""
    ) -> None:
        seq = self._next_seq(CANCEL_EXTERNAL)
        command = c.RequestCancelExternalWorkflow(
            seq=seq,
            workflow_id=workflow_id,
            run_id=run_id or "",
            namespace=self._info.namespace,
            reason=reason,
        )
        await self._external_outcome(CANCEL_EXTERNAL, seq, command)

    async def _external_outcome(self, kind: str, seq: int, command: c.Command) -> None:
        fut = self.loop.create_future()
        self._externals[(kind, seq)] = fut
        self.add_command(command)
        await fut

    def _resolve_external(self, kind: str, seq: int, failure: Any) -> None:
        fut = self._externals.pop((kind, seq), None)
        if fut is None:
            raise workflow.NondeterminismError(f"Resolution for unknown {kind} seq {seq}")
        if fut.done():
            return
        if failure is not None:
            fut.set_exception(self._from_failure(failure))
        else:
            fut.set_result(None)

    def _apply_ResolveSignalExternalWorkflow(self, job: c.ResolveSignalExternalWorkflow) -> None:
        self._resolve_external(SIGNAL_EXTERNAL, job.seq, job.failure)

    def _apply_ResolveRequestCancelExternalWorkflow(
        self, job: c.ResolveRequestCancelExternalWorkflow
    ) -> None:
        self._resolve_external(CANCEL_EXTERNAL, job.seq, job.failure)

    # =============================================================== signals

    def _apply_SignalWorkflow(self, job: c.SignalWorkflow) -> None:
        defn = self._signals.get(job.signal_name) or self._signals.get(None)
        if defn is None:
            self._buffered_signals.append(job)
            return
        self._dispatch_signal(defn, job)

    def _dispatch_signal(self, defn: SignalDefinition, job: c.SignalWorkflow) -> None:
        try:
            args = self._handler_args(defn, job.signal_name, job.input)
        except Exception:
            # Temporal drops a signal whose input cannot be decoded, with a warning.
            logger.warning(
                "Failed decoding input of signal %s, dropping it", job.signal_name, exc_info=True
            )
            return
        coro = self._inbound.handle_signal(
            _wi().HandleSignalInput(signal=job.signal_name, args=args, headers=job.headers)
        )
        self._track_handler(
            coro, "signal", job.signal_name, defn.unfinished_policy, self._on_handler_done
        )

    def _deliver_buffered_signals(self) -> None:
        still_buffered = []
        for job in self._buffered_signals:
            defn = self._signals.get(job.signal_name) or self._signals.get(None)
            if defn is None:
                still_buffered.append(job)
            else:
                self._dispatch_signal(defn, job)
        self._buffered_signals = still_buffered

    def _handler_args(self, defn: Any, name: str, payloads: Sequence[Any]) -> list[Any]:
        if defn.dynamic:
            return [name, [temporal_common.RawValue(p) for p in payloads]]
        return self._decode(payloads, defn.arg_types)

    def _bound(self, defn: Any) -> Callable:
        return defn.fn.__get__(self._object) if defn.is_method else defn.fn

    def _track_handler(
        self,
        coro: Any,
        kind: str,
        name: str,
        policy: Any,
        on_done: Callable[[asyncio.Task], None],
        update_id: str | None = None,
    ) -> asyncio.Task:
        task = self.loop.create_task(coro, name=f"{kind} handler {name}")
        self._running_handlers[task] = (kind, name, policy, update_id)
        task.add_done_callback(self._running_handlers.pop)
        task.add_done_callback(on_done)
        return task

    def _on_handler_done(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        err = task.exception()
        if err is not None:
            self._finish_with_exception(err)

    # ================================================================ updates

    def _apply_DoUpdate(self, job: c.DoUpdate) -> None:
        # The whole update (lookup, validator, handler) runs in a task of its own, as in
        # Temporal's SDK: its accept or reject command lands after the commands of the
        # tasks that ran before it, and its answer in the step where the handler returns
        # (before, say, the next holder of a lock the handler released runs).
        defn = self._updates.get(job.name) or self._updates.get(None)
        policy = defn.unfinished_policy if defn is not None else None
        self._track_handler(
            self._run_update(job),
            "update",
            job.name,
            policy,
            self._on_handler_done,
            update_id=job.id,
        )

    async def _run_update(self, job: c.DoUpdate) -> None:
        try:
            await self._run_update_to_its_answer(job)
        except workflow.ContinueAsNewError:
            # As temporalio: continue-as-new belongs to the run method; from an update
            # it fails the workflow task (retried, the update delivered again) and
            # leaves the run and the waiting caller as they were.
            self._task_failure = RuntimeError("Cannot continue as new from an update handler")

    async def _run_update_to_its_answer(self, job: c.DoUpdate) -> None:
        update_info = workflow.UpdateInfo(id=job.id, name=job.name)
        _current_update.set(update_info)  # this task runs in its own context copy
        update_input = self._validate_update(job, update_info)
        if update_input is None:
            return
        respond = job.protocol_instance_id
        self.add_command(c.UpdateResponse(protocol_instance_id=respond, accepted=True))
        try:
            result = await self._inbound.handle_update_handler(update_input)
        except BaseException as err:
            if not (self.is_failure_exception(err) or isinstance(err, asyncio.CancelledError)):
                raise  # fails the workflow task (or the run), as from any handler
            self.add_command(
                c.UpdateResponse(protocol_instance_id=respond, failed=self._to_failure(err))
            )
            return
        payload = self._payload_converter.to_payload(result)
        self.add_command(
            c.UpdateResponse(protocol_instance_id=respond, completed=payload, has_completed=True)
        )

    def _validate_update(self, job: c.DoUpdate, update_info: Any) -> wi.HandleUpdateInput | None:
        """The handler's input, or None once the update is rejected."""
        defn = self._updates.get(job.name) or self._updates.get(None)
        if defn is None:
            known = " ".join(sorted(n for n in self._updates if n is not None))
            self._reject_update(
                job,
                RuntimeError(
                    f"Update handler for '{job.name}' expected but not found, and there is no "
                    f"dynamic handler. known updates: [{known}]"
                ),
            )
            return None
        try:
            args = self._handler_args(defn, job.name, job.input)
            update_input = _wi().HandleUpdateInput(
                id=job.id, update=job.name, args=args, headers=job.headers
            )
            if job.run_validator:
                self._run_validator(update_input, update_info)
        except workflow.ReadOnlyContextError as err:
            # As temporalio: a validator that tries to change the workflow is a bug in
            # the workflow, not a reason to refuse the update: the task fails.
            self._task_failure = err
            return None
        except Exception as err:
            self._reject_update(job, err)
            return None
        return update_input

    def _run_validator(self, update_input: wi.HandleUpdateInput, update_info: Any) -> None:
        with self._read_only_scope():
            self._inbound.handle_update_validator(update_input)

    def _reject_update(self, job: c.DoUpdate, err: BaseException) -> None:
        self.add_command(
            c.UpdateResponse(
                protocol_instance_id=job.protocol_instance_id, rejected=self._to_failure(err)
            )
        )

    def current_update_info(self) -> workflow.UpdateInfo | None:
        return _current_update.get()

    # ================================================================ queries

    def query(
        self,
        name: str,
        args_payloads: Sequence[Any],
        *,
        query_id: str = "",
        headers: Mapping[str, Any] | None = None,
    ) -> Any:
        """Answer a query read-only; raises what the handler raised."""
        if name == "__stack_trace":
            return self._payload_converter.to_payload(self._stack_trace())
        defn = self._queries.get(name)
        if defn is None and not name.startswith("__"):
            defn = self._queries.get(None)
        if defn is None:
            known = ", ".join(sorted(n for n in self._queries if n is not None))
            raise KeyError(
                f"Query handler for '{name}' expected but not found, known queries: [{known}]"
            )
        args = self._handler_args(defn, name, args_payloads)
        query_input = _wi().HandleQueryInput(
            id=query_id, query=name, args=args, headers=dict(headers or {})
        )
        with self.loop.running(), self._read_only_scope():
            result = _run_to_completion(self._inbound.handle_query(query_input))
        return self._payload_converter.to_payload(result)

    @contextlib.contextmanager
    def _read_only_scope(self) -> Iterator[None]:
        previous = self._read_only
        self._read_only = True
        try:
            yield
        finally:
            self._read_only = previous

    def _stack_trace(self) -> str:
        """Where every unfinished coroutine of this run is waiting (``__stack_trace``)."""
        sections = []
        for task in asyncio.all_tasks(self.loop):
            frames = traceback.StackSummary.extract(_awaited_frames(task))
            sections.append(f"{task.get_name()}:\n{''.join(frames.format())}")
        return "\n\n".join(sections)

    # ============================================================== handlers

    def get_handler(self, kind: str, name: str | None) -> Callable | None:
        defn = self._handler_table(kind).get(name)
        return None if defn is None else self._bound(defn)

    def set_handler(
        self,
        kind: str,
        name: str | None,
        handler: Callable | None,
        *,
        validator: Callable | None = None,
    ) -> None:
        self._check_writable(f"set {kind} handler")
        table = self._handler_table(kind)
        if handler is None:
            table.pop(name, None)
            return
        table[name] = self._runtime_handler_definition(kind, name, handler, validator)
        if kind == "signal":
            self._deliver_buffered_signals()

    def handler_definition(self, kind: str, name: str) -> Any:
        """The definition that handles ``name``: its own, else the dynamic one
        (queries named ``__...`` are never dynamic)."""
        table = self._handler_table(kind)
        defn = table.get(name)
        if defn is None and not (kind == "query" and name.startswith("__")):
            defn = table.get(None)
        if defn is None:
            raise KeyError(f"No {kind} handler for '{name}'")
        return defn

    def _handler_table(self, kind: str) -> dict[str | None, Any]:
        return {"signal": self._signals, "query": self._queries, "update": self._updates}[kind]

    def _runtime_handler_definition(
        self, kind: str, name: str | None, handler: Callable, validator: Callable | None
    ) -> Any:
        common = dict(name=name, dynamic=name is None, is_method=False)
        policy = workflow.HandlerUnfinishedPolicy.WARN_AND_ABANDON
        if kind == "signal":
            return SignalDefinition.from_fn(
                handler, unfinished_policy=policy, description=None, **common
            )
        if kind == "query":
            return QueryDefinition.from_fn(handler, description=None, **common)
        return UpdateDefinition.from_fn(
            handler, unfinished_policy=policy, description=None, validator=validator, **common
        )

    def all_handlers_finished(self) -> bool:
        return not self._running_handlers

    # =================================================================== patches

    def _apply_NotifyHasPatch(self, job: c.NotifyHasPatch) -> None:
        self._patches_notified.add(job.patch_id)

    def patch(self, patch_id: str, *, deprecated: bool) -> bool:
        if patch_id in self._patches_memo:
            return self._patches_memo[patch_id]
        use_new_code = not self._replaying or patch_id in self._patches_notified
        if use_new_code:
            self.add_command(c.SetPatchMarker(patch_id=patch_id, deprecated=deprecated))
        self._patches_memo[patch_id] = use_new_code
        return use_new_code

    # ========================================================= continue-as-new

    def continue_as_new(self, input: wi.ContinueAsNewInput) -> None:
        """The end of the outbound chain for continue-as-new: raise the error that
        carries the command (the run ends with it)."""
        self._check_writable("continue_as_new")
        command = c.ContinueAsNew(
            workflow_type=input.workflow or self._info.workflow_type,
            task_queue=input.task_queue or self._info.task_queue,
            arguments=self._payload_converter.to_payloads(list(input.args)),
            run_timeout=input.run_timeout,
            task_timeout=input.task_timeout,
            # Unset memo and search attributes are the current ones, upserts included
            # (the codec then encodes the memo like any command's).
            memo=self._encode_memo(input.memo)
            if input.memo is not None
            else dict(self._info.raw_memo),
            search_attributes=visibility.encode_search_attributes(
                input.search_attributes or self._info.typed_search_attributes
            ),
            retry_policy=input.retry_policy,
            headers=dict(input.headers or {}),
            backoff_start_interval=input.backoff_start_interval,
        )
        error = workflow.ContinueAsNewError()
        error._hotmesh_command = command  # type: ignore[attr-defined]
        raise error

    # ======================================================= memo and attributes

    def _encode_memo(self, memo: Mapping[str, Any]) -> dict[str, Any]:
        return {key: self._payload_converter.to_payload(value) for key, value in memo.items()}

    def _user_metadata(self, summary: str | None, details: str | None) -> dict[str, Any] | None:
        """A summary (and details) as payloads, recorded on the event of the command
        that carries them (the worker's codec encodes them with its other payloads)."""
        given = {"summary": summary, "details": details}
        out = {k: self._payload_converter.to_payload(v) for k, v in given.items() if v is not None}
        return out or None

    def _encode_search_attributes(self, attributes: Any) -> dict[str, Any] | None:
        return visibility.encode_search_attributes(attributes) or None

    def memo(self) -> Mapping[str, Any]:
        return {key: self._from_payload(p, None) for key, p in self._info.raw_memo.items()}

    def memo_value(self, key: str, default: Any, *, type_hint: Any | None) -> Any:
        payload = self._info.raw_memo.get(key)
        if payload is None:
            if default is workflow._ARG_UNSET:
                raise KeyError(f"Memo does not have a value for key {key}")
            return default
        return self._from_payload(payload, type_hint)

    def upsert_memo(self, updates: Mapping[str, Any]) -> None:
        self._check_writable("upsert_memo")
        encoded = self._encode_memo(updates)
        raw = dict(self._info.raw_memo)
        for key, value in updates.items():
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = encoded[key]
        self.add_command(c.ModifyWorkflowProperties(upserted_memo=encoded))
        self._info = dataclasses.replace(self._info, raw_memo=raw)

    def upsert_search_attributes(self, attributes: Any) -> None:
        self._check_writable("upsert_search_attributes")
        encoded = visibility.encode_search_attributes(attributes)
        if not encoded:
            return
        legacy, typed = visibility.apply_updates(
            self._info.search_attributes, self._info.typed_search_attributes, encoded
        )
        if isinstance(attributes, Mapping):
            legacy.update(attributes)  # the dict view keeps the exact values given
        self._info = dataclasses.replace(
            self._info, search_attributes=legacy, typed_search_attributes=typed
        )
        self.add_command(c.UpsertSearchAttributes(search_attributes=encoded))

    # ================================================================ facts

    def workflow_info(self) -> workflow.Info:
        return self.outbound.info()

    def extern_functions(self) -> Mapping[str, Callable]:
        return self._extern_functions

    def workflow_object(self) -> Any:
        return self._object

    def is_replaying(self) -> bool:
        return self._replaying

    def is_read_only(self) -> bool:
        return self._read_only

    def now(self) -> datetime:
        return self._now

    def time(self) -> float:
        return self.loop.time()

    def random(self) -> random.Random:
        return self._random

    def random_seed(self) -> int:
        return self._seed

    def register_random_seed_callback(self, callback: Callable[[int], None]) -> None:
        self._seed_callbacks.append(callback)

    def uuid4(self) -> Any:
        import uuid

        return uuid.UUID(int=self._random.getrandbits(128), version=4)

    def payload_converter(self) -> Any:
        return self._payload_converter

    def metric_meter(self) -> Any:
        """The runtime's meter with this workflow's attributes, silent during replay."""
        if self._workflow_meter is None:
            meter = self._metric_meter or temporal_common.MetricMeter.noop
            meter = meter.with_additional_attributes({
                "namespace": self._info.namespace,
                "task_queue": self._info.task_queue,
                "workflow_type": self._info.workflow_type,
            })  # fmt: skip
            # Runtimes' meters are common._CallbackMetricMeter, which can be gated.
            self._workflow_meter = meter._recording_only_when(self.is_not_replaying)
        return self._workflow_meter

    def is_not_replaying(self) -> bool:
        return not self._replaying

    def cancellation_reason(self) -> str | None:
        return self._cancellation_reason

    def current_details(self) -> str:
        return self._details

    def set_current_details(self, description: str) -> None:
        self._details = description

    def current_history_length(self) -> int:
        return self._history_length

    def current_history_size(self) -> int:
        return self._history_size

    def continue_as_new_suggested(self) -> bool:
        return self._continue_as_new_suggested

    def current_build_id(self) -> str:
        return ""

    def current_deployment_version(self) -> Any:
        return None

    def has_last_completion_result(self) -> bool:
        return bool(self._last_completion_result)

    def last_completion_result(self, type_hint: Any | None) -> Any:
        if not self._last_completion_result:
            return None
        return self._from_payload(self._last_completion_result[0], type_hint)

    def last_failure(self) -> BaseException | None:
        if self._continued_failure is None:
            return None
        return self._from_failure(self._continued_failure)


def _wi() -> Any:
    """The worker interceptor module, imported on first use: importing it loads the
    worker package, which imports this module."""
    from hotmesh_temporal.worker import _interceptor

    return _interceptor


def _awaited_frames(task: asyncio.Task) -> list[tuple[Any, int]]:
    """The frames of a task's coroutine and of every coroutine it is awaiting (the
    run method sits below the interceptors' execute_workflow frames)."""
    frames = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            frames.append((frame, frame.f_lineno))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return frames


def _job_priority(job: c.Job) -> int:
    return _JOB_PRIORITY.get(type(job), _OTHER_JOBS)


def _run_to_completion(coro: Any) -> Any:
    """Run a (deprecated) async query handler that must not actually suspend."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("Async query handler awaited something; queries cannot wait")
