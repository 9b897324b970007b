"""Messages of Temporal's ``temporal.api.failure.v1`` package.

A :py:class:`Failure` is the serialized form of an error: a message, a
source, a stack trace, an optional cause chain and exactly one
``failure_info`` describing what kind of failure it is.
"""

from __future__ import annotations

from hotmesh_temporal.api._message import (
    BOOL,
    INT64,
    STRING,
    Duration,
    Field,
    Message,
    enum_field,
    message_field,
)
from hotmesh_temporal.api.common.v1 import (
    ActivityType,
    Payload,
    Payloads,
    WorkflowExecution,
    WorkflowType,
)

__all__ = [
    "ActivityFailureInfo",
    "ApplicationFailureInfo",
    "CanceledFailureInfo",
    "ChildWorkflowExecutionFailureInfo",
    "Failure",
    "MultiOperationExecutionAborted",
    "NexusHandlerFailureInfo",
    "NexusOperationFailureInfo",
    "ResetWorkflowFailureInfo",
    "ServerFailureInfo",
    "TerminatedFailureInfo",
    "TimeoutFailureInfo",
    "TIMEOUT_TYPE_NAMES",
    "RETRY_STATE_NAMES",
    "APPLICATION_ERROR_CATEGORY_NAMES",
    "NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NAMES",
]


def _names(prefix: str, *members: str) -> dict[int, str]:
    # Temporal enums are numbered in declaration order from UNSPECIFIED = 0.
    return {i: f"{prefix}_{m}" for i, m in enumerate(("UNSPECIFIED",) + members)}


TIMEOUT_TYPE_NAMES = _names(
    "TIMEOUT_TYPE", "START_TO_CLOSE", "SCHEDULE_TO_START", "SCHEDULE_TO_CLOSE", "HEARTBEAT"
)
"""JSON names of ``temporal.api.enums.v1.TimeoutType`` values by number."""

RETRY_STATE_NAMES = _names(
    "RETRY_STATE",
    "IN_PROGRESS",
    "NON_RETRYABLE_FAILURE",
    "TIMEOUT",
    "MAXIMUM_ATTEMPTS_REACHED",
    "RETRY_POLICY_NOT_SET",
    "INTERNAL_SERVER_ERROR",
    "CANCEL_REQUESTED",
)
"""JSON names of ``temporal.api.enums.v1.RetryState`` values by number."""

APPLICATION_ERROR_CATEGORY_NAMES = _names("APPLICATION_ERROR_CATEGORY", "BENIGN")
"""JSON names of ``temporal.api.enums.v1.ApplicationErrorCategory`` values."""

NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NAMES = _names(
    "NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR", "RETRYABLE", "NON_RETRYABLE"
)
"""JSON names of ``temporal.api.enums.v1.NexusHandlerErrorRetryBehavior`` values."""


class ApplicationFailureInfo(Message):
    """Details of an error raised by user code."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.ApplicationFailureInfo"
    _fields = (
        Field("type", 1, STRING),
        Field("non_retryable", 2, BOOL),
        message_field("details", 3, Payloads),
        message_field("next_retry_delay", 4, Duration),
        enum_field("category", 5, APPLICATION_ERROR_CATEGORY_NAMES),
    )


class TimeoutFailureInfo(Message):
    """Which timeout fired, with the last heartbeat details if any."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.TimeoutFailureInfo"
    _fields = (
        enum_field("timeout_type", 1, TIMEOUT_TYPE_NAMES),
        message_field("last_heartbeat_details", 2, Payloads),
    )


class CanceledFailureInfo(Message):
    """A cancellation, with optional details."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.CanceledFailureInfo"
    _fields = (message_field("details", 1, Payloads), Field("identity", 2, STRING))


class TerminatedFailureInfo(Message):
    """A forced termination."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.TerminatedFailureInfo"
    _fields = (Field("identity", 1, STRING),)


class ServerFailureInfo(Message):
    """An error raised by the server (here: by the engine) itself."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.ServerFailureInfo"
    _fields = (Field("non_retryable", 1, BOOL),)


class ResetWorkflowFailureInfo(Message):
    """A workflow reset, with the last heartbeat details if any."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.ResetWorkflowFailureInfo"
    _fields = (message_field("last_heartbeat_details", 1, Payloads),)


class ActivityFailureInfo(Message):
    """Wraps the failure of an activity as seen by its workflow."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.ActivityFailureInfo"
    _fields = (
        Field("scheduled_event_id", 1, INT64),
        Field("started_event_id", 2, INT64),
        Field("identity", 3, STRING),
        message_field("activity_type", 4, ActivityType),
        Field("activity_id", 5, STRING),
        enum_field("retry_state", 6, RETRY_STATE_NAMES),
    )


class ChildWorkflowExecutionFailureInfo(Message):
    """Wraps the failure of a child workflow as seen by its parent."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.ChildWorkflowExecutionFailureInfo"
    _fields = (
        Field("namespace", 1, STRING),
        message_field("workflow_execution", 2, WorkflowExecution),
        message_field("workflow_type", 3, WorkflowType),
        Field("initiated_event_id", 4, INT64),
        Field("started_event_id", 5, INT64),
        enum_field("retry_state", 6, RETRY_STATE_NAMES),
    )


class NexusOperationFailureInfo(Message):
    """Wraps the failure of a Nexus operation as seen by its caller."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.NexusOperationFailureInfo"
    _fields = (
        Field("scheduled_event_id", 1, INT64),
        Field("endpoint", 2, STRING),
        Field("service", 3, STRING),
        Field("operation", 4, STRING),
        Field("operation_id", 5, STRING),
        Field("operation_token", 6, STRING),
    )


class NexusHandlerFailureInfo(Message):
    """An error raised by a Nexus handler."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.NexusHandlerFailureInfo"
    _fields = (
        Field("type", 1, STRING),
        enum_field("retry_behavior", 2, NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NAMES),
    )


class MultiOperationExecutionAborted(Message):
    """Marker for an operation aborted because a sibling operation failed."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.MultiOperationExecutionAborted"
    _fields = ()


_INFO = "failure_info"


class Failure(Message):
    """A serialized error with its cause chain."""

    __slots__ = ()
    _full_name = "temporal.api.failure.v1.Failure"
    _fields = (
        Field("message", 1, STRING),
        Field("source", 2, STRING),
        Field("stack_trace", 3, STRING),
        message_field("encoded_attributes", 20, Payload),
        message_field("cause", 4, lambda: Failure),
        message_field("application_failure_info", 5, ApplicationFailureInfo, oneof=_INFO),
        message_field("timeout_failure_info", 6, TimeoutFailureInfo, oneof=_INFO),
        message_field("canceled_failure_info", 7, CanceledFailureInfo, oneof=_INFO),
        message_field("terminated_failure_info", 8, TerminatedFailureInfo, oneof=_INFO),
        message_field("server_failure_info", 9, ServerFailureInfo, oneof=_INFO),
        message_field("reset_workflow_failure_info", 10, ResetWorkflowFailureInfo, oneof=_INFO),
        message_field("activity_failure_info", 11, ActivityFailureInfo, oneof=_INFO),
        message_field(
            "child_workflow_execution_failure_info",
            12,
            ChildWorkflowExecutionFailureInfo,
            oneof=_INFO,
        ),
        message_field(
            "nexus_operation_execution_failure_info",
            13,
            NexusOperationFailureInfo,
            oneof=_INFO,
        ),
        message_field("nexus_handler_failure_info", 14, NexusHandlerFailureInfo, oneof=_INFO),
    )
