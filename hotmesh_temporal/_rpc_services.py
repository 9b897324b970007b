"""``ServiceClient.workflow_service`` and ``.operator_service``: the raw service calls
user code commonly makes, with temporalio's method names and request/response messages
(``hotmesh_temporal.api.workflowservice.v1`` / ``operatorservice.v1``), served by the
engine. Every other call raises RPCError UNIMPLEMENTED naming what to use instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, NoReturn

from hotmesh_temporal._engine.service.engine import Engine, RunRef
from hotmesh_temporal._engine.service.errors import RPCError, RPCStatusCode
from hotmesh_temporal._engine.service.namespaces import NamespaceSettings
from hotmesh_temporal._rpc_method_names import OPERATOR_SERVICE_METHODS, WORKFLOW_SERVICE_METHODS
from hotmesh_temporal.api.namespace.v1 import NamespaceConfig, NamespaceInfo
from hotmesh_temporal.api.operatorservice import v1 as ops
from hotmesh_temporal.api.workflowservice import v1 as wfs

EngineGetter = Callable[[], Awaitable[Engine]]
_REGISTERED = 1  # NamespaceState NAMESPACE_STATE_REGISTERED


def _unimplemented(service: str, name: str, instead: str) -> Callable[..., Awaitable[Any]]:
    async def call(
        self: Any,
        req: Any,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> NoReturn:
        raise RPCError(
            f"{service}.{name} is not served by hotmesh_temporal (there is no Temporal "
            f"server; the client talks SQL to Postgres): {instead}",
            RPCStatusCode.UNIMPLEMENTED,
            b"",
        )

    call.__name__ = call.__qualname__ = name
    return call


def _fill_unimplemented(cls: type[_Service], names: tuple[str, ...]) -> None:
    """Give ``cls`` every method of Temporal's service that it does not serve."""
    for name in names:
        if name not in vars(cls):
            setattr(cls, name, _unimplemented(cls._name, name, cls._instead))


class _Service:
    """Calls take temporalio's ``(req, retry=, metadata=, timeout=)``; retry, metadata
    and timeout are accepted and have no effect on a database call."""

    _name = ""
    _instead = ""

    def __init__(self, client: Any) -> None:
        # client: the ServiceClient (typed Any: service.py imports this module).
        self.client = client
        self._engine: EngineGetter = client._engine


_DEFAULT_NAMESPACE = "default"
_NAMESPACE_PAGE_SIZE = 100  # Temporal's page when a request gives no page size


def _settings_message(settings: NamespaceSettings, response: Any) -> Any:
    response.namespace_info.CopyFrom(
        NamespaceInfo(
            name=settings.namespace,
            state=_REGISTERED,
            description=settings.description,
            owner_email=settings.owner_email,
            data=dict(settings.data),
            id=settings.namespace,
            supports_schedules=True,
        )
    )
    config = NamespaceConfig()
    config.workflow_execution_retention_ttl.FromTimedelta(settings.retention)
    response.config.CopyFrom(config)
    return response


class WorkflowService(_Service):
    """The workflow service: namespaces, deleting a run, describing a task queue."""

    _name = "WorkflowService"
    _instead = (
        "use the Client's methods (start_workflow, get_workflow_handle, list_workflows, "
        "create_schedule, ...) or query the tables with SQL (docs/sql-guide.md)"
    )

    async def register_namespace(
        self,
        req: wfs.RegisterNamespaceRequest,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> wfs.RegisterNamespaceResponse:
        """Register a namespace with its retention (RPCError ALREADY_EXISTS if it is
        registered; a retention under the deployment's minimum is INVALID_ARGUMENT)."""
        if not req.namespace:
            raise RPCError("Namespace is empty.", RPCStatusCode.INVALID_ARGUMENT, b"")
        retention = (
            req.workflow_execution_retention_period.ToTimedelta()
            if req.HasField("workflow_execution_retention_period")
            else None
        )
        await (await self._engine()).register_namespace(
            req.namespace,
            retention=retention,
            description=req.description,
            owner_email=req.owner_email,
            data=dict(req.data),
        )
        return wfs.RegisterNamespaceResponse()

    async def describe_namespace(
        self,
        req: wfs.DescribeNamespaceRequest,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> wfs.DescribeNamespaceResponse:
        """A namespace's info and retention: RPCError NOT_FOUND for a namespace never
        registered, as Temporal, except ``default`` (which a Temporal dev server
        registers, and which has the deployment's defaults until registered here)."""
        name = req.namespace or req.id
        if not name:
            raise RPCError("Namespace is empty.", RPCStatusCode.INVALID_ARGUMENT, b"")
        settings = await (await self._engine()).describe_namespace(name)
        if settings.created_at is None and name != _DEFAULT_NAMESPACE:
            raise RPCError(f"Namespace {name} is not found.", RPCStatusCode.NOT_FOUND, b"")
        return _settings_message(settings, wfs.DescribeNamespaceResponse())

    async def list_namespaces(
        self,
        req: wfs.ListNamespacesRequest,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> wfs.ListNamespacesResponse:
        """The registered namespaces (and ``default``) by name, ``page_size`` a page
        (Temporal's 100 when 0); ``next_page_token`` continues after the page's last
        name and is empty after the last page."""
        engine = await self._engine()
        listed = {s.namespace: s for s in await engine.list_namespaces()}
        if _DEFAULT_NAMESPACE not in listed:
            listed[_DEFAULT_NAMESPACE] = await engine.describe_namespace(_DEFAULT_NAMESPACE)
        size = req.page_size if req.page_size > 0 else _NAMESPACE_PAGE_SIZE
        after = req.next_page_token.decode("utf-8", "replace")
        names = [n for n in sorted(listed) if n > after] if after else sorted(listed)
        response = wfs.ListNamespacesResponse()
        for name in names[:size]:
            response.namespaces.append(
                _settings_message(listed[name], wfs.DescribeNamespaceResponse())
            )
        if len(names) > size:
            response.next_page_token = names[size - 1].encode()
        return response

    async def update_namespace(
        self,
        req: wfs.UpdateNamespaceRequest,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> wfs.UpdateNamespaceResponse:
        """Change a namespace's description, owner email, data (merged into the current
        data, as Temporal does) and retention; what the request leaves empty is kept."""
        if not req.namespace:
            raise RPCError("Namespace is empty.", RPCStatusCode.INVALID_ARGUMENT, b"")
        engine = await self._engine()
        current = await engine.describe_namespace(req.namespace)
        if current.created_at is None and req.namespace != _DEFAULT_NAMESPACE:
            raise RPCError(f"Namespace {req.namespace} is not found.", RPCStatusCode.NOT_FOUND, b"")
        info = req.update_info
        data = None
        if info.data:
            data = {**current.data, **dict(info.data)}
        retention = (
            req.config.workflow_execution_retention_ttl.ToTimedelta()
            if req.config.HasField("workflow_execution_retention_ttl")
            else None
        )
        settings = await engine.update_namespace(
            req.namespace,
            retention=retention,
            description=info.description or None,
            owner_email=info.owner_email or None,
            data=data,
        )
        return _settings_message(settings, wfs.UpdateNamespaceResponse())

    async def delete_workflow_execution(
        self,
        req: wfs.DeleteWorkflowExecutionRequest,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> wfs.DeleteWorkflowExecutionResponse:
        """Delete a run and its history now; a running run is terminated first. Without
        a run id, the latest run of the workflow id."""
        execution = req.workflow_execution
        if not execution.workflow_id:
            raise RPCError("WorkflowId is not set on request.", RPCStatusCode.INVALID_ARGUMENT, b"")
        ref = RunRef(req.namespace or "default", execution.workflow_id, execution.run_id or None)
        await (await self._engine()).delete_workflow(ref)
        return wfs.DeleteWorkflowExecutionResponse()

    async def describe_task_queue(
        self,
        req: wfs.DescribeTaskQueueRequest,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> wfs.DescribeTaskQueueResponse:
        """An empty poller list: workers claim tasks from Postgres with SKIP LOCKED
        rather than polling a server, and the engine keeps no record of them."""
        if not req.task_queue.name:
            raise RPCError("TaskQueue is not set on request.", RPCStatusCode.INVALID_ARGUMENT, b"")
        return wfs.DescribeTaskQueueResponse()


# The system attributes a list filter can name here, with the types Temporal gives them
# (IndexedValueType numbers: 2 Keyword, 3 Int, 6 Datetime).
SYSTEM_SEARCH_ATTRIBUTES = {
    "WorkflowId": 2,
    "WorkflowType": 2,
    "RunId": 2,
    "TaskQueue": 2,
    "ExecutionStatus": 2,
    "StartTime": 6,
    "CloseTime": 6,
    "ExecutionTime": 6,
    "HistoryLength": 3,
    "HistorySizeBytes": 3,
    "ParentWorkflowId": 2,
    "ParentRunId": 2,
    "RootWorkflowId": 2,
    "RootRunId": 2,
}


class OperatorService(_Service):
    """The operator service: custom search attributes, per namespace (an empty
    namespace in a request is ``default``)."""

    _name = "OperatorService"
    _instead = "namespaces are managed with client.workflow_service (docs/operations.md)"

    async def _registry(self, namespace: str, call: str) -> Any:
        """The namespace's search-attribute registry (service/search_attributes.py)."""
        engine = await self._engine()
        return engine.search_attributes(namespace or "default")

    async def add_search_attributes(
        self,
        req: ops.AddSearchAttributesRequest,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> ops.AddSearchAttributesResponse:
        """Register custom search attributes with their types (a name registered
        already keeps its first type; a system attribute's name is INVALID_ARGUMENT)."""
        if not req.search_attributes:
            raise RPCError(
                "SearchAttributes are not set on request.", RPCStatusCode.INVALID_ARGUMENT, b""
            )
        registry = await self._registry(req.namespace, "add_search_attributes")
        await registry.register(dict(req.search_attributes))
        return ops.AddSearchAttributesResponse()

    async def list_search_attributes(
        self,
        req: ops.ListSearchAttributesRequest,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> ops.ListSearchAttributesResponse:
        """The namespace's registered custom attributes and the system attributes."""
        registry = await self._registry(req.namespace, "list_search_attributes")
        registered = await registry.registered()
        return ops.ListSearchAttributesResponse(
            custom_attributes={name: int(kind) for name, kind in registered.items()},
            system_attributes=dict(SYSTEM_SEARCH_ATTRIBUTES),
        )

    async def remove_search_attributes(
        self,
        req: ops.RemoveSearchAttributesRequest,
        retry: bool = False,
        metadata: Mapping[str, str | bytes] = {},
        timeout: timedelta | None = None,
    ) -> ops.RemoveSearchAttributesResponse:
        """Unregister custom search attributes (an unknown name is ignored)."""
        registry = await self._registry(req.namespace, "remove_search_attributes")
        await registry.remove(list(req.search_attributes))
        return ops.RemoveSearchAttributesResponse()


_fill_unimplemented(WorkflowService, WORKFLOW_SERVICE_METHODS)
_fill_unimplemented(OperatorService, OPERATOR_SERVICE_METHODS)
