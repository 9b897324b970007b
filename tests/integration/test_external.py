"""External workflow handles: signal and cancel other workflows from a workflow."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import WorkflowExecutionStatus, WorkflowFailureError
from hotmesh_temporal.exceptions import ApplicationError, CancelledError
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker


def wf_id(prefix: str = "ext") -> str:
    return f"{prefix}-{uuid.uuid4()}"


async def history(client, run_id: str) -> list[dict[str, Any]]:
    store = (await client._engine()).store
    return await store.fetchval("events_after", uuid.UUID(run_id), 0)


async def start_target(client, task_queue: str, wanted: int):
    return await client.start_workflow(
        Target.run, wanted, id=wf_id("target"), task_queue=task_queue
    )


async def start_sender(client, task_queue: str, target_id: str, action: str):
    return await client.start_workflow(
        Sender.run, args=[target_id, None, action], id=wf_id("sender"), task_queue=task_queue
    )


def only(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [e for e in events if e["type"] == kind]
    assert len(found) == 1, [e["type"] for e in events]
    return found[0]


@workflow.defn
class Target:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @workflow.run
    async def run(self, wanted: int) -> list[str]:
        await workflow.wait_condition(lambda: len(self.seen) >= wanted)
        return self.seen

    @workflow.signal
    def note(self, value: str) -> None:
        self.seen.append(value)


@workflow.defn
class Sender:
    @workflow.run
    async def run(self, target_id: str, run_id: str | None, action: str) -> dict[str, Any]:
        handle = workflow.get_external_workflow_handle_for(Target.run, target_id, run_id=run_id)
        try:
            if action == "signal":
                await handle.signal(Target.note, "from sender")
                await handle.signal("note", "again")
            else:
                await handle.cancel(reason="sender says stop")
        except ApplicationError as err:
            return {"error": [type(err).__name__, err.message, err.type]}
        return {"ok": [handle.id, handle.run_id]}


async def test_signal_external_workflow(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Sender, Target]):
        target = await start_target(client, task_queue, 2)
        sender = await start_sender(client, task_queue, target.id, "signal")
        assert await sender.result() == {"ok": [target.id, None]}
        assert await target.result() == ["from sender", "again"]
    sent = await history(client, sender.result_run_id)
    initiated = [e for e in sent if e["type"] == "SignalExternalWorkflowExecutionInitiated"]
    signaled = [e for e in sent if e["type"] == "ExternalWorkflowExecutionSignaled"]
    assert [e["attrs"]["signalName"] for e in initiated] == ["note", "note"]
    assert [e["attrs"]["initiatedEventId"] for e in signaled] == [str(e["id"]) for e in initiated]
    assert signaled[0]["attrs"]["workflowExecution"] == {"workflowId": target.id}
    received = [
        e
        for e in await history(client, target.result_run_id)
        if e["type"] == "WorkflowExecutionSignaled"
    ]
    assert received[0]["attrs"]["externalWorkflowExecution"] == {
        "workflowId": sender.id,
        "runId": sender.result_run_id,
    }


async def test_signal_external_by_run_id(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Sender, Target]):
        target = await start_target(client, task_queue, 2)
        result = await client.execute_workflow(
            Sender.run,
            args=[target.id, target.result_run_id, "signal"],
            id=wf_id("sender"),
            task_queue=task_queue,
        )
        assert result == {"ok": [target.id, target.result_run_id]}
        assert await target.result() == ["from sender", "again"]


NOT_FOUND_SIGNAL = [
    "ApplicationError",
    "Unable to signal external workflow because it was not found",
    "ExternalWorkflowExecutionNotFound",
]
NOT_FOUND_CANCEL = [
    "ApplicationError",
    "Unable to cancel external workflow because not found",
    "ExternalWorkflowExecutionNotFound",
]
BOTH_NOT_FOUND = [("signal", NOT_FOUND_SIGNAL), ("cancel", NOT_FOUND_CANCEL)]


@pytest.mark.parametrize(
    "action, expected", [("signal", NOT_FOUND_SIGNAL), ("cancel", NOT_FOUND_CANCEL)]
)
async def test_external_missing_workflow_fails_inside_workflow(
    client, task_queue, action, expected
):
    async with Worker(client, task_queue=task_queue, workflows=[Sender]):
        sender = await client.start_workflow(
            Sender.run,
            args=[wf_id("nobody"), None, action],
            id=wf_id("sender"),
            task_queue=task_queue,
        )
        assert await sender.result() == {"error": expected}
    failed_type = (
        "SignalExternalWorkflowExecutionFailed"
        if action == "signal"
        else "RequestCancelExternalWorkflowExecutionFailed"
    )
    failed = only(await history(client, sender.result_run_id), failed_type)
    assert failed["attrs"]["cause"].endswith("_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND")


@pytest.mark.parametrize(
    "action, expected", [("signal", NOT_FOUND_SIGNAL), ("cancel", NOT_FOUND_CANCEL)]
)
async def test_external_closed_workflow_is_not_found(client, task_queue, action, expected):
    async with Worker(client, task_queue=task_queue, workflows=[Sender, Target]):
        target = await start_target(client, task_queue, 0)
        assert await target.result() == []
        result = await client.execute_workflow(
            Sender.run, args=[target.id, None, action], id=wf_id("sender"), task_queue=task_queue
        )
        assert result == {"error": expected}


async def test_cancel_external_workflow(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Sender, Target]):
        target = await start_target(client, task_queue, 5)
        sender = await start_sender(client, task_queue, target.id, "cancel")
        assert await sender.result() == {"ok": [target.id, None]}
        with pytest.raises(WorkflowFailureError) as info:
            await target.result()
        assert isinstance(info.value.cause, CancelledError)
        assert (await target.describe()).status == WorkflowExecutionStatus.CANCELED
    requested = only(
        await history(client, target.result_run_id), "WorkflowExecutionCancelRequested"
    )
    assert requested["attrs"]["externalWorkflowExecution"] == {
        "workflowId": sender.id,
        "runId": sender.result_run_id,
    }
    sent = await history(client, sender.result_run_id)
    initiated = only(sent, "RequestCancelExternalWorkflowExecutionInitiated")
    confirmed = only(sent, "ExternalWorkflowExecutionCancelRequested")
    assert requested["attrs"]["externalInitiatedEventId"] == str(initiated["id"])
    assert requested["attrs"]["cause"] == "sender says stop"
    assert initiated["attrs"]["reason"] == "sender says stop"
    assert confirmed["attrs"]["initiatedEventId"] == str(initiated["id"])


async def test_client_signal_to_missing_workflow_is_not_found(client):
    handle = client.get_workflow_handle(wf_id("nobody"))
    with pytest.raises(RPCError) as info:
        await handle.signal("note", "x")
    assert info.value.status == RPCStatusCode.NOT_FOUND
    assert "not found" in info.value.message


async def test_client_signal_to_closed_workflow_is_not_found(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Target]):
        target = await start_target(client, task_queue, 0)
        await target.result()
    with pytest.raises(RPCError) as info:
        await target.signal(Target.note, "late")
    assert info.value.status == RPCStatusCode.NOT_FOUND
    assert "already completed" in info.value.message
