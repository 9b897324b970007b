"""Messages of Temporal's ``temporal.api.taskqueue.v1`` package that
``describe_task_queue`` carries (field names and numbers as Temporal's protos)."""

from __future__ import annotations

from hotmesh_temporal.api._message import (
    DOUBLE,
    STRING,
    Field,
    Message,
    Timestamp,
    enum_field,
    message_field,
)

__all__ = ["PollerInfo", "TaskQueue"]

# temporal.api.enums.v1.TaskQueueKind
TASK_QUEUE_KIND = {
    0: "TASK_QUEUE_KIND_UNSPECIFIED",
    1: "TASK_QUEUE_KIND_NORMAL",
    2: "TASK_QUEUE_KIND_STICKY",
}


class TaskQueue(Message):
    __slots__ = ()
    _full_name = "temporal.api.taskqueue.v1.TaskQueue"
    _fields = (
        Field("name", 1, STRING),
        enum_field("kind", 2, TASK_QUEUE_KIND),
        Field("normal_name", 3, STRING),
    )


class PollerInfo(Message):
    __slots__ = ()
    _full_name = "temporal.api.taskqueue.v1.PollerInfo"
    _fields = (
        message_field("last_access_time", 1, lambda: Timestamp),
        Field("identity", 2, STRING),
        Field("rate_per_second", 3, DOUBLE),
    )
