"""Requests and responses of Temporal's ``temporal.api.workflowservice.v1`` package for
the calls :class:`hotmesh_temporal.service.WorkflowService` serves (field names and
numbers as Temporal's protos; fields for replication and archival are left out)."""

from __future__ import annotations

from hotmesh_temporal.api._message import (
    BOOL,
    BYTES,
    INT32,
    INT64,
    MAP,
    REPEATED,
    STRING,
    Duration,
    Field,
    Message,
    enum_field,
    message_field,
)
from hotmesh_temporal.api.common.v1 import WorkflowExecution
from hotmesh_temporal.api.namespace.v1 import NamespaceConfig, NamespaceInfo, UpdateNamespaceInfo
from hotmesh_temporal.api.taskqueue.v1 import PollerInfo, TaskQueue

__all__ = [
    "DeleteWorkflowExecutionRequest",
    "DeleteWorkflowExecutionResponse",
    "DescribeNamespaceRequest",
    "DescribeNamespaceResponse",
    "DescribeTaskQueueRequest",
    "DescribeTaskQueueResponse",
    "ListNamespacesRequest",
    "ListNamespacesResponse",
    "RegisterNamespaceRequest",
    "RegisterNamespaceResponse",
    "UpdateNamespaceRequest",
    "UpdateNamespaceResponse",
]

# temporal.api.enums.v1.TaskQueueType
TASK_QUEUE_TYPE = {
    0: "TASK_QUEUE_TYPE_UNSPECIFIED",
    1: "TASK_QUEUE_TYPE_WORKFLOW",
    2: "TASK_QUEUE_TYPE_ACTIVITY",
    3: "TASK_QUEUE_TYPE_NEXUS",
}


class RegisterNamespaceRequest(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.RegisterNamespaceRequest"
    _fields = (
        Field("namespace", 1, STRING),
        Field("description", 2, STRING),
        Field("owner_email", 3, STRING),
        message_field("workflow_execution_retention_period", 4, lambda: Duration),
        Field("active_cluster_name", 6, STRING),
        Field("data", 7, MAP, STRING),
        Field("security_token", 8, STRING),
        Field("is_global_namespace", 9, BOOL),
    )


class RegisterNamespaceResponse(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.RegisterNamespaceResponse"
    _fields = ()


class DescribeNamespaceRequest(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.DescribeNamespaceRequest"
    _fields = (
        Field("namespace", 1, STRING),
        Field("id", 2, STRING),
        Field("weak_consistency", 3, BOOL),
    )


class DescribeNamespaceResponse(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.DescribeNamespaceResponse"
    _fields = (
        message_field("namespace_info", 1, lambda: NamespaceInfo),
        message_field("config", 2, lambda: NamespaceConfig),
        Field("failover_version", 4, INT64),
        Field("is_global_namespace", 5, BOOL),
    )


class ListNamespacesRequest(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.ListNamespacesRequest"
    _fields = (
        Field("page_size", 1, INT32),
        Field("next_page_token", 2, BYTES),
    )


class ListNamespacesResponse(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.ListNamespacesResponse"
    _fields = (
        Field("namespaces", 1, REPEATED, lambda: DescribeNamespaceResponse),
        Field("next_page_token", 2, BYTES),
    )


class UpdateNamespaceRequest(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.UpdateNamespaceRequest"
    _fields = (
        Field("namespace", 1, STRING),
        message_field("update_info", 2, lambda: UpdateNamespaceInfo),
        message_field("config", 3, lambda: NamespaceConfig),
        Field("security_token", 5, STRING),
        Field("delete_bad_binary", 6, STRING),
        Field("promote_namespace", 7, BOOL),
    )


class UpdateNamespaceResponse(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.UpdateNamespaceResponse"
    _fields = (
        message_field("namespace_info", 1, lambda: NamespaceInfo),
        message_field("config", 2, lambda: NamespaceConfig),
        Field("failover_version", 4, INT64),
        Field("is_global_namespace", 5, BOOL),
    )


class DeleteWorkflowExecutionRequest(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.DeleteWorkflowExecutionRequest"
    _fields = (
        Field("namespace", 1, STRING),
        message_field("workflow_execution", 2, lambda: WorkflowExecution),
    )


class DeleteWorkflowExecutionResponse(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.DeleteWorkflowExecutionResponse"
    _fields = ()


class DescribeTaskQueueRequest(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.DescribeTaskQueueRequest"
    _fields = (
        Field("namespace", 1, STRING),
        message_field("task_queue", 2, lambda: TaskQueue),
        enum_field("task_queue_type", 3, TASK_QUEUE_TYPE),
        Field("include_task_queue_status", 4, BOOL),
        Field("report_stats", 8, BOOL),
        Field("report_pollers", 9, BOOL),
    )


class DescribeTaskQueueResponse(Message):
    __slots__ = ()
    _full_name = "temporal.api.workflowservice.v1.DescribeTaskQueueResponse"
    _fields = (Field("pollers", 1, REPEATED, lambda: PollerInfo),)
