"""Messages of Temporal's ``temporal.api.common.v1`` package.

Field names and numbers follow Temporal's API protos, so
``SerializeToString()`` gives the same bytes as Temporal's own classes and
``to_json_dict()`` gives Temporal's proto3 JSON.
"""

from __future__ import annotations

from hotmesh_temporal.api._message import (
    BYTES,
    DOUBLE,
    FLOAT,
    INT32,
    INT64,
    MAP,
    REPEATED,
    STRING,
    Duration,
    Field,
    Message,
    ProtoAny,
    message_field,
)

__all__ = [
    "ActivityType",
    "GrpcStatus",
    "Header",
    "Memo",
    "Payload",
    "Payloads",
    "Priority",
    "RetryPolicy",
    "SearchAttributes",
    "WorkflowExecution",
    "WorkflowType",
]


class Payload(Message):
    """A serialized value: ``metadata`` (e.g. ``encoding``) plus ``data`` bytes."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.Payload"

    class ExternalPayloadDetails(Message):
        """Size of a payload stored outside the history (external storage)."""

        __slots__ = ()
        _full_name = "temporal.api.common.v1.Payload.ExternalPayloadDetails"
        _fields = (Field("size_bytes", 1, INT64),)

    _fields = (
        Field("metadata", 1, MAP, BYTES),
        Field("data", 2, BYTES),
        Field("external_payloads", 3, REPEATED, lambda: Payload.ExternalPayloadDetails),
    )


class Payloads(Message):
    """An ordered list of payloads (e.g. the arguments of a call)."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.Payloads"
    _fields = (Field("payloads", 1, REPEATED, Payload),)


class Header(Message):
    """Headers propagated with calls, keyed by name."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.Header"
    _fields = (Field("fields", 1, MAP, Payload),)


class Memo(Message):
    """Non-indexed extra information attached to a workflow."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.Memo"
    _fields = (Field("fields", 1, MAP, Payload),)


class SearchAttributes(Message):
    """Indexed workflow attributes, each value an encoded payload."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.SearchAttributes"
    _fields = (Field("indexed_fields", 1, MAP, Payload),)


class WorkflowExecution(Message):
    """Identifies one run of a workflow."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.WorkflowExecution"
    _fields = (Field("workflow_id", 1, STRING), Field("run_id", 2, STRING))


class WorkflowType(Message):
    """A workflow type by name."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.WorkflowType"
    _fields = (Field("name", 1, STRING),)


class ActivityType(Message):
    """An activity type by name."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.ActivityType"
    _fields = (Field("name", 1, STRING),)


class RetryPolicy(Message):
    """Wire form of a retry policy (see :py:class:`hotmesh_temporal.common.RetryPolicy`)."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.RetryPolicy"
    _fields = (
        message_field("initial_interval", 1, Duration),
        Field("backoff_coefficient", 2, DOUBLE),
        message_field("maximum_interval", 3, Duration),
        Field("maximum_attempts", 4, INT32),
        Field("non_retryable_error_types", 5, REPEATED, STRING),
    )


class Priority(Message):
    """Task ordering and fairness hints."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.Priority"
    _fields = (
        Field("priority_key", 1, INT32),
        Field("fairness_key", 2, STRING),
        Field("fairness_weight", 3, FLOAT),
    )


class GrpcStatus(Message):
    """The status of a failed call, as ``google.rpc.Status``: a gRPC status ``code``, a
    ``message`` and ``details`` (messages packed in ``google.protobuf.Any``)."""

    __slots__ = ()
    _full_name = "temporal.api.common.v1.GrpcStatus"
    _fields = (
        Field("code", 1, INT32),
        Field("message", 2, STRING),
        Field("details", 3, REPEATED, ProtoAny),
    )
