"""Workflow id reuse and id conflict policies, and WorkflowAlreadyStartedError."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import WorkflowExecutionStatus, WorkflowFailureError
from hotmesh_temporal.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from hotmesh_temporal.exceptions import ApplicationError, WorkflowAlreadyStartedError
from hotmesh_temporal.worker import Worker

Reuse = WorkflowIDReusePolicy
Conflict = WorkflowIDConflictPolicy


@workflow.defn
class Outcome:
    def __init__(self) -> None:
        self.release = False

    @workflow.run
    async def run(self, outcome: str) -> str:
        if outcome == "wait":
            await workflow.wait_condition(lambda: self.release)
        if outcome == "fail":
            raise ApplicationError("failed on purpose", non_retryable=True)
        return outcome

    @workflow.signal
    def go(self) -> None:
        self.release = True


def wf_id() -> str:
    return f"ids-{uuid.uuid4()}"


async def close_with(client, task_queue: str, workflow_id: str, how: str):
    """Run one workflow with this id to the given end state and return its handle."""
    # The run to terminate is never given to a worker (its first task is an hour
    # away), so the test does not depend on how a termination races a workflow task.
    handle = await client.start_workflow(
        Outcome.run,
        "wait" if how in ("terminate", "cancel") else how,
        id=workflow_id,
        task_queue=task_queue,
        start_delay=timedelta(hours=1) if how == "terminate" else None,
    )
    if how == "terminate":
        await handle.terminate("test")
    elif how == "cancel":
        await handle.cancel()
    try:
        await handle.result()
    except WorkflowFailureError:
        pass
    return handle


async def start(client, task_queue: str, workflow_id: str, **policies):
    return await client.start_workflow(
        Outcome.run, "done", id=workflow_id, task_queue=task_queue, **policies
    )


@pytest.mark.parametrize(
    "policy, previous, allowed",
    [
        (Reuse.ALLOW_DUPLICATE, "done", True),
        (Reuse.ALLOW_DUPLICATE, "fail", True),
        (Reuse.ALLOW_DUPLICATE_FAILED_ONLY, "done", False),
        (Reuse.ALLOW_DUPLICATE_FAILED_ONLY, "fail", True),
        (Reuse.ALLOW_DUPLICATE_FAILED_ONLY, "terminate", True),
        (Reuse.ALLOW_DUPLICATE_FAILED_ONLY, "cancel", True),
        (Reuse.REJECT_DUPLICATE, "done", False),
        (Reuse.REJECT_DUPLICATE, "fail", False),
        (Reuse.TERMINATE_IF_RUNNING, "done", True),
    ],
)
async def test_reuse_policy_after_close(client, task_queue, policy, previous, allowed):
    async with Worker(client, task_queue=task_queue, workflows=[Outcome]):
        workflow_id = wf_id()
        old = await close_with(client, task_queue, workflow_id, previous)
        if allowed:
            new = await start(client, task_queue, workflow_id, id_reuse_policy=policy)
            assert new.result_run_id != old.result_run_id
            assert await new.result() == "done"
        else:
            with pytest.raises(WorkflowAlreadyStartedError) as info:
                await start(client, task_queue, workflow_id, id_reuse_policy=policy)
            assert info.value.workflow_id == workflow_id
            assert info.value.workflow_type == "Outcome"
            assert info.value.run_id == old.result_run_id


@pytest.mark.parametrize("policy", [Reuse.ALLOW_DUPLICATE, Reuse.REJECT_DUPLICATE])
async def test_running_id_fails_by_default(client, task_queue, policy):
    async with Worker(client, task_queue=task_queue, workflows=[Outcome]):
        workflow_id = wf_id()
        running = await client.start_workflow(
            Outcome.run, "wait", id=workflow_id, task_queue=task_queue
        )
        with pytest.raises(WorkflowAlreadyStartedError) as info:
            await start(client, task_queue, workflow_id, id_reuse_policy=policy)
        assert info.value.workflow_id == workflow_id
        assert info.value.run_id == running.result_run_id
        assert str(info.value) == "Workflow execution already started"
        await running.signal(Outcome.go)
        assert await running.result() == "wait"


async def test_conflict_fail(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Outcome]):
        workflow_id = wf_id()
        running = await client.start_workflow(
            Outcome.run, "wait", id=workflow_id, task_queue=task_queue
        )
        with pytest.raises(WorkflowAlreadyStartedError) as info:
            await start(client, task_queue, workflow_id, id_conflict_policy=Conflict.FAIL)
        assert info.value.run_id == running.result_run_id
        await running.terminate("cleanup")


async def test_conflict_use_existing_returns_the_running_run(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Outcome]):
        workflow_id = wf_id()
        running = await client.start_workflow(
            Outcome.run, "wait", id=workflow_id, task_queue=task_queue
        )
        again = await start(
            client, task_queue, workflow_id, id_conflict_policy=Conflict.USE_EXISTING
        )
        assert again.result_run_id == running.result_run_id
        await again.signal(Outcome.go)
        assert await again.result() == "wait"


@pytest.mark.parametrize(
    "policies",
    [
        {"id_conflict_policy": Conflict.TERMINATE_EXISTING},
        {"id_reuse_policy": Reuse.TERMINATE_IF_RUNNING},
    ],
)
async def test_terminate_the_running_run(client, task_queue, policies):
    async with Worker(client, task_queue=task_queue, workflows=[Outcome]):
        workflow_id = wf_id()
        running = await client.start_workflow(
            Outcome.run, "wait", id=workflow_id, task_queue=task_queue
        )
        new = await start(client, task_queue, workflow_id, **policies)
        assert new.result_run_id != running.result_run_id
        assert await new.result() == "done"
        old = await client.get_workflow_handle(workflow_id, run_id=running.result_run_id).describe()
        assert old.status == WorkflowExecutionStatus.TERMINATED


async def test_execute_workflow_raises_already_started_too(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Outcome]):
        workflow_id = wf_id()
        await close_with(client, task_queue, workflow_id, "done")
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.execute_workflow(
                Outcome.run,
                "done",
                id=workflow_id,
                task_queue=task_queue,
                id_reuse_policy=Reuse.REJECT_DUPLICATE,
            )


async def test_terminate_if_running_with_a_conflict_policy_is_invalid(client, task_queue):
    from hotmesh_temporal.service import RPCError, RPCStatusCode

    workflow_id = wf_id()
    with pytest.raises(RPCError) as info:
        await start(
            client,
            task_queue,
            workflow_id,
            id_reuse_policy=Reuse.TERMINATE_IF_RUNNING,
            id_conflict_policy=Conflict.FAIL,
        )
    assert info.value.status == RPCStatusCode.INVALID_ARGUMENT
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(workflow_id).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND
