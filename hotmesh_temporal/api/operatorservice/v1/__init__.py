"""Requests and responses of Temporal's ``temporal.api.operatorservice.v1`` package for
the search-attribute calls :class:`hotmesh_temporal.service.OperatorService` serves
(field names and numbers as Temporal's protos)."""

from __future__ import annotations

from hotmesh_temporal.api._message import ENUM, MAP, REPEATED, STRING, Field, Message

__all__ = [
    "AddSearchAttributesRequest",
    "AddSearchAttributesResponse",
    "ListSearchAttributesRequest",
    "ListSearchAttributesResponse",
    "RemoveSearchAttributesRequest",
    "RemoveSearchAttributesResponse",
]

# temporal.api.enums.v1.IndexedValueType
INDEXED_VALUE_TYPE = {
    0: "INDEXED_VALUE_TYPE_UNSPECIFIED",
    1: "INDEXED_VALUE_TYPE_TEXT",
    2: "INDEXED_VALUE_TYPE_KEYWORD",
    3: "INDEXED_VALUE_TYPE_INT",
    4: "INDEXED_VALUE_TYPE_DOUBLE",
    5: "INDEXED_VALUE_TYPE_BOOL",
    6: "INDEXED_VALUE_TYPE_DATETIME",
    7: "INDEXED_VALUE_TYPE_KEYWORD_LIST",
}


class AddSearchAttributesRequest(Message):
    __slots__ = ()
    _full_name = "temporal.api.operatorservice.v1.AddSearchAttributesRequest"
    _fields = (
        Field("search_attributes", 1, MAP, ENUM, enum_names=INDEXED_VALUE_TYPE),
        Field("namespace", 2, STRING),
    )


class AddSearchAttributesResponse(Message):
    __slots__ = ()
    _full_name = "temporal.api.operatorservice.v1.AddSearchAttributesResponse"
    _fields = ()


class ListSearchAttributesRequest(Message):
    __slots__ = ()
    _full_name = "temporal.api.operatorservice.v1.ListSearchAttributesRequest"
    _fields = (Field("namespace", 1, STRING),)


class ListSearchAttributesResponse(Message):
    __slots__ = ()
    _full_name = "temporal.api.operatorservice.v1.ListSearchAttributesResponse"
    _fields = (
        Field("custom_attributes", 1, MAP, ENUM, enum_names=INDEXED_VALUE_TYPE),
        Field("system_attributes", 2, MAP, ENUM, enum_names=INDEXED_VALUE_TYPE),
        Field("storage_schema", 3, MAP, STRING),
    )


class RemoveSearchAttributesRequest(Message):
    __slots__ = ()
    _full_name = "temporal.api.operatorservice.v1.RemoveSearchAttributesRequest"
    _fields = (
        Field("search_attributes", 1, REPEATED, STRING),
        Field("namespace", 2, STRING),
    )


class RemoveSearchAttributesResponse(Message):
    __slots__ = ()
    _full_name = "temporal.api.operatorservice.v1.RemoveSearchAttributesResponse"
    _fields = ()
