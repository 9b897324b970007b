"""Outbound work of a workflow run: activities (remote and local), timers and
conditions, child workflows, and signals / cancellations sent to other workflows. Each
starts with a command and ends with the job that resolves it. Mixed into
``instance.WorkflowInstance``, whose state these methods share."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import hotmesh_temporal.exceptions as temporal_exceptions
from hotmesh_temporal import workflow
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime.local_markers import (
    LOCAL_CANCELLED_CAUSE,
    LOCAL_CANCELLED_MESSAGE,
)
from hotmesh_temporal._engine.runtime.loop import dropped_quietly
from hotmesh_temporal.worker import _interceptor as wi

if TYPE_CHECKING:
    from hotmesh_temporal._engine.runtime.instance import WorkflowInstance

logger = logging.getLogger("hotmesh_temporal._engine.runtime.instance")

# Seq counter kinds (see commands.py: one counter per kind, starting at 1).
ACTIVITY, TIMER, CHILD = "activity", "timer", "child"
SIGNAL_EXTERNAL, CANCEL_EXTERNAL = "signal_external", "cancel_external"


# ---------------------------------------------------------------- pending work


@dataclass
class _PendingActivity:
    seq: int
    command: c.ScheduleActivity
    future: asyncio.Future
    cancel_requested: bool = False
    backoff_timer: Any = None  # a local activity waiting out a retry backoff
    awaited: bool = False  # its handle's coroutine has begun waiting for the outcome


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
        if self._pending.awaited or self.done():
            return self._instance._cancel_activity(self._pending)
        # As temporalio: a handle cancelled before its task first ran is cancelled as
        # a task (the awaiting code gets plain CancelledError), its activity with it.
        self._instance._cancel_unawaited_activity(self._pending)
        return super().cancel(msg)


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
            wi.SignalChildWorkflowInput(
                signal=workflow._signal_name(signal),
                args=workflow._args_from(arg, args),
                child_workflow_id=self.id,
                headers={},
                event_groups=event_groups,
            )
        )

    def cancel(self, msg: Any = None) -> bool:
        # As temporalio: a message given to cancel() is the reason the child's
        # cancellation request carries (the child's workflow.cancellation_reason()).
        return self._instance._cancel_child(self._pending, msg if isinstance(msg, str) else "")


def _reason_of(cancelled: asyncio.CancelledError) -> str:
    """The message given to Task.cancel(msg), which temporalio sends as the reason."""
    return cancelled.args[0] if cancelled.args and isinstance(cancelled.args[0], str) else ""


def _uncancel_current_task() -> None:
    """Count the caught cancellation as handled (Python 3.11+), so later awaits of
    the task are not cancelled again."""
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


class OutboundWork:
    """Activities, timers, children and external workflows of one run (part of WorkflowInstance)."""

    def start_activity(self, input: Any, *, is_local: bool) -> workflow.ActivityHandle:
        """The end of the outbound chain for (local) activities: schedule the command.
        ``input`` is a worker ``StartActivityInput`` or ``StartLocalActivityInput``."""
        self._check_writable("start activity")
        # One counter for activities and local activities, as temporalio numbers them
        # (a local activity marker's seq and default activity ids depend on it).
        seq = self._next_seq(ACTIVITY)
        command = c.ScheduleActivity(
            seq=seq,
            activity_id=input.activity_id or str(seq),
            activity_type=input.activity,
            task_queue=getattr(input, "task_queue", None) or self._info.task_queue,
            arguments=[],
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
        command.arguments = self._activity_converter(command).to_payloads(list(input.args))
        result_type = input.ret_type
        pending = _PendingActivity(seq, command, self.loop.create_future())
        self._activities[(is_local, seq)] = pending
        self.add_command(command)
        return _ActivityHandle(self, pending, self._activity_result(pending, result_type))

    async def _activity_result(self, pending: _PendingActivity, result_type: Any | None) -> Any:
        pending.awaited = True
        payload = await pending.future
        if payload is None:
            return None
        return self._activity_converter(pending.command).from_payload(payload, result_type)

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
            context = self._activity_context(pending.command)
            pending.future.set_exception(self._from_failure(outcome, context))
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
        is_local = pending.command.is_local
        # As Temporal's Core: a running local activity's attempt is cancelled whatever
        # the cancellation type (ABANDON included); the type only decides whether the
        # workflow waits for the attempt's outcome.
        if is_local or cancellation != workflow.ActivityCancellationType.ABANDON:
            self.add_command(c.RequestCancelActivity(seq=pending.seq, is_local=is_local))
        if cancellation != workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED:
            if is_local:
                self._resolve_activity_cancelled(
                    pending, LOCAL_CANCELLED_MESSAGE, LOCAL_CANCELLED_CAUSE
                )
            else:
                self._resolve_activity_cancelled(pending)
        return True

    def _cancel_unawaited_activity(self, pending: _PendingActivity) -> None:
        """Cancel the activity of a handle whose task never ran (so its schedule was
        not sent yet). Nothing will await the outcome. A remote activity's schedule is
        dropped; a local one's stays with its cancellation, as Core records a cancel
        marker for it (see local_activities.run_with_local_activities)."""
        pending.cancel_requested = True
        key = (pending.command.is_local, pending.seq)
        self._activities.pop(key, None)
        self._forgotten.add(("activity",) + key)
        if pending.command.is_local:
            self.add_command(c.RequestCancelActivity(seq=pending.seq, is_local=True))
        elif not self.discard_unsent_command(pending.command):
            self.add_command(c.RequestCancelActivity(seq=pending.seq))

    def _resolve_activity_cancelled(
        self,
        pending: _PendingActivity,
        message: str = "Activity cancelled",
        cause: str = "Cancelled",  # Temporal's wording
    ) -> None:
        key = (pending.command.is_local, pending.seq)
        self._activities.pop(key, None)
        self._forgotten.add(("activity",) + key)
        error = temporal_exceptions.ActivityError(
            message,
            scheduled_event_id=0,
            started_event_id=0,
            identity="",
            activity_type=pending.command.activity_type,
            activity_id=pending.command.activity_id,
            retry_state=temporal_exceptions.RetryState.CANCEL_REQUESTED,
        )
        error.__cause__ = temporal_exceptions.CancelledError(cause)
        pending.future.set_exception(error)

    def _require_forgotten(self, key: tuple, what: str) -> None:
        if key in self._forgotten:
            return
        raise workflow.NondeterminismError(
            f"Resolution for unknown {what}: does the code still issue it?"
        )

    def _apply_FireTimer(self, job: c.FireTimer) -> None:
        self.loop.fire_timer(job.seq)

    async def wait_condition(
        self,
        fn: Callable[[], bool],
        *,
        timeout: Any | None = None,
        timeout_summary: str | None = None,
    ) -> None:
        self._check_writable("wait condition")
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
            arguments=self._other_workflow_converter(input.id).to_payloads(list(input.args)),
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
        except asyncio.CancelledError as cancelled:
            unsent = self._cancel_child_start(pending, _reason_of(cancelled))
            if not unsent or self._cancel_requested:
                raise
            # As temporalio (its core resolves such a start at once): the start that
            # never left is a ChildWorkflowError, not a cancellation of the caller.
            _uncancel_current_task()
            # Not `from`: the error's __cause__ is the CancelledError failure, as there.
            raise self._child_cancelled_before_scheduled(pending, cancelled)  # noqa: B904
        return _ChildWorkflowHandle(self, pending, self._child_result(pending, result_type))

    def _child_cancelled_before_scheduled(
        self, pending: _PendingChild, cancelled: asyncio.CancelledError
    ) -> BaseException:
        error = temporal_exceptions.ChildWorkflowError(
            f"Child Workflow Execution cancelled before scheduled: {_reason_of(cancelled)}",
            namespace=pending.command.namespace,
            workflow_id=pending.command.workflow_id,
            run_id="",
            workflow_type=pending.command.workflow_type,
            initiated_event_id=0,
            started_event_id=0,
            retry_state=temporal_exceptions.RetryState.NON_RETRYABLE_FAILURE,
        )
        error.__cause__ = temporal_exceptions.CancelledError("Cancelled")  # core sends no text
        return error

    async def _child_result(self, pending: _PendingChild, result_type: Any | None) -> Any:
        payload = await pending.result
        if payload is None:
            return None
        converter = self._other_workflow_converter(pending.command.workflow_id)
        return converter.from_payload(payload, result_type)

    def _cancel_child_start(self, pending: _PendingChild, reason: str = "") -> bool:
        """Cancel a child start; True when its command had not been sent yet."""
        self._children.pop(pending.seq, None)
        self._forgotten.add(("child", pending.seq))
        if self.discard_unsent_command(pending.command):
            return True
        self.add_command(c.CancelChildWorkflow(seq=pending.seq, reason=reason))
        return False

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
            context = self._other_workflow_context(pending.command.workflow_id)
            pending.started.set_exception(self._from_failure(job.cancelled, context))
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
            context = self._other_workflow_context(pending.command.workflow_id)
            pending.result.set_exception(self._from_failure(outcome, context))
        else:
            pending.result.set_result(job.completed)

    def _cancel_child(self, pending: _PendingChild, reason: str = "") -> bool:
        if pending.result.done() or pending.cancel_requested:
            return False
        pending.cancel_requested = True
        cancellation = workflow.ChildWorkflowCancellationType(pending.command.cancellation_type)
        if cancellation != workflow.ChildWorkflowCancellationType.ABANDON:
            self.add_command(c.CancelChildWorkflow(seq=pending.seq, reason=reason))
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
            arguments=self._other_workflow_converter(workflow_id).to_payloads(list(args)),
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
        workflow_id = command.workflow_id  # type: ignore[attr-defined]
        self._externals[(kind, seq)] = (fut, workflow_id)
        self.add_command(command)
        await fut

    def _resolve_external(self, kind: str, seq: int, failure: Any) -> None:
        entry = self._externals.pop((kind, seq), None)
        if entry is None:
            raise workflow.NondeterminismError(f"Resolution for unknown {kind} seq {seq}")
        fut, workflow_id = entry
        if fut.done():
            return
        if failure is not None:
            fut.set_exception(
                self._from_failure(failure, self._other_workflow_context(workflow_id))
            )
        else:
            fut.set_result(None)

    def _apply_ResolveSignalExternalWorkflow(self, job: c.ResolveSignalExternalWorkflow) -> None:
        self._resolve_external(SIGNAL_EXTERNAL, job.seq, job.failure)

    def _apply_ResolveRequestCancelExternalWorkflow(
        self, job: c.ResolveRequestCancelExternalWorkflow
    ) -> None:
        self._resolve_external(CANCEL_EXTERNAL, job.seq, job.failure)
