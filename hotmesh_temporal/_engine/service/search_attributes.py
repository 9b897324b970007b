"""The registry of custom search attributes, per namespace (schema/0013).

A Temporal server refuses a custom search attribute nobody registered. Here a namespace
that registers none accepts any (so nothing needs setting up before a first workflow);
once it registers one, it behaves as Temporal: starts, upserts, child starts,
continue-as-new, schedules and list filters naming an unregistered attribute, or giving
a registered one a value of the wrong type, are refused with Temporal's messages. The
database applies the rule (start_workflow and complete_workflow_task check it); this
module is what the operator service and the client call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hotmesh_temporal._engine.service.errors import RPCError, RPCStatusCode
from hotmesh_temporal._engine.store.store import Store
from hotmesh_temporal.common import SearchAttributeIndexedValueType

# Temporal's type names as search-attribute payload metadata carries them.
TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}
_BY_NAME = {name: kind for kind, name in TYPE_NAMES.items()}

ValueType = SearchAttributeIndexedValueType | int | str


def value_type(kind: ValueType) -> SearchAttributeIndexedValueType:
    """The indexed type of ``kind``: the enum, its number (``IndexedValueType`` of the
    API) or its metadata name (``"Keyword"``)."""
    if isinstance(kind, str):
        if kind not in _BY_NAME:
            raise RPCError(
                f"unknown search attribute type {kind!r}", RPCStatusCode.INVALID_ARGUMENT, b""
            )
        return _BY_NAME[kind]
    try:
        return SearchAttributeIndexedValueType(int(kind))
    except ValueError as err:
        raise RPCError(
            f"unknown search attribute type {kind!r}", RPCStatusCode.INVALID_ARGUMENT, b""
        ) from err


class SearchAttributeRegistry:
    """Register, list and remove one namespace's custom search attributes.

    ``register`` refuses the built-in names (``WorkflowId``, ``StartTime``...) as a
    Temporal server does; a name registered already keeps its first type, and removing
    an unknown name does nothing (both as the Temporal dev server)."""

    def __init__(self, store: Store, namespace: str) -> None:
        self._store = store
        self._namespace = namespace

    async def register(self, attributes: Mapping[str, ValueType]) -> None:
        from hotmesh_temporal._engine.runtime.list_filter import BUILTIN_FIELDS

        builtin = {name.lower() for name in BUILTIN_FIELDS}
        for name in attributes:
            if name.lower() in builtin:
                raise RPCError(
                    f"Search attribute {name} is reserved by system.",
                    RPCStatusCode.INVALID_ARGUMENT,
                    b"",
                )
            if not name:
                raise RPCError(
                    "search attribute name is empty", RPCStatusCode.INVALID_ARGUMENT, b""
                )
        types = {name: TYPE_NAMES[value_type(kind)] for name, kind in attributes.items()}
        await self._store.fetchval("register_search_attributes", self._namespace, types)

    async def registered(self) -> dict[str, SearchAttributeIndexedValueType]:
        rows = await self._store.fetch("registered_search_attributes", self._namespace)
        return {row["name"]: _BY_NAME[row["value_type"]] for row in rows}

    async def remove(self, names: Iterable[str]) -> None:
        await self._store.fetchval("remove_search_attributes", self._namespace, list(names))

    async def check_values(self, attributes_json: Mapping[str, Any] | None) -> None:
        """Refuse ``{name: payload JSON}`` the registry does not allow (RPCError
        INVALID_ARGUMENT with the server's message)."""
        if not attributes_json:
            return
        error = await self._store.fetchval(
            "search_attribute_error", self._namespace, dict(attributes_json)
        )
        if error is not None:
            raise RPCError(error, RPCStatusCode.INVALID_ARGUMENT, b"")

    async def check_filter_names(self, names: Sequence[str]) -> None:
        """Refuse a list filter naming an attribute the registry does not know."""
        if not names:
            return
        name = await self._store.fetchval("unregistered_filter_name", self._namespace, list(names))
        if name is not None:
            raise RPCError(
                f"invalid query: invalid search attribute: {name}",
                RPCStatusCode.INVALID_ARGUMENT,
                b"",
            )
