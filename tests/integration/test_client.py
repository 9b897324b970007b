"""Client-level behaviour: connecting, config, handles, bad input."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client, WorkflowContinuedAsNewError, WorkflowExecutionStatus
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker


@activity.defn
async def shout(value: str) -> str:
    return value.upper()


@workflow.defn
class ShoutWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            shout, value, start_to_close_timeout=timedelta(seconds=5)
        )


@workflow.defn
class HopWorkflow:
    @workflow.run
    async def run(self, hops: int) -> int:
        if hops > 0:
            workflow.continue_as_new(hops - 1)
        return hops


def wf_id() -> str:
    return f"client-{uuid.uuid4()}"


async def test_temporal_style_address_uses_hotmesh_dsn(dsn, monkeypatch, task_queue):
    monkeypatch.setenv("HOTMESH_DSN", dsn)
    client = await Client.connect("localhost:7233", namespace="default")
    try:
        twin = Client(**client.config())
        assert twin.namespace == "default" and twin.service_client is client.service_client
        async with Worker(
            twin, task_queue=task_queue, workflows=[ShoutWorkflow], activities=[shout]
        ):
            by_class = await twin.execute_workflow(
                ShoutWorkflow.run, "a", id=wf_id(), task_queue=task_queue
            )
            by_name = await twin.execute_workflow(
                "ShoutWorkflow", "b", id=wf_id(), task_queue=task_queue
            )
        assert (by_class, by_name) == ("A", "B")
    finally:
        await client.service_client.close()


async def test_unreachable_database_is_a_clear_error():
    with pytest.raises(RPCError) as err:
        await Client.connect("postgresql://postgres@127.0.0.1:1/none")
    assert err.value.status == RPCStatusCode.UNAVAILABLE


async def test_rpc_error_carries_its_grpc_status(client):
    # temporalio's RPCError.grpc_status: the call's google.rpc.Status-like message.
    missing = wf_id()
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle(missing).describe()
    status = err.value.grpc_status
    assert status.code == RPCStatusCode.NOT_FOUND == err.value.status
    assert status.message == err.value.message and missing in status.message
    assert list(status.details) == []
    assert err.value.grpc_status is status  # decoded once


async def test_handles_for_and_follow_runs(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[HopWorkflow]):
        workflow_id = wf_id()
        handle = await client.start_workflow(
            HopWorkflow.run, 2, id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == 0
        with pytest.raises(WorkflowContinuedAsNewError) as err:
            await handle.result(follow_runs=False)
        assert err.value.new_execution_run_id != handle.result_run_id
        typed = client.get_workflow_handle_for(HopWorkflow.run, workflow_id)
        assert await typed.result() == 0
        latest = await client.get_workflow_handle(workflow_id).describe()
        assert latest.status == WorkflowExecutionStatus.COMPLETED
        assert latest.run_id != handle.result_run_id


async def test_many_workers_in_one_process(client):
    queues = [f"multi-{uuid.uuid4()}" for _ in range(3)]
    workers = [
        Worker(client, task_queue=q, workflows=[ShoutWorkflow], activities=[shout]) for q in queues
    ]
    for w in workers:
        await w.__aenter__()
    try:
        results = await asyncio.gather(
            *[
                client.execute_workflow(ShoutWorkflow.run, q[:8], id=wf_id(), task_queue=q)
                for q in queues
            ]
        )
    finally:
        for w in workers:
            await w.__aexit__(None, None, None)
    assert results == [q[:8].upper() for q in queues]


async def test_value_that_cannot_be_serialized_loses_nothing(client, task_queue):
    workflow_id = wf_id()
    with pytest.raises(TypeError):
        await client.start_workflow(
            ShoutWorkflow.run, object(), id=workflow_id, task_queue=task_queue
        )
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle(workflow_id).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


@workflow.defn(name="NoSuchWorkflow")
class LateWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "late"


async def test_unregistered_workflow_type_keeps_the_run_alive(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ShoutWorkflow], activities=[shout]):
        handle = await client.start_workflow("NoSuchWorkflow", id=wf_id(), task_queue=task_queue)
        await asyncio.sleep(0.5)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    # Deploying a worker that knows the type finishes it: nothing was lost.
    async with Worker(client, task_queue=task_queue, workflows=[LateWorkflow]):
        assert await asyncio.wait_for(handle.result(), 20) == "late"


async def test_sync_activity_without_executor_is_rejected(client, task_queue):
    @activity.defn
    def blocking() -> None:
        return None

    with pytest.raises(ValueError, match="activity_executor"):
        Worker(client, task_queue=task_queue, activities=[blocking])
