"""Messages of Temporal's ``temporal.api.namespace.v1`` package that the workflow
service's namespace calls carry (field names and numbers as Temporal's protos)."""

from __future__ import annotations

from hotmesh_temporal.api._message import (
    BOOL,
    MAP,
    STRING,
    Duration,
    Field,
    Message,
    enum_field,
    message_field,
)

__all__ = ["NamespaceConfig", "NamespaceInfo", "UpdateNamespaceInfo"]

# temporal.api.enums.v1.NamespaceState
NAMESPACE_STATE = {
    0: "NAMESPACE_STATE_UNSPECIFIED",
    1: "NAMESPACE_STATE_REGISTERED",
    2: "NAMESPACE_STATE_DEPRECATED",
    3: "NAMESPACE_STATE_DELETED",
}


class NamespaceInfo(Message):
    """A namespace's name, state, description, owner and free-form data."""

    __slots__ = ()
    _full_name = "temporal.api.namespace.v1.NamespaceInfo"
    _fields = (
        Field("name", 1, STRING),
        enum_field("state", 2, NAMESPACE_STATE),
        Field("description", 3, STRING),
        Field("owner_email", 4, STRING),
        Field("data", 5, MAP, STRING),
        Field("id", 6, STRING),
        Field("supports_schedules", 100, BOOL),
    )


class NamespaceConfig(Message):
    """A namespace's settings; here only the retention of closed runs is kept."""

    __slots__ = ()
    _full_name = "temporal.api.namespace.v1.NamespaceConfig"
    _fields = (
        message_field("workflow_execution_retention_ttl", 1, lambda: Duration),
        Field("history_archival_uri", 4, STRING),
        Field("visibility_archival_uri", 6, STRING),
        Field("custom_search_attribute_aliases", 7, MAP, STRING),
    )


class UpdateNamespaceInfo(Message):
    """What an update changes in a namespace's info (empty strings keep the value)."""

    __slots__ = ()
    _full_name = "temporal.api.namespace.v1.UpdateNamespaceInfo"
    _fields = (
        Field("description", 1, STRING),
        Field("owner_email", 2, STRING),
        Field("data", 3, MAP, STRING),
        enum_field("state", 4, NAMESPACE_STATE),
    )
