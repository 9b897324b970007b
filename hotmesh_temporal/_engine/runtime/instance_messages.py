"""Messages to a workflow run: signals (delivered or buffered), updates (validated,
run, answered), queries (read-only), and the handler tables they use. Mixed into
``instance.WorkflowInstance``, whose state these methods share."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import hotmesh_temporal.common as temporal_common
from hotmesh_temporal import __version__, workflow
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal.api.sdk import v1 as sdk
from hotmesh_temporal.worker import _interceptor as wi
from hotmesh_temporal.workflow._definition import (
    QueryDefinition,
    SignalDefinition,
    UpdateDefinition,
)

# temporalio's workflow instance logger (temporalio.worker._workflow_instance).
logger = logging.getLogger("hotmesh_temporal.worker._workflow_instance")

_current_update: contextvars.ContextVar[workflow.UpdateInfo | None] = contextvars.ContextVar(
    "hotmesh_current_update", default=None
)


class MessageHandling:
    """Signals, updates, queries and handler tables of one run (part of WorkflowInstance)."""

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
            # Temporal drops a signal whose input cannot be decoded, logging it as
            # temporalio does (its text, level and extra).
            info = self._info
            logger.exception(
                f"Failed deserializing signal input for {job.signal_name} on workflow "
                f"{info.workflow_type} with ID {info.workflow_id} and run ID {info.run_id}, "
                "dropping the signal",
                extra={"temporal_workflow": info._logger_details()},
            )
            return
        coro = self._inbound.handle_signal(
            wi.HandleSignalInput(signal=job.signal_name, args=args, headers=job.headers)
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
        if getattr(defn, "dynamic_vararg", False):
            # The deprecated ``(self, name, *args)`` form: values decoded without hints.
            return [name, *self._decode(payloads, None)]
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
            if isinstance(err, Exception | asyncio.CancelledError):
                self._log_update_failure(err)
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
            update_input = wi.HandleUpdateInput(
                id=job.id, update=job.name, args=args, headers=job.headers
            )
            if job.run_validator:
                self._run_validator(update_input, update_info)
        except workflow.ReadOnlyContextError as err:
            # As temporalio: a validator that tries to change the workflow is a bug in
            # the workflow, not a reason to refuse the update: the task fails.
            self._log_update_failure(err)
            self._task_failure = err
            return None
        except Exception as err:
            self._reject_update(job, err)
            return None
        return update_input

    def _run_validator(self, update_input: wi.HandleUpdateInput, update_info: Any) -> None:
        with self._read_only_scope():
            self._inbound.handle_update_validator(update_input)

    def _log_update_failure(self, err: BaseException) -> None:
        # temporalio's DEBUG line for every update that raised (lookup, validator, handler).
        logger.debug(f"Update raised failure with run ID {self._info.run_id}", exc_info=err)

    def _reject_update(self, job: c.DoUpdate, err: BaseException) -> None:
        self._log_update_failure(err)
        self.add_command(
            c.UpdateResponse(
                protocol_instance_id=job.protocol_instance_id, rejected=self._to_failure(err)
            )
        )

    def current_update_info(self) -> workflow.UpdateInfo | None:
        return _current_update.get()

    def query(
        self,
        name: str,
        args_payloads: Sequence[Any],
        *,
        query_id: str = "",
        headers: Mapping[str, Any] | None = None,
    ) -> Any:
        """Answer a query read-only; raises what the handler raised."""
        defn = self._queries.get(name) or self._queries.get(None)
        if defn is None:
            known = " ".join(sorted(n for n in self._queries if n))
            raise KeyError(
                f"Query handler for '{name}' expected but not found, known queries: [{known}]"
            )
        args = self._handler_args(defn, name, args_payloads)
        query_input = wi.HandleQueryInput(
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

    def _built_in_queries(self) -> dict[str | None, QueryDefinition]:
        """The queries every workflow answers, as in temporalio: registered like the
        class's own (a class may override them; they are listed as known queries)."""
        answers = (
            ("__stack_trace", self._stack_trace, str),
            ("__enhanced_stack_trace", self._enhanced_stack_trace, sdk.EnhancedStackTrace),
            ("__temporal_workflow_metadata", self._workflow_metadata, sdk.WorkflowMetadata),
        )
        return {
            name: QueryDefinition(name=name, fn=fn, is_method=False, arg_types=[], ret_type=ret)
            for name, fn, ret in answers
        }

    def _stack_trace(self) -> str:
        """Where every unfinished coroutine of this run is waiting (``__stack_trace``)."""
        sections = []
        for task in asyncio.all_tasks(self.loop):
            frames = traceback.StackSummary.extract(_awaited_frames(task))
            sections.append(
                f"Stack for {task!r} (most recent call last):\n{''.join(frames.format())}"
            )
        return "\n\n".join(sections)

    def _enhanced_stack_trace(self) -> Any:
        """``__enhanced_stack_trace``: every coroutine's frames and their files' source."""
        trace = sdk.EnhancedStackTrace(
            sdk=sdk.StackTraceSDKInfo(name="sdk-python", version=__version__)
        )
        for task in asyncio.all_tasks(self.loop):
            stack = trace.stacks.add()
            for frame, line in _awaited_frames(task):
                path = frame.f_code.co_filename
                if path not in trace.sources:
                    trace.sources[path].CopyFrom(
                        sdk.StackTraceFileSlice(line_offset=0, content=_source_of(path))
                    )
                stack.locations.add(
                    file_path=path, line=line, column=-1, function_name=frame.f_code.co_name
                )
        return trace

    def _workflow_metadata(self) -> Any:
        """``__temporal_workflow_metadata``: the type, its handlers and current details."""

        def interactions(table: Mapping[str | None, Any]) -> list:
            found = [
                sdk.WorkflowInteractionDefinition(
                    name=defn.name or "", description=getattr(defn, "description", None) or ""
                )
                for defn in table.values()
            ]
            return sorted(found, key=lambda d: d.name)

        return sdk.WorkflowMetadata(
            definition=sdk.WorkflowDefinition(
                type=self._info.workflow_type,
                query_definitions=interactions(self._queries),
                signal_definitions=interactions(self._signals),
                update_definitions=interactions(self._updates),
            ),
            current_details=self._details,
        )

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
        if defn is None:
            defn = table.get(None)
        if defn is None:
            raise KeyError(f"No {kind} handler for '{name}'")
        return defn

    def _handler_table(self, kind: str) -> dict[str | None, Any]:
        return {"signal": self._signals, "query": self._queries, "update": self._updates}[kind]

    def _runtime_handler_definition(
        self, kind: str, name: str | None, handler: Callable, validator: Callable | None
    ) -> Any:
        # The deprecation warning points at the user's set_dynamic_*_handler call.
        common = dict(name=name, dynamic=name is None, is_method=False, warn_stacklevel=5)
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


def _source_of(path: str) -> str:
    """A file's text for an enhanced stack trace (what it says when unreadable)."""
    try:
        with open(path, encoding="utf-8") as source:
            return source.read()
    except OSError as err:
        return f"Cannot access code.\n---\n{err.strerror}"
    except Exception as err:
        return f"Generic Error.\n\n{err!r}"


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


def _run_to_completion(coro: Any) -> Any:
    """Run a (deprecated) async query handler that must not actually suspend."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("Async query handler awaited something; queries cannot wait")
