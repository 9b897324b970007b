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
import dataclasses
import logging
import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import (
    Any,
    NoReturn,
)

import hotmesh_temporal.common as temporal_common
import hotmesh_temporal.converter as temporal_converter
import hotmesh_temporal.exceptions as temporal_exceptions
from hotmesh_temporal import workflow
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime import determinism, visibility
from hotmesh_temporal._engine.runtime.instance_messages import MessageHandling
from hotmesh_temporal._engine.runtime.instance_outbound import (
    TIMER,
    OutboundWork,
    _PendingActivity,
    _PendingChild,
)
from hotmesh_temporal._engine.runtime.interception import WorkflowOutboundImpl, build_chains
from hotmesh_temporal._engine.runtime.loop import WorkflowEventLoop
from hotmesh_temporal._engine.runtime.updates import unfinished_handler_warnings
from hotmesh_temporal.api.failure.v1 import Failure
from hotmesh_temporal.worker import _interceptor as wi
from hotmesh_temporal.workflow._definition import (
    QueryDefinition,
    SignalDefinition,
    UpdateDefinition,
    WorkflowDefinition,
)
from hotmesh_temporal.workflow._runtime_contract import WorkflowRuntime

logger = logging.getLogger(__name__)
# temporalio's workflow instance logger (temporalio.worker._workflow_instance).
instance_logger = logging.getLogger("hotmesh_temporal.worker._workflow_instance")

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


# ------------------------------------------------------------------ instance


class WorkflowInstance(OutboundWork, MessageHandling, WorkflowRuntime):
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
        refused_calls: Any = None,
        patch_activation_callback: Callable[[Any, str], bool] | None = None,
    ) -> None:
        self.definition = definition
        # Calls the sandbox refuses in workflow code (see determinism.refusing); the
        # guard costs CPU, so only workflows whose module seems to make them pay.
        # Sandboxed: imports during activations are watched (determinism.noting_imports).
        self._sandbox: Any = refused_calls if definition.sandboxed and refused_calls else None
        guarded = bool(definition.sandboxed and refused_calls)
        if guarded and not determinism.workflow_may_be_refused(definition.cls, refused_calls):
            guarded = False
        self._refused_calls: Any = refused_calls if guarded else None
        self._info = info
        # Workflow-level payloads use the run's serialization context; an activity's
        # or another workflow's payloads use theirs (_converter_for), as temporalio.
        self._data_converter = data_converter
        run_converter = data_converter.with_context(
            temporal_converter.WorkflowSerializationContext(
                namespace=info.namespace, workflow_id=info.workflow_id
            )
        )
        self._payload_converter = run_converter.payload_converter
        self._failure_converter = run_converter.failure_converter
        self._worker_failure_types = tuple(workflow_failure_exception_types)
        self._workflow_failure_types = tuple(definition.failure_exception_types)
        self._interceptor_classes = tuple(interceptor_classes)
        self._extern_functions = dict(extern_functions or {})
        self._metric_meter = metric_meter
        self._patch_activation_callback = patch_activation_callback
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
        # (kind, seq) -> (future, id of the workflow signalled or cancelled)
        self._externals: dict[tuple[str, int], tuple[asyncio.Future, str]] = {}
        # Seqs resolved locally (cancelled with TRY_CANCEL / ABANDON): a late
        # resolution from history for them is expected and ignored.
        self._forgotten: set = set()
        self._conditions: list[tuple[Callable[[], bool], asyncio.Future]] = []

        self._signals: dict[str | None, SignalDefinition] = {}
        self._queries: dict[str | None, QueryDefinition] = self._built_in_queries()
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
            with (
                self.loop.running(),
                determinism.refusing(self._refused_calls),
                determinism.noting_imports(self._sandbox),
            ):
                for job in sorted(activation.jobs, key=_job_priority):
                    self._apply(job)
                self._start_run_method_once()
                self._run_until_blocked()
        except Exception as err:
            self._task_failure = err
        if self._task_failure is not None:
            return c.ActivationCompletion(commands=[], failure=self._task_failure)
        if self._terminal is not None:
            # As temporalio: checked once the activation has run, so a handler that
            # finished in the same activation as the run is not reported.
            self._warn_unfinished_handlers()
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
            determinism.rearm()
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
        self._check_writable("add command")
        self._seqs[kind] = self._seqs.get(kind, 0) + 1
        return self._seqs[kind]

    def add_command(self, command: c.Command) -> None:
        self._check_writable("add command")
        if self._terminal is None:
            self._commands.append(command)

    def discard_unsent_command(self, command: c.Command) -> bool:
        for index, queued in enumerate(self._commands):
            if queued is command:
                del self._commands[index]
                return True
        return False

    def next_timer_seq(self) -> int:
        self._check_writable("schedule timer")
        return self._next_seq(TIMER)

    def check_writable(self, action: str) -> None:
        """For the event loop: refuse ``action`` in a query handler or validator."""
        self._check_writable(action)

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
            wi.ExecuteWorkflowInput(
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
            try:
                task.result()  # the CancelledError itself, with the text it was raised with
            except asyncio.CancelledError as cancelled:
                self._finish_with_exception(cancelled)
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
        self._commands.append(command)
        self._terminal = command

    def _finish_with_exception(self, err: BaseException) -> None:
        """Turn an exception that ended the run (or a handler) into the outcome."""
        if isinstance(err, workflow.ContinueAsNewError):
            instance_logger.debug("Workflow requested continue as new")
        elif isinstance(err, Exception | asyncio.CancelledError):
            instance_logger.debug(
                f"Workflow raised failure with run ID {self._info.run_id}", exc_info=err
            )
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
            cancelled = temporal_exceptions.CancelledError(str(err))
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
        """As temporalio: at the end of the activation that completed the run, one
        warning per kind (updates, then signals) listing the handlers still running
        whose policy is WARN_AND_ABANDON (replays warn again too)."""
        warnable = [
            running
            for running in self._running_handlers.values()
            if running[2] == workflow.HandlerUnfinishedPolicy.WARN_AND_ABANDON
        ]
        for warning in unfinished_handler_warnings(warnable):
            warnings.warn(warning, stacklevel=1)

    # ============================================================= conversion

    def _converter_for(
        self, context: temporal_converter.SerializationContext
    ) -> temporal_converter.PayloadConverter:
        return self._data_converter.with_context(context).payload_converter

    def _activity_context(
        self, cmd: c.ScheduleActivity
    ) -> temporal_converter.ActivitySerializationContext:
        return temporal_converter.ActivitySerializationContext(
            namespace=self._info.namespace,
            activity_id=cmd.activity_id,
            activity_type=cmd.activity_type,
            activity_task_queue=cmd.task_queue,
            workflow_id=self._info.workflow_id,
            workflow_type=self._info.workflow_type,
            is_local=cmd.is_local,
        )

    def _activity_converter(self, cmd: c.ScheduleActivity) -> temporal_converter.PayloadConverter:
        return self._converter_for(self._activity_context(cmd))

    def _other_workflow_context(
        self, workflow_id: str
    ) -> temporal_converter.WorkflowSerializationContext:
        return temporal_converter.WorkflowSerializationContext(
            namespace=self._info.namespace, workflow_id=workflow_id
        )

    def _other_workflow_converter(self, workflow_id: str) -> temporal_converter.PayloadConverter:
        return self._converter_for(self._other_workflow_context(workflow_id))

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

        failure = Failure()
        self._failure_converter.to_failure(err, self._payload_converter, failure)
        return failure

    def _from_failure(
        self, failure: Any, context: temporal_converter.SerializationContext | None = None
    ) -> BaseException:
        """The exception ``failure`` describes, converted in ``context`` (an activity's,
        a child's or an external workflow's, as temporalio) or else the run's."""
        if context is None:
            return self._failure_converter.from_failure(failure, self._payload_converter)
        converter = self._data_converter.with_context(context)
        return converter.failure_converter.from_failure(failure, converter.payload_converter)

    # ============================================================ cancellation

    def _apply_CancelWorkflow(self, job: c.CancelWorkflow) -> None:
        self._cancel_requested = True
        # As temporalio: an empty reason still says the workflow was cancelled.
        self._cancellation_reason = job.reason or ""
        if self._main_task is not None:
            self._main_task.cancel()
        elif self._run_args is not None:
            # Cancelled before the run method started: start it already cancelled.
            self._start_run_method_once()
            if self._main_task is not None:
                self._main_task.cancel()

    # ============================================================== activities

    # ================================================================== timers

    # ========================================================= child workflows

    # ====================================================== external workflows

    # =============================================================== signals

    # ================================================================ updates

    # ================================================================ queries

    # ============================================================== handlers

    # =================================================================== patches

    def _apply_NotifyHasPatch(self, job: c.NotifyHasPatch) -> None:
        self._patches_notified.add(job.patch_id)

    def patch(self, patch_id: str, *, deprecated: bool) -> bool:
        self._check_writable("patch")
        if patch_id in self._patches_memo:
            return self._patches_memo[patch_id]
        use_new_code = self._patch_activates(patch_id, deprecated)
        if use_new_code:
            self.add_command(c.SetPatchMarker(patch_id=patch_id, deprecated=deprecated))
        self._patches_memo[patch_id] = use_new_code
        return use_new_code

    def _patch_activates(self, patch_id: str, deprecated: bool) -> bool:
        """History decides a replayed or recorded patch; a new one activates unless the
        worker's patch activation callback says otherwise (asked read-only, as in
        temporalio; deprecated patches keep their old semantics)."""
        notified = patch_id in self._patches_notified
        if deprecated or self._replaying or notified or self._patch_activation_callback is None:
            return not self._replaying or notified
        with self._read_only_scope():
            activates = self._patch_activation_callback(self._info, patch_id)
        if type(activates) is not bool:
            raise TypeError("Patch activation callback must return true or false")
        return activates

    # ========================================================= continue-as-new

    def continue_as_new(self, input: wi.ContinueAsNewInput) -> NoReturn:
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
        self._check_writable("random")
        return self._random

    def random_seed(self) -> int:
        return self._seed

    def register_random_seed_callback(self, callback: Callable[[int], None]) -> None:
        self._check_writable("register random seed callback")
        self._seed_callbacks.append(callback)

    def uuid4(self) -> Any:
        import uuid

        return uuid.UUID(int=self.random().getrandbits(128), version=4)

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
        self._check_writable("set current details")
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


def _job_priority(job: c.Job) -> int:
    return _JOB_PRIORITY.get(type(job), _OTHER_JOBS)
