"""client.workflow_service and client.operator_service: the raw service calls user code
makes, with temporalio's names and messages, on a real Postgres."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.api.common.v1 import WorkflowExecution
from hotmesh_temporal.api.namespace.v1 import NamespaceConfig, UpdateNamespaceInfo
from hotmesh_temporal.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from hotmesh_temporal.api.taskqueue.v1 import TaskQueue
from hotmesh_temporal.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    DescribeNamespaceRequest,
    DescribeTaskQueueRequest,
    ListNamespacesRequest,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)
from hotmesh_temporal.client import Client
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, value: str) -> str:
        return value


@workflow.defn
class Forever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


def _name() -> str:
    return f"ns-{uuid.uuid4().hex[:10]}"


def _register(name: str, days: float, **fields: object) -> RegisterNamespaceRequest:
    req = RegisterNamespaceRequest(namespace=name, **fields)
    req.workflow_execution_retention_period.FromTimedelta(timedelta(days=days))
    return req


async def _describe(client: Client, name: str):  # type: ignore[no-untyped-def]
    return await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=name)
    )


async def test_register_describe_and_list_a_namespace(client: Client) -> None:
    name = _name()
    await client.workflow_service.register_namespace(
        _register(name, 3, description="orders", owner_email="ops@example.com", data={"k": "v"})
    )
    described = await _describe(client, name)
    assert described.namespace_info.name == name
    assert described.namespace_info.description == "orders"
    assert described.namespace_info.owner_email == "ops@example.com"
    assert dict(described.namespace_info.data) == {"k": "v"}
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=3)

    listed = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    assert name in [n.namespace_info.name for n in listed.namespaces]

    with pytest.raises(RPCError) as err:
        await client.workflow_service.register_namespace(_register(name, 3))
    assert err.value.status == RPCStatusCode.ALREADY_EXISTS


async def test_update_changes_retention_and_keeps_what_is_not_given(client: Client) -> None:
    name = _name()
    await client.workflow_service.register_namespace(
        _register(name, 3, description="first", data={"a": "1"})
    )
    config = NamespaceConfig()
    config.workflow_execution_retention_ttl.FromTimedelta(timedelta(days=10))
    updated = await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=name, update_info=UpdateNamespaceInfo(data={"b": "2"}), config=config
        )
    )
    assert updated.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=10)
    described = await _describe(client, name)
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=10)
    assert described.namespace_info.description == "first"
    assert dict(described.namespace_info.data) == {"a": "1", "b": "2"}


async def test_a_retention_under_the_minimum_is_refused_and_changes_nothing(
    client: Client,
) -> None:
    name = _name()
    with pytest.raises(RPCError) as err:
        await client.workflow_service.register_namespace(_register(name, 0.5))
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert name not in [
        n.namespace_info.name
        for n in (await client.workflow_service.list_namespaces(ListNamespacesRequest())).namespaces
    ]

    await client.workflow_service.register_namespace(_register(name, 2))
    config = NamespaceConfig()
    config.workflow_execution_retention_ttl.FromTimedelta(timedelta(hours=1))
    with pytest.raises(RPCError) as err:
        await client.workflow_service.update_namespace(
            UpdateNamespaceRequest(namespace=name, config=config)
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    described = await _describe(client, name)
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=2)


async def _is_gone(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        return err.status == RPCStatusCode.NOT_FOUND
    return False


def _delete(client: Client, workflow_id: str, run_id: str = "") -> DeleteWorkflowExecutionRequest:
    return DeleteWorkflowExecutionRequest(
        namespace=client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
    )


async def test_delete_a_closed_and_a_running_run(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Echo, Forever]):
        closed = await client.start_workflow(
            Echo.run, "x", id=f"closed-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await closed.result() == "x"
        running = await client.start_workflow(
            Forever.run, id=f"running-{uuid.uuid4()}", task_queue=task_queue
        )

        await client.workflow_service.delete_workflow_execution(
            _delete(client, closed.id, closed.result_run_id or "")
        )
        assert await _is_gone(client, closed.id)

        await client.workflow_service.delete_workflow_execution(_delete(client, running.id))
        assert await _is_gone(client, running.id)
        with pytest.raises(RPCError) as err:
            await running.fetch_history()
        assert err.value.status == RPCStatusCode.NOT_FOUND

    with pytest.raises(RPCError) as err:
        await client.workflow_service.delete_workflow_execution(_delete(client, running.id))
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_describe_task_queue_and_calls_not_served(client: Client) -> None:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name="q"))
    )
    assert list(described.pollers) == []

    with pytest.raises(RPCError) as err:
        await client.workflow_service.get_system_info(object())
    assert err.value.status == RPCStatusCode.UNIMPLEMENTED
    assert "WorkflowService.get_system_info" in str(err.value)


async def test_add_list_and_remove_search_attributes(client: Client) -> None:
    namespace = _name()
    operator = client.operator_service
    await operator.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace, search_attributes={"CustomerId": 2, "Amount": 4}
        )
    )
    listed = await operator.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    assert dict(listed.custom_attributes) == {"CustomerId": 2, "Amount": 4}
    assert listed.system_attributes["WorkflowId"] == 2

    with pytest.raises(RPCError) as err:
        await operator.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes={"WorkflowId": 2})
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT

    await operator.remove_search_attributes(
        RemoveSearchAttributesRequest(namespace=namespace, search_attributes=["Amount"])
    )
    listed = await operator.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    assert dict(listed.custom_attributes) == {"CustomerId": 2}


async def test_describe_of_an_unregistered_namespace_is_not_found(client: Client) -> None:
    """As Temporal: NOT_FOUND with its message; ``default`` always describes."""
    name = _name()
    with pytest.raises(RPCError) as err:
        await _describe(client, name)
    assert err.value.status == RPCStatusCode.NOT_FOUND
    assert err.value.message == f"Namespace {name} is not found."
    assert (await _describe(client, "default")).namespace_info.name == "default"
    with pytest.raises(RPCError) as err:
        await client.workflow_service.update_namespace(
            UpdateNamespaceRequest(namespace=name, update_info=UpdateNamespaceInfo(description="x"))
        )
    assert err.value.status == RPCStatusCode.NOT_FOUND
    assert err.value.message == f"Namespace {name} is not found."
    with pytest.raises(RPCError):
        await _describe(client, name)  # the refused update registered nothing


async def test_list_namespaces_pages(client: Client) -> None:
    """page_size and next_page_token walk every namespace once, in name order."""
    prefix = _name()
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        await client.workflow_service.register_namespace(_register(name, 2))
    everything = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    all_names = [n.namespace_info.name for n in everything.namespaces]
    assert "default" in all_names and set(names) <= set(all_names)
    assert all_names == sorted(all_names) and not everything.next_page_token
    seen: list[str] = []
    token = b""
    while True:
        page = await client.workflow_service.list_namespaces(
            ListNamespacesRequest(page_size=2, next_page_token=token)
        )
        assert 0 < len(page.namespaces) <= 2
        seen += [n.namespace_info.name for n in page.namespaces]
        token = page.next_page_token
        if not token:
            break
    assert seen == all_names
