"""Data converter for Pydantic v2 models and everything Pydantic can serialize.

Pass :py:data:`pydantic_data_converter` as the client's ``data_converter``::

    client = await Client.connect(..., data_converter=pydantic_data_converter)

Values are written as ``json/plain`` with ``pydantic_core.to_json`` and read
back with ``TypeAdapter.validate_json`` against the parameter's type hint, so
models (nested, generic), dataclasses, datetimes, UUIDs, IP addresses, sets
and so on round-trip. Pydantic v1 is not supported.
"""

import functools
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import SchemaSerializer, to_json
from pydantic_core.core_schema import any_schema

import hotmesh_temporal.api.common.v1
from hotmesh_temporal.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
)

__all__ = [
    "PydanticJSONPlainPayloadConverter",
    "PydanticPayloadConverter",
    "ToJsonOptions",
    "pydantic_data_converter",
]


@dataclass
class ToJsonOptions:
    """Serialization options for :py:class:`PydanticJSONPlainPayloadConverter`."""

    exclude_unset: bool = False
    """Leave out model fields that were never explicitly set."""


class PydanticJSONPlainPayloadConverter(EncodingPayloadConverter):
    """``json/plain`` converter backed by Pydantic.

    Handles Pydantic models and every type Pydantic knows (standard library
    types included). ``TypeAdapter`` objects are cached per type hint; a
    pickled converter keeps the cache size but starts with an empty cache.
    """

    def __init__(
        self,
        to_json_options: ToJsonOptions | None = None,
        *,
        max_cached_type_adapters: int | None = 1024,
    ) -> None:
        """Create the converter.

        Args:
            to_json_options: Serialization options.
            max_cached_type_adapters: Size of the LRU cache of type adapters;
                ``None`` for unbounded, 0 to disable caching.
        """
        if max_cached_type_adapters is not None and max_cached_type_adapters < 0:
            raise ValueError("max_cached_type_adapters cannot be negative")
        # A serializer for "any" value is needed to pass options to to_json.
        self._schema_serializer = SchemaSerializer(any_schema())
        self._to_json_options = to_json_options
        self._type_adapter = functools.lru_cache(maxsize=max_cached_type_adapters)(TypeAdapter)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state: the cache wrapper is replaced by its size."""
        state = self.__dict__.copy()
        state["_type_adapter"] = self._type_adapter.cache_info().maxsize
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore from :py:meth:`__getstate__` with an empty cache."""
        self.__dict__.update(state)
        self._type_adapter = functools.lru_cache(maxsize=state["_type_adapter"])(TypeAdapter)

    @property
    def encoding(self) -> str:
        """See base class."""
        return "json/plain"

    def to_payload(self, value: Any) -> hotmesh_temporal.api.common.v1.Payload | None:
        """See base class; serializes with ``pydantic_core.to_json``."""
        if self._to_json_options:
            data = self._schema_serializer.to_json(
                value, exclude_unset=self._to_json_options.exclude_unset
            )
        else:
            data = to_json(value)
        return hotmesh_temporal.api.common.v1.Payload(
            metadata={"encoding": b"json/plain"}, data=data
        )

    def from_payload(
        self,
        payload: hotmesh_temporal.api.common.v1.Payload,
        type_hint: type | None = None,
    ) -> Any:
        """See base class; validates with ``TypeAdapter(type_hint).validate_json``."""
        return self._adapter_for(Any if type_hint is None else type_hint).validate_json(
            payload.data
        )

    def _adapter_for(self, hint: Any) -> TypeAdapter[Any]:
        try:
            return self._type_adapter(hint)
        except TypeError:
            # Unhashable hints cannot be cached; anything else is a real error.
            try:
                hash(hint)
            except TypeError:
                return TypeAdapter(hint)
            raise


class PydanticPayloadConverter(CompositePayloadConverter):
    """The default converter with JSON handled by :py:class:`PydanticJSONPlainPayloadConverter`."""

    def __init__(
        self,
        to_json_options: ToJsonOptions | None = None,
        *,
        max_cached_type_adapters: int | None = 1024,
    ) -> None:
        """Create the converter.

        Args:
            to_json_options: Serialization options.
            max_cached_type_adapters: Size of the type adapter cache (see
                :py:class:`PydanticJSONPlainPayloadConverter`). To set it via a
                :py:class:`DataConverter`, subclass this with a no-argument
                ``__init__`` and pass the subclass as ``payload_converter_class``.
        """
        pydantic_json = PydanticJSONPlainPayloadConverter(
            to_json_options, max_cached_type_adapters=max_cached_type_adapters
        )
        super().__init__(
            *(
                pydantic_json if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


pydantic_data_converter = DataConverter(payload_converter_class=PydanticPayloadConverter)
"""A :py:class:`DataConverter` using :py:class:`PydanticPayloadConverter`."""
