"""Cancellation reasons inside workflows, side by side with temporalio 1.35 (issue 20).

temporalio's half runs its own workflow instance fed activations
(tests/compat/temporalio_run.py); ours runs on a worker and Postgres. Checked: what a
cancelled workflow sees (the ``CancelledError``'s text and ``workflow.cancellation_reason()``,
empty reason included), the failure an ``asyncio.CancelledError`` raised by workflow
code becomes, and the reason a child's ``handle.cancel(msg)`` sends to the child.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import temporalio.bridge.proto.workflow_activation as wa
import temporalio.converter
import temporalio.workflow

from hotmesh_temporal import workflow
from hotmesh_temporal.client import WorkflowFailureError
from hotmesh_temporal.exceptions import CancelledError
from hotmesh_temporal.worker import Worker
from tests.compat.temporalio_run import TemporalioRun, defn, run_method

_CONVERTER = temporalio.converter.DataConverter.default.payload_converter


def define_catcher(wf: Any) -> type:
    @defn(wf, name="CatchesCancel", sandboxed=False)
    class CatchesCancel:
        @run_method(wf)
        async def run(self) -> list:
            try:
                await wf.wait_condition(lambda: False)
            except asyncio.CancelledError as err:
                return [str(err), list(err.args), wf.cancellation_reason()]
            return []

    return CatchesCancel


def define_raiser(wf: Any) -> type:
    @defn(wf, name="RaisesCancelled", sandboxed=False)
    class RaisesCancelled:
        @run_method(wf)
        async def run(self, message: str) -> None:
            assert wf.cancellation_reason() is None
            raise asyncio.CancelledError(message) if message else asyncio.CancelledError()

    return RaisesCancelled


def temporalio_result(completion: Any) -> Any:
    [command] = completion.successful.commands
    return _CONVERTER.from_payload(command.complete_workflow_execution.result)


@pytest.mark.parametrize("reason", ["stop now", ""])
async def test_what_a_cancelled_workflow_sees(client, task_queue, reason):
    run = TemporalioRun(define_catcher(temporalio.workflow))
    run.start()
    expected = temporalio_result(run.cancel(reason))
    assert expected == ["", [], reason]

    cls = define_catcher(workflow)
    async with Worker(client, task_queue=task_queue, workflows=[cls]):
        handle = await client.start_workflow(
            cls.run, id=f"cancel-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.query("__stack_trace")  # the run is waiting
        await handle.cancel(reason=reason)
        assert await handle.result() == expected


@pytest.mark.parametrize("message", ["boom", ""])
async def test_asyncio_cancelled_error_from_workflow_code_fails_the_run(
    client, task_queue, message
):
    run = TemporalioRun(define_raiser(temporalio.workflow))
    [command] = run.start(message).successful.commands
    failure = command.fail_workflow_execution.failure
    assert failure.HasField("canceled_failure_info")

    cls = define_raiser(workflow)
    async with Worker(client, task_queue=task_queue, workflows=[cls]):
        with pytest.raises(WorkflowFailureError) as caught:
            await client.execute_workflow(
                cls.run, message, id=f"raise-{uuid.uuid4()}", task_queue=task_queue
            )
    assert failure.message == message
    # What a client sees: temporalio's converter reads an empty message as "Cancelled".
    theirs = temporalio.converter.DataConverter.default.failure_converter.from_failure(
        failure, _CONVERTER
    )
    assert isinstance(caught.value.cause, CancelledError)
    assert caught.value.cause.message == theirs.message


def define_parent_and_child(wf: Any) -> tuple[type, type]:
    @defn(wf, name="ReasonChild", sandboxed=False)
    class ReasonChild:
        @run_method(wf)
        async def run(self) -> str | None:
            try:
                await wf.wait_condition(lambda: False)
            except asyncio.CancelledError:
                return wf.cancellation_reason()
            return "not cancelled"

    @defn(wf, name="ReasonParent", sandboxed=False)
    class ReasonParent:
        @run_method(wf)
        async def run(self, child_id: str, reason: str | None) -> str | None:
            handle = await wf.start_child_workflow(ReasonChild.run, id=child_id)
            await wf.sleep(0.5)
            if reason is None:
                handle.cancel()
            else:
                handle.cancel(reason)
            return await handle

    return ReasonParent, ReasonChild


def temporalio_child_cancel_reason(reason: str | None) -> str:
    parent, _ = define_parent_and_child(temporalio.workflow)
    run = TemporalioRun(parent)
    run.start("child-id", reason)
    started = wa.WorkflowActivationJob(
        resolve_child_workflow_execution_start=wa.ResolveChildWorkflowExecutionStart(
            seq=1,
            succeeded=wa.ResolveChildWorkflowExecutionStartSuccess(run_id="child-run"),
        )
    )
    run.activate(started)
    fired = wa.WorkflowActivationJob(fire_timer=wa.FireTimer(seq=1))
    [command] = run.activate(fired).successful.commands
    return command.cancel_child_workflow_execution.reason


@pytest.mark.parametrize("reason", ["parent is done", None])
async def test_child_cancel_message_is_the_childs_cancellation_reason(client, task_queue, reason):
    expected = temporalio_child_cancel_reason(reason)
    assert expected == (reason or "")

    parent, child = define_parent_and_child(workflow)
    child_id = f"child-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[parent, child]):
        result = await client.execute_workflow(
            parent.run, args=[child_id, reason], id=f"parent-{uuid.uuid4()}", task_queue=task_queue
        )
        history = await client.get_workflow_handle(child_id).fetch_history()
    # The child saw the reason the parent gave (temporalio sends it as the command's
    # reason; the server hands it to the child as the cancel request's cause).
    assert result == expected
    [requested] = [
        e
        for e in history.events
        if e.HasField("workflow_execution_cancel_requested_event_attributes")
    ]
    assert requested.workflow_execution_cancel_requested_event_attributes.cause == expected


def define_unsent_child_canceller(wf: Any) -> type:
    @defn(wf, name="CancelsUnsentChild", sandboxed=False)
    class CancelsUnsentChild:
        @run_method(wf)
        async def run(self, child_id: str) -> list:
            starting = asyncio.ensure_future(wf.start_child_workflow("ReasonChild", id=child_id))
            await asyncio.sleep(0)  # the start command is issued, not yet sent
            starting.cancel("changed my mind")
            try:
                await starting
            except BaseException as err:  # noqa: BLE001 - the scenario reports it
                cause = err.__cause__
                return [type(err).__name__, str(err), type(cause).__name__, str(cause)]
            return ["started"]

    return CancelsUnsentChild


def temporalio_unsent_child_outcome() -> list:
    """temporalio sends the start and its cancel (reason: the message) together; its
    core drops both and resolves the start as cancelled before scheduled."""
    from temporalio.api.failure.v1 import Failure

    run = TemporalioRun(define_unsent_child_canceller(temporalio.workflow))
    first = run.start("child-id").successful.commands
    kinds = [cmd.WhichOneof("variant") for cmd in first]
    assert kinds == ["start_child_workflow_execution", "cancel_child_workflow_execution"]
    assert first[1].cancel_child_workflow_execution.reason == "changed my mind"
    failure = Failure(
        message="Child Workflow Execution cancelled before scheduled: changed my mind"
    )
    failure.cause.canceled_failure_info.SetInParent()
    info = failure.child_workflow_execution_failure_info
    info.namespace = "default"
    info.workflow_type.name = "ReasonChild"
    info.workflow_execution.workflow_id = "child-id"
    info.retry_state = 2  # RETRY_STATE_NON_RETRYABLE_FAILURE
    resolved = wa.WorkflowActivationJob(
        resolve_child_workflow_execution_start=wa.ResolveChildWorkflowExecutionStart(
            seq=1, cancelled=wa.ResolveChildWorkflowExecutionStartCancelled(failure=failure)
        )
    )
    return temporalio_result(run.activate(resolved))


async def test_cancelling_an_unsent_child_start(client, task_queue):
    expected = temporalio_unsent_child_outcome()
    assert expected == [
        "ChildWorkflowError",
        "Child Workflow Execution cancelled before scheduled: changed my mind",
        "CancelledError",
        "Cancelled",
    ]
    cls = define_unsent_child_canceller(workflow)
    async with Worker(client, task_queue=task_queue, workflows=[cls]):
        handle = await client.start_workflow(
            cls.run, f"child-{uuid.uuid4()}", id=f"unsent-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await handle.result() == expected
        history = await handle.fetch_history()
    # Nothing about the child reached history, as with temporalio's core.
    assert not [e for e in history.events if "child" in str(e.WhichOneof("attributes")).lower()]
