"""Messages of Temporal's ``temporal.api.sdk.v1`` package: what the built-in queries
``__enhanced_stack_trace`` and ``__temporal_workflow_metadata`` answer.

Field names and numbers follow Temporal's API protos (``line_offset`` is a uint32
there: for the non-negative values it holds, int32 gives the same bytes and JSON).
"""

from __future__ import annotations

from hotmesh_temporal.api._message import (
    BOOL,
    INT32,
    MAP,
    REPEATED,
    STRING,
    Field,
    Message,
    message_field,
)

__all__ = [
    "EnhancedStackTrace",
    "StackTrace",
    "StackTraceFileLocation",
    "StackTraceFileSlice",
    "StackTraceSDKInfo",
    "WorkflowDefinition",
    "WorkflowInteractionDefinition",
    "WorkflowMetadata",
]


class StackTraceSDKInfo(Message):
    """The SDK that produced a stack trace."""

    __slots__ = ()
    _full_name = "temporal.api.sdk.v1.StackTraceSDKInfo"
    _fields = (Field("name", 1, STRING), Field("version", 2, STRING))


class StackTraceFileSlice(Message):
    """Source text of one file (from ``line_offset``)."""

    __slots__ = ()
    _full_name = "temporal.api.sdk.v1.StackTraceFileSlice"
    _fields = (Field("line_offset", 1, INT32), Field("content", 2, STRING))


class StackTraceFileLocation(Message):
    """One frame: file, line, column, function."""

    __slots__ = ()
    _full_name = "temporal.api.sdk.v1.StackTraceFileLocation"
    _fields = (
        Field("file_path", 1, STRING),
        Field("line", 2, INT32),
        Field("column", 3, INT32),
        Field("function_name", 4, STRING),
        Field("internal_code", 5, BOOL),
    )


class StackTrace(Message):
    """The frames of one coroutine, outermost first."""

    __slots__ = ()
    _full_name = "temporal.api.sdk.v1.StackTrace"
    _fields = (Field("locations", 1, REPEATED, StackTraceFileLocation),)


class EnhancedStackTrace(Message):
    """Every coroutine's frames plus the source of the files they are in."""

    __slots__ = ()
    _full_name = "temporal.api.sdk.v1.EnhancedStackTrace"
    _fields = (
        message_field("sdk", 1, StackTraceSDKInfo),
        Field("sources", 2, MAP, StackTraceFileSlice),
        Field("stacks", 3, REPEATED, StackTrace),
    )


class WorkflowInteractionDefinition(Message):
    """A query, signal or update handler: its name and description."""

    __slots__ = ()
    _full_name = "temporal.api.sdk.v1.WorkflowInteractionDefinition"
    _fields = (Field("name", 1, STRING), Field("description", 2, STRING))


class WorkflowDefinition(Message):
    """A workflow type and its handlers."""

    __slots__ = ()
    _full_name = "temporal.api.sdk.v1.WorkflowDefinition"
    _fields = (
        Field("type", 1, STRING),
        Field("query_definitions", 2, REPEATED, WorkflowInteractionDefinition),
        Field("signal_definitions", 3, REPEATED, WorkflowInteractionDefinition),
        Field("update_definitions", 4, REPEATED, WorkflowInteractionDefinition),
    )


class WorkflowMetadata(Message):
    """What ``__temporal_workflow_metadata`` answers."""

    __slots__ = ()
    _full_name = "temporal.api.sdk.v1.WorkflowMetadata"
    _fields = (
        message_field("definition", 1, WorkflowDefinition),
        Field("current_details", 2, STRING),
    )
