"""Conversion between Python values and Temporal payloads, and errors and failures.

Public names, signatures and wire output match ``temporalio.converter``:
payloads carry the same ``encoding`` metadata (``binary/null``,
``binary/plain``, ``json/protobuf``, ``binary/protobuf``, ``json/plain``) and
JSON bytes are identical to what Temporal's SDK writes, so data written by
either side reads back on the other.

Layers, from the value outward:

* :py:class:`EncodingPayloadConverter` - one encoding, one value <-> one payload;
* :py:class:`CompositePayloadConverter` - tries each encoding in order;
* :py:class:`PayloadCodec` - optional bytes transform (compression, encryption);
* :py:class:`FailureConverter` - exceptions <-> ``Failure`` messages;
* :py:class:`DataConverter` - ties the above together; ``DataConverter.default``.
"""

from __future__ import annotations

import asyncio
import collections
import collections.abc
import contextlib
import contextvars
import copy
import dataclasses
import inspect
import json
import sys
import time
import traceback
import typing
import uuid
import warnings
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from itertools import zip_longest
from types import UnionType
from typing import (
    Any,
    ClassVar,
    Generic,
    Literal,
    NewType,
    TypeVar,
    get_type_hints,
    overload,
)

import hotmesh_temporal.api.common.v1
import hotmesh_temporal.api.failure.v1
import hotmesh_temporal.common
import hotmesh_temporal.exceptions
from hotmesh_temporal.api._message import MESSAGE_TYPES
from hotmesh_temporal.api._message import Message as _ApiMessage

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover
    from typing_extensions import Self

try:  # protobuf is optional: only needed for user protobuf message values
    import google.protobuf.json_format as _pb_json_format
    import google.protobuf.message as _pb_message
    import google.protobuf.symbol_database as _pb_symbol_database
except ImportError:  # pragma: no cover - exercised only without protobuf
    _pb_json_format = None  # type: ignore[assignment]
    _pb_message = None  # type: ignore[assignment]
    _pb_symbol_database = None  # type: ignore[assignment]

_Payload = hotmesh_temporal.api.common.v1.Payload
_Payloads = hotmesh_temporal.api.common.v1.Payloads
_Failure = hotmesh_temporal.api.failure.v1.Failure

__all__ = [
    "ActivitySerializationContext",
    "AdvancedJSONEncoder",
    "BinaryNullPayloadConverter",
    "BinaryPlainPayloadConverter",
    "BinaryProtoPayloadConverter",
    "CompositePayloadConverter",
    "DataConverter",
    "DefaultFailureConverter",
    "DefaultFailureConverterWithEncodedAttributes",
    "DefaultPayloadConverter",
    "EncodingPayloadConverter",
    "ExternalStorage",
    "FailureConverter",
    "JSONPlainPayloadConverter",
    "JSONProtoPayloadConverter",
    "JSONTypeConverter",
    "JSONTypeConverterUnhandled",
    "NexusSerializationContext",
    "PayloadCodec",
    "PayloadConverter",
    "SerializationContext",
    "StorageDriver",
    "StorageDriverActivityInfo",
    "StorageDriverClaim",
    "StorageDriverRetrieveContext",
    "StorageDriverSelectContext",
    "StorageDriverStoreContext",
    "StorageDriverWorkflowInfo",
    "StorageWarning",
    "TransferTypeConverter",
    "WithSerializationContext",
    "WorkflowSerializationContext",
    "create_payload_validation_error",
    "decode_search_attributes",
    "decode_typed_search_attributes",
    "default",
    "encode_search_attribute_values",
    "encode_search_attributes",
    "encode_typed_search_attribute_value",
    "transfer_type_convertible",
    "value_to_type",
]


# =============================================================================
# Serialization context
# =============================================================================


class SerializationContext(ABC):  # noqa: B024 (a marker base, as temporalio's)
    """What a conversion is for, given to converters that ask for it.

    Workflow-related conversions (start, signal, query, update, result, child
    workflows) get a :py:class:`WorkflowSerializationContext` naming the target
    workflow; activity inputs/outputs get an
    :py:class:`ActivitySerializationContext`; Nexus operations get a
    :py:class:`NexusSerializationContext`.
    """


@dataclass(frozen=True)
class WorkflowSerializationContext(SerializationContext):
    """Context of a conversion concerning one workflow."""

    namespace: str
    """Namespace of the workflow."""
    workflow_id: str
    """ID of the workflow whose input/output is converted (for schedules, may be the ID prefix)."""


@dataclass(frozen=True)
class ActivitySerializationContext(SerializationContext):
    """Context of a conversion concerning one activity."""

    namespace: str
    """Namespace of the activity."""
    activity_id: str | None
    """Activity ID, when known."""
    activity_type: str | None
    """Activity type (may be unset in some cases; do not rely on it)."""
    activity_task_queue: str | None
    """Activity task queue (may be unset in some cases; do not rely on it)."""
    workflow_id: str | None
    """ID of the calling workflow, when the activity was started by one."""
    workflow_type: str | None
    """Type of the calling workflow, when the activity was started by one."""
    is_local: bool
    """Whether this is a local activity."""


@dataclass(frozen=True)
class NexusSerializationContext(SerializationContext):
    """Context of a conversion concerning a Nexus operation.

    .. warning::
        Experimental.
    """

    endpoint: str
    """Nexus endpoint name."""
    service: str
    """Nexus service name."""
    operation: str
    """Nexus operation name."""


class WithSerializationContext(ABC):  # noqa: B024 (a marker base, as temporalio's)
    """Mixin for converters and codecs that want the serialization context.

    Before each conversion the SDK calls :py:meth:`with_context` and uses the
    returned object for that conversion.
    """

    def with_context(self, context: SerializationContext) -> Self:  # type: ignore[reportUnusedParameter]
        """Return a copy of this object that uses ``context``."""
        raise NotImplementedError()


# =============================================================================
# Payload converters
# =============================================================================

ValueT = TypeVar("ValueT")
TransferTypeT = TypeVar("TransferTypeT")
_T = TypeVar("_T")

_TRANSFER_CONVERTER_ATTR = "__temporal_transfer_type_converter"


class TransferTypeConverter(Generic[ValueT, TransferTypeT], ABC):
    """Maps a user type to a simpler "transfer" type that payload converters know.

    Register one on a class with :py:func:`transfer_type_convertible`.

    .. warning::
        Experimental.
    """

    transfer_type: type[TransferTypeT] | None = None
    """Type hint passed to the payload converter when decoding, if any."""

    @abstractmethod
    def to_transfer_type(self, value: ValueT) -> TransferTypeT:
        """Turn a user value into its transfer value."""
        raise NotImplementedError

    @abstractmethod
    def from_transfer_type(self, value: TransferTypeT, type_hint: type[ValueT]) -> ValueT:
        """Turn a decoded transfer value back into ``type_hint``."""
        raise NotImplementedError


class _TransferTypeConvertibleDecorator(Generic[ValueT, TransferTypeT]):
    def __init__(self, converter_type: type[TransferTypeConverter[ValueT, TransferTypeT]]) -> None:
        self._converter_type = converter_type

    def __call__(self, cls: type[ValueT]) -> type[ValueT]:
        if hasattr(cls, _TRANSFER_CONVERTER_ATTR):
            raise TypeError("class already has a transfer type converter")
        setattr(cls, _TRANSFER_CONVERTER_ATTR, self._converter_type())
        return cls


def transfer_type_convertible(
    converter_type: type[TransferTypeConverter[ValueT, TransferTypeT]],
) -> _TransferTypeConvertibleDecorator[ValueT, TransferTypeT]:
    """Class decorator attaching a :py:class:`TransferTypeConverter` to the class.

    .. warning::
        Experimental.
    """
    return _TransferTypeConvertibleDecorator(converter_type)


def _transfer_converter_of(value_type: object) -> TransferTypeConverter | None:
    converter = getattr(value_type, _TRANSFER_CONVERTER_ATTR, None)
    return converter if isinstance(converter, TransferTypeConverter) else None


class PayloadConverter(ABC):
    """Converts sequences of values to payloads and back."""

    default: ClassVar[PayloadConverter]
    """The default payload converter."""

    @abstractmethod
    def to_payloads(self, values: Sequence[Any]) -> list[_Payload]:
        """Convert values to payloads.

        A :py:class:`hotmesh_temporal.common.RawValue` must be passed through as
        its payload.

        Raises:
            Exception: The values cannot be converted.
        """
        raise NotImplementedError

    @abstractmethod
    def from_payloads(
        self, payloads: Sequence[_Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        """Convert payloads to values.

        ``type_hints``, when given, has one entry per payload. A
        :py:class:`hotmesh_temporal.common.RawValue` hint means "give me the
        payload wrapped, unconverted".

        Raises:
            Exception: The payloads cannot be converted.
        """
        raise NotImplementedError

    def to_payloads_wrapper(self, values: Sequence[Any]) -> _Payloads:
        """:py:meth:`to_payloads` returning a ``Payloads`` message."""
        return _Payloads(payloads=self.to_payloads(values))

    def from_payloads_wrapper(self, payloads: _Payloads | None) -> list[Any]:
        """:py:meth:`from_payloads` taking a ``Payloads`` message (or ``None``)."""
        if not payloads or not payloads.payloads:
            return []
        return self.from_payloads(payloads.payloads)

    def to_payload(self, value: Any) -> _Payload:
        """Convert one value to one payload."""
        return self.to_payloads([value])[0]

    @overload
    def from_payload(self, payload: _Payload) -> Any: ...

    @overload
    def from_payload(self, payload: _Payload, type_hint: type[ValueT]) -> ValueT: ...

    def from_payload(self, payload: _Payload, type_hint: type | None = None) -> Any:
        """Convert one payload to one value, optionally to ``type_hint``."""
        return self.from_payloads([payload], [type_hint] if type_hint else None)[0]


class EncodingPayloadConverter(ABC):
    """Converter for a single encoding, used inside a composite converter."""

    @property
    @abstractmethod
    def encoding(self) -> str:
        """The ``encoding`` metadata value this converter reads and writes."""
        raise NotImplementedError

    @abstractmethod
    def to_payload(self, value: Any) -> _Payload | None:
        """Encode ``value``, or return ``None`` if this encoding does not apply.

        Raises:
            TypeError: The value has an unsupported type.
            ValueError: The value has the right type but cannot be encoded.
            RuntimeError: Any other encoding problem.
        """
        raise NotImplementedError

    @abstractmethod
    def from_payload(self, payload: _Payload, type_hint: type | None = None) -> Any:
        """Decode a payload known to be of this encoding.

        Raises:
            RuntimeError: The payload cannot be decoded.
        """
        raise NotImplementedError


class CompositePayloadConverter(PayloadConverter, WithSerializationContext):
    """Tries its encoding converters in order when encoding; picks by ``encoding`` when decoding.

    Attributes:
        converters: The encoding converters keyed by encoding (bytes), in order.
    """

    converters: Mapping[bytes, EncodingPayloadConverter]

    def __init__(self, *converters: EncodingPayloadConverter) -> None:
        """Create a composite of ``converters`` (earlier ones take precedence)."""
        self._set_converters(*converters)

    def _set_converters(self, *converters: EncodingPayloadConverter) -> None:
        self.converters = {c.encoding.encode(): c for c in converters}

    def to_payloads(self, values: Sequence[Any]) -> list[_Payload]:
        """See base class; one payload per value.

        Raises:
            RuntimeError: No converter accepted a value.
        """
        # Serial on purpose: a stateful converter may depend on earlier values.
        return [self._value_to_payload(i, v) for i, v in enumerate(values)]

    def _value_to_payload(self, index: int, value: Any) -> _Payload:
        if isinstance(value, hotmesh_temporal.common.RawValue):
            return value.payload
        for converter in self.converters.values():
            payload = converter.to_payload(value)
            if payload is not None:
                return payload
        raise RuntimeError(f"Value at index {index} of type {type(value)} has no known converter")

    def from_payloads(
        self, payloads: Sequence[_Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        """See base class; one value per payload.

        Raises:
            KeyError: No converter for the payload's encoding.
            RuntimeError: The converter failed.
        """
        values = []
        for index, (payload, hint) in enumerate(zip_longest(payloads, type_hints or [])):
            if hint == hotmesh_temporal.common.RawValue:
                values.append(hotmesh_temporal.common.RawValue(payload))
                continue
            encoding = payload.metadata.get("encoding", b"<unknown>")
            converter = self.converters.get(encoding)
            if converter is None:
                raise KeyError(f"Unknown payload encoding {encoding.decode()}")
            try:
                values.append(converter.from_payload(payload, hint))
            except RuntimeError as err:
                raise RuntimeError(
                    f"Payload at index {index} with encoding {encoding.decode()} "
                    "could not be converted"
                ) from err
        return values

    def with_context(self, context: SerializationContext) -> Self:
        """A copy whose context-aware encoding converters got ``context``; else self."""
        converters = self.get_converters_with_context(context)
        if converters is None:
            return self
        clone = type(self)()  # subclasses must be constructible without arguments
        clone._set_converters(*converters)
        return clone

    def get_converters_with_context(
        self, context: SerializationContext
    ) -> list[EncodingPayloadConverter] | None:
        """The converters with ``context`` applied, or ``None`` if none changed."""
        changed = False
        result: list[EncodingPayloadConverter] = []
        for conv in self.converters.values():
            if isinstance(conv, WithSerializationContext):
                new = conv.with_context(context)
                changed |= new is not conv
                conv = new
            result.append(conv)
        return result if changed else None


class DefaultPayloadConverter(CompositePayloadConverter):
    """The standard converter, compatible with every Temporal SDK.

    Handles ``None``, ``bytes``, protobuf messages and anything JSON can
    represent (plus dataclasses, datetimes, UUIDs, iterables...).
    ``PayloadConverter.default`` is an instance.
    """

    default_encoding_payload_converters: tuple[EncodingPayloadConverter, ...]
    """The encoding converters used, in order."""

    def __init__(self) -> None:
        """Create the converter from :py:attr:`default_encoding_payload_converters`."""
        super().__init__(*DefaultPayloadConverter.default_encoding_payload_converters)


class BinaryNullPayloadConverter(EncodingPayloadConverter):
    """``binary/null``: the value ``None``, with empty data."""

    @property
    def encoding(self) -> str:
        """See base class."""
        return "binary/null"

    def to_payload(self, value: Any) -> _Payload | None:
        """See base class."""
        if value is None:
            return _Payload(metadata={"encoding": b"binary/null"})
        return None

    def from_payload(self, payload: _Payload, type_hint: type | None = None) -> Any:
        """See base class."""
        if payload.data:
            raise RuntimeError("Expected empty data set for binary/null")
        return None


class BinaryPlainPayloadConverter(EncodingPayloadConverter):
    """``binary/plain``: ``bytes`` values, as is."""

    @property
    def encoding(self) -> str:
        """See base class."""
        return "binary/plain"

    def to_payload(self, value: Any) -> _Payload | None:
        """See base class."""
        if isinstance(value, bytes):
            return _Payload(metadata={"encoding": b"binary/plain"}, data=value)
        return None

    def from_payload(self, payload: _Payload, type_hint: type | None = None) -> Any:
        """See base class."""
        return payload.data


def _is_google_message(value: Any) -> bool:
    return _pb_message is not None and isinstance(value, _pb_message.Message)


def _lookup_message_class(full_name: str) -> Any:
    """Find a message class by full name: ours first, then protobuf's registry."""
    cls = MESSAGE_TYPES.get(full_name)
    if cls is not None:
        return cls
    if _pb_symbol_database is None:
        raise KeyError(full_name)
    return _pb_symbol_database.Default().GetSymbol(full_name)


class JSONProtoPayloadConverter(EncodingPayloadConverter):
    """``json/protobuf``: protobuf messages as proto3 JSON.

    Works for protobuf-python messages (when ``protobuf`` is installed) and for
    this package's own API messages; ``messageType`` metadata holds the
    message's full name.
    """

    def __init__(self, ignore_unknown_fields: bool = False):
        """Create the converter.

        Args:
            ignore_unknown_fields: Skip JSON fields the message does not know
                instead of failing.
        """
        super().__init__()
        self._ignore_unknown_fields = ignore_unknown_fields

    @property
    def encoding(self) -> str:
        """See base class."""
        return "json/protobuf"

    def to_payload(self, value: Any) -> _Payload | None:
        """See base class."""
        if isinstance(value, _ApiMessage):
            as_dict = value.to_json_dict()
        elif _is_google_message(value) and value.DESCRIPTOR is not None:
            as_dict = _pb_json_format.MessageToDict(value)
        else:
            return None
        # Compact and key-sorted, exactly like Temporal's SDK writes it.
        data = json.dumps(as_dict, separators=(",", ":"), sort_keys=True).encode()
        return _Payload(
            metadata={
                "encoding": b"json/protobuf",
                "messageType": value.DESCRIPTOR.full_name.encode(),
            },
            data=data,
        )

    def from_payload(self, payload: _Payload, type_hint: type | None = None) -> Any:
        """See base class."""
        message_type = payload.metadata.get("messageType", b"<unknown>").decode()
        try:
            cls = _lookup_message_class(message_type)
        except KeyError as err:
            raise RuntimeError(f"Unknown Protobuf type {message_type}") from err
        parse_errors: tuple[type[Exception], ...] = (ValueError,)
        if _pb_json_format is not None:
            parse_errors += (_pb_json_format.ParseError,)
        try:
            if issubclass(cls, _ApiMessage):
                return cls.from_json_dict(
                    json.loads(payload.data),
                    ignore_unknown_fields=self._ignore_unknown_fields,
                )
            return _pb_json_format.Parse(
                payload.data, cls(), ignore_unknown_fields=self._ignore_unknown_fields
            )
        except parse_errors as err:
            raise RuntimeError("Failed parsing") from err


class BinaryProtoPayloadConverter(EncodingPayloadConverter):
    """``binary/protobuf``: protobuf messages in their binary wire form."""

    @property
    def encoding(self) -> str:
        """See base class."""
        return "binary/protobuf"

    def to_payload(self, value: Any) -> _Payload | None:
        """See base class."""
        if not isinstance(value, _ApiMessage) and not (
            _is_google_message(value) and value.DESCRIPTOR is not None
        ):
            return None
        return _Payload(
            metadata={
                "encoding": b"binary/protobuf",
                "messageType": value.DESCRIPTOR.full_name.encode(),
            },
            data=value.SerializeToString(),
        )

    def from_payload(self, payload: _Payload, type_hint: type | None = None) -> Any:
        """See base class."""
        message_type = payload.metadata.get("messageType", b"<unknown>").decode()
        try:
            cls = _lookup_message_class(message_type)
        except KeyError as err:
            raise RuntimeError(f"Unknown Protobuf type {message_type}") from err
        decode_errors: tuple[type[Exception], ...] = (ValueError,)
        if _pb_message is not None:
            decode_errors += (_pb_message.DecodeError,)
        try:
            value = cls()
            value.ParseFromString(payload.data)
            return value
        except decode_errors as err:
            raise RuntimeError("Failed parsing") from err


class _TemporalTransferTypePayloadConverter(PayloadConverter, WithSerializationContext):
    """Wraps a payload converter to apply registered transfer type converters.

    Outbound values with a registered converter become their transfer value
    first; inbound values decoded for such a type hint are rebuilt from it.
    """

    def __init__(self, inner_payload_converter: PayloadConverter) -> None:
        self._inner_payload_converter = inner_payload_converter

    @staticmethod
    def wrap(payload_converter: PayloadConverter) -> PayloadConverter:
        if isinstance(payload_converter, _TemporalTransferTypePayloadConverter):
            return payload_converter
        return _TemporalTransferTypePayloadConverter(payload_converter)

    def __getattr__(self, name: str) -> Any:
        # Let callers reach attributes of the wrapped converter (e.g.
        # ``converters`` of a composite) as they could in temporalio.
        if name == "_inner_payload_converter":
            raise AttributeError(name)
        return getattr(self._inner_payload_converter, name)

    def to_payloads(self, values: Sequence[Any]) -> list[_Payload]:
        converted = []
        for value in values:
            conv = _transfer_converter_of(type(value))
            converted.append(conv.to_transfer_type(value) if conv else value)
        return self._inner_payload_converter.to_payloads(converted)

    def from_payloads(
        self, payloads: Sequence[_Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        if type_hints is None:
            return self._inner_payload_converter.from_payloads(payloads, None)
        convs = [_transfer_converter_of(hint) for hint in type_hints]
        inner_hints = [c.transfer_type if c else h for c, h in zip(convs, type_hints, strict=False)]
        values = self._inner_payload_converter.from_payloads(
            payloads, typing.cast("list[type]", inner_hints)
        )
        return [
            c.from_transfer_type(v, h) if c else v
            for v, c, h in zip(values, convs, type_hints, strict=False)
        ]

    def with_context(self, context: SerializationContext) -> Self:
        inner = self._inner_payload_converter
        if not isinstance(inner, WithSerializationContext):
            return self
        new_inner = inner.with_context(context)
        return self if new_inner is inner else type(self)(new_inner)


class AdvancedJSONEncoder(json.JSONEncoder):
    """JSON encoder that also handles datetimes, dataclasses, UUIDs and iterables.

    Objects with a ``dict()`` method (Pydantic v1 models) are encoded through
    it; Pydantic v2 users should prefer
    :py:data:`hotmesh_temporal.contrib.pydantic.pydantic_data_converter`.
    """

    def default(self, o: Any) -> Any:
        """Return a JSON-representable form of ``o`` (see :py:meth:`json.JSONEncoder.default`)."""
        if isinstance(o, datetime):
            return o.isoformat()
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        as_dict = getattr(o, "dict", None)
        if callable(as_dict):
            return as_dict()
        if not isinstance(o, list) and isinstance(o, collections.abc.Iterable):
            return list(o)
        if isinstance(o, uuid.UUID):
            return str(o)
        return super().default(o)


JSONTypeConverterUnhandled = NewType("JSONTypeConverterUnhandled", object)
"""Type of :py:attr:`JSONTypeConverter.Unhandled`."""


class JSONTypeConverter(ABC):
    """Custom step turning a :py:func:`json.loads` result into a hinted type."""

    Unhandled: ClassVar[JSONTypeConverterUnhandled] = JSONTypeConverterUnhandled(object())
    """Return this from :py:meth:`to_typed_value` to decline a hint."""

    @abstractmethod
    def to_typed_value(self, hint: type, value: Any) -> Any | None | JSONTypeConverterUnhandled:
        """Convert ``value`` (a JSON-loaded scalar, list or dict) to ``hint``.

        Returns:
            The converted value, or :py:attr:`Unhandled`.
        """
        raise NotImplementedError


class JSONPlainPayloadConverter(EncodingPayloadConverter):
    """``json/plain``: everything JSON can express, rebuilt using type hints.

    Encoding is compact (no spaces) with sorted keys. Decoding honours type
    hints through :py:func:`value_to_type`.
    """

    _encoder: type[json.JSONEncoder] | None
    _decoder: type[json.JSONDecoder] | None
    _encoding: str

    def __init__(
        self,
        *,
        encoder: type[json.JSONEncoder] | None = AdvancedJSONEncoder,
        decoder: type[json.JSONDecoder] | None = None,
        encoding: str = "json/plain",
        custom_type_converters: Sequence[JSONTypeConverter] = [],
    ) -> None:
        """Create the converter.

        Args:
            encoder: JSON encoder class.
            decoder: JSON decoder class.
            encoding: ``encoding`` metadata value to use.
            custom_type_converters: Tried first when rebuilding hinted types.
        """
        super().__init__()
        self._encoder = encoder
        self._decoder = decoder
        self._encoding = encoding
        self._custom_type_converters = custom_type_converters

    @property
    def encoding(self) -> str:
        """See base class."""
        return self._encoding

    def to_payload(self, value: Any) -> _Payload | None:
        """See base class. JSON errors propagate to the caller."""
        if hasattr(value, "parse_obj"):
            warnings.warn(
                "If you're using Pydantic v2, use "
                "hotmesh_temporal.contrib.pydantic.pydantic_data_converter. "
                "Pydantic v1 models are only supported through their dict() method.",
                stacklevel=2,
            )
        data = json.dumps(value, cls=self._encoder, separators=(",", ":"), sort_keys=True)
        return _Payload(metadata={"encoding": self._encoding.encode()}, data=data.encode())

    def from_payload(self, payload: _Payload, type_hint: type | None = None) -> Any:
        """See base class."""
        try:
            obj = json.loads(payload.data, cls=self._decoder)
        except json.JSONDecodeError as err:
            raise RuntimeError("Failed parsing") from err
        if type_hint:
            obj = value_to_type(type_hint, obj, self._custom_type_converters)
        return obj


def _parse_iso_datetime(value: str) -> datetime:
    """ISO 8601 parsing; ``fromisoformat`` only accepts all of it from 3.11."""
    if sys.version_info >= (3, 11):
        return datetime.fromisoformat(value)
    text = value[:-1] + "+00:00" if value.endswith("Z") else value  # pragma: no cover
    return datetime.fromisoformat(text)  # pragma: no cover


def value_to_type(
    hint: type, value: Any, custom_converters: Sequence[JSONTypeConverter] = []
) -> Any:
    """Rebuild a value of type ``hint`` from JSON-loaded ``value``.

    Supports ``Any``, primitives, ``None``, ``datetime``, ``NewType``,
    ``Literal``, unions/``Optional``, mappings and ``TypedDict``, dataclasses,
    ``int``/``str`` enums, ``UUID``, Pydantic v1-style ``parse_obj`` classes and
    iterables (list, tuple, set, frozenset, deque), recursively.

    Args:
        hint: Target type.
        value: The JSON-loaded value.
        custom_converters: Tried first, in order; the first result that is not
            :py:attr:`JSONTypeConverter.Unhandled` wins.

    Raises:
        TypeError: ``value`` cannot be converted to ``hint``.
    """
    for conv in custom_converters:
        result = conv.to_typed_value(hint, value)
        if result is not JSONTypeConverter.Unhandled:
            return result
    for step in _VALUE_TO_TYPE_STEPS:
        result = step(hint, value, custom_converters)
        if result is not _NOT_MINE:
            return result
    raise TypeError(f"Unserializable type during conversion: {hint}")


# Each step below returns _NOT_MINE when the hint is not its kind, so
# value_to_type can try them in order (the order matters: iterables last).
_NOT_MINE = object()


def _to_simple(hint: Any, value: Any, convs: Sequence[JSONTypeConverter]) -> Any:
    if hint is Any:
        return value
    if hint is datetime:
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return _parse_iso_datetime(value)
            except ValueError as err:
                raise TypeError(f"Failed parsing datetime string: {value}") from err
        raise TypeError(f"Expected datetime or ISO8601 string, got {type(value)}")
    if hint is int or hint is float:
        if not isinstance(value, (int, float)):
            raise TypeError(f"Expected value to be int|float, was {type(value)}")
        return hint(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"Expected value to be bool, was {type(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"Expected value to be str, was {type(value)}")
        return value
    if hint is bytes:
        # Python writes bytes inside JSON as a list of numbers.
        if not isinstance(value, (str, bytes, list)):
            raise TypeError(f"Expected value to be bytes, was {type(value)}")
        return bytes(value)  # type: ignore[arg-type]
    if hint is type(None):
        if value is not None:
            raise TypeError(f"Expected None, got value of type {type(value)}")
        return None
    supertype = getattr(hint, "__supertype__", None)
    if supertype:  # NewType
        return value_to_type(supertype, value, convs)
    return _NOT_MINE


def _origin(hint: Any) -> Any:
    return getattr(hint, "__origin__", hint)


def _to_literal_or_union(hint: Any, value: Any, convs: Sequence[JSONTypeConverter]) -> Any:
    origin, args = _origin(hint), getattr(hint, "__args__", ())
    if origin is Literal:
        if value not in args:
            raise TypeError(f"Value {value} not in literal values {args}")
        return value
    if origin is typing.Union or isinstance(origin, UnionType):
        for arg in args:
            try:
                return value_to_type(arg, value, convs)
            except Exception:
                continue
        raise TypeError(f"Failed converting to {hint} from {value}")
    return _NOT_MINE


def _usable_arg(args: tuple, index: int) -> Any:
    if len(args) > index and args[index] is not Any and not isinstance(args[index], TypeVar):
        return args[index]
    return None


def _convert_key(key: Any, key_type: Any, convs: Sequence[JSONTypeConverter]) -> Any:
    # JSON object keys are always strings; recover the annotated key type.
    if isinstance(key, str):
        if key_type is int or key_type is float:
            key = key_type(key)
        elif inspect.isclass(key_type) and issubclass(key_type, Enum) and issubclass(key_type, int):
            key = int(key)
        elif key_type is bool:
            key = {"true": True, "false": False}[key]
        elif key_type is type(None):
            key = {"null": None}[key]
    if not isinstance(key_type, type) or not isinstance(key, key_type):
        key = value_to_type(key_type, key, convs)
    return key


def _to_mapping(hint: Any, value: Any, convs: Sequence[JSONTypeConverter]) -> Any:
    origin = _origin(hint)
    if not (inspect.isclass(origin) and issubclass(origin, collections.abc.Mapping)):
        return _NOT_MINE
    if not isinstance(value, collections.abc.Mapping):
        raise TypeError(f"Expected {hint}, value was {type(value)}")
    args = getattr(hint, "__args__", ())
    key_type, value_type = _usable_arg(args, 0), _usable_arg(args, 1)
    is_typed_dict = bool(
        getattr(origin, "__required_keys__", None) or getattr(origin, "__optional_keys__", None)
    )
    per_key = get_type_hints(origin) if is_typed_dict else None
    result = {}
    for key, item in value.items():
        item_type = per_key.get(key) if per_key else value_type
        if key_type:
            try:
                key = _convert_key(key, key_type, convs)
            except Exception as err:
                raise TypeError(
                    f"Failed converting key {key!r} to type {key_type} in mapping {hint}"
                ) from err
        if item_type:
            try:
                item = value_to_type(item_type, item, convs)
            except Exception as err:
                raise TypeError(
                    f"Failed converting value for key {key!r} in mapping {hint}"
                ) from err
        result[key] = item
    # Building the TypedDict runs its (light) validation.
    return hint(**result) if per_key else result


def _to_dataclass(hint: Any, value: Any, convs: Sequence[JSONTypeConverter]) -> Any:
    if not dataclasses.is_dataclass(hint):
        return _NOT_MINE
    if not isinstance(value, dict):
        raise TypeError(f"Cannot convert to dataclass {hint}, value is {type(value)} not dict")
    field_hints = get_type_hints(hint)
    init_values, late_values = {}, {}
    for field in dataclasses.fields(hint):
        if field.name not in value:
            continue  # a missing required field makes the constructor fail
        try:
            converted = value_to_type(field_hints[field.name], value[field.name], convs)
        except Exception as err:
            raise TypeError(f"Failed converting field {field.name} on dataclass {hint}") from err
        (init_values if field.init else late_values)[field.name] = converted
    obj = hint(**init_values)
    # init=False fields are serialized too; restore them (works when frozen).
    for name, item in late_values.items():
        object.__setattr__(obj, name, item)
    return obj


def _to_class_based(hint: Any, value: Any, convs: Sequence[JSONTypeConverter]) -> Any:
    parse_obj = inspect.getattr_static(hint, "parse_obj", None)
    if isinstance(parse_obj, (classmethod, staticmethod)):
        if not isinstance(value, dict):
            raise TypeError(f"Cannot convert to {hint}, value is {type(value)} not dict")
        return hint.parse_obj(value)
    if not inspect.isclass(hint):
        return _NOT_MINE
    if issubclass(hint, Enum) and issubclass(hint, int):
        if not isinstance(value, int):
            raise TypeError(
                f"Cannot convert to enum {hint}, value not an integer, value is {type(value)}"
            )
        return hint(value)
    if issubclass(hint, Enum) and issubclass(hint, str):
        if not isinstance(value, str):
            raise TypeError(
                f"Cannot convert to enum {hint}, value not a string, value is {type(value)}"
            )
        return hint(value)
    if issubclass(hint, uuid.UUID):
        return hint(value)
    return _NOT_MINE


def _element_type(hint: Any, origin: Any, args: tuple, index: int) -> Any:
    if origin is not tuple:
        return args[0]
    if len(args) > index and args[index] is not Ellipsis:
        return args[index]
    if args[-1] is Ellipsis:
        return args[-2]  # tuple[X, ...]
    raise TypeError(f"Type {hint} only expecting {len(args)} values, got at least {index + 1}")


def _to_iterable(hint: Any, value: Any, convs: Sequence[JSONTypeConverter]) -> Any:
    origin = _origin(hint)
    if not (inspect.isclass(origin) and issubclass(origin, collections.abc.Iterable)):
        return _NOT_MINE
    if not isinstance(value, collections.abc.Iterable):
        raise TypeError(f"Expected {hint}, value was {type(value)}")
    args = getattr(hint, "__args__", ())
    untyped = not args or (len(args) == 1 and (isinstance(args[0], TypeVar) or args[0] is Ellipsis))
    if untyped:
        items = list(value)
    else:
        items = []
        for i, item in enumerate(value):
            item_type = _element_type(hint, origin, args, i)
            try:
                items.append(value_to_type(item_type, item, convs))
            except Exception as err:
                raise TypeError(f"Failed converting {hint} index {i}") from err
    if origin in (tuple, set, frozenset, collections.deque):
        return origin(items)
    return items


_VALUE_TO_TYPE_STEPS: tuple[Callable[[Any, Any, Sequence[JSONTypeConverter]], Any], ...] = (
    _to_simple,
    _to_literal_or_union,
    _to_mapping,
    _to_dataclass,
    _to_class_based,
    _to_iterable,
)


DefaultPayloadConverter.default_encoding_payload_converters = (
    BinaryNullPayloadConverter(),
    BinaryPlainPayloadConverter(),
    JSONProtoPayloadConverter(),
    BinaryProtoPayloadConverter(),
    # JSON accepts nearly anything (and raises on the rest), so it goes last.
    JSONPlainPayloadConverter(),
)


# =============================================================================
# Payload codec
# =============================================================================


class PayloadCodec(ABC):
    """Transforms payload bytes, e.g. to compress or encrypt them."""

    @abstractmethod
    async def encode(self, payloads: Sequence[_Payload]) -> list[_Payload]:
        """Encode payloads (do not mutate the input).

        Returns:
            At least one and at most ``len(payloads)`` payloads.
        """
        raise NotImplementedError

    @abstractmethod
    async def decode(self, payloads: Sequence[_Payload]) -> list[_Payload]:
        """Decode payloads (do not mutate the input).

        Returns:
            At least one and at most ``len(payloads)`` payloads.
        """
        raise NotImplementedError

    async def encode_wrapper(self, payloads: _Payloads) -> None:
        """Encode the payloads of a ``Payloads`` message in place."""
        encoded = await self.encode(payloads.payloads)
        del payloads.payloads[:]
        payloads.payloads.extend(encoded)

    async def decode_wrapper(self, payloads: _Payloads) -> None:
        """Decode the payloads of a ``Payloads`` message in place."""
        decoded = await self.decode(payloads.payloads)
        del payloads.payloads[:]
        payloads.payloads.extend(decoded)

    async def encode_failure(self, failure: _Failure) -> None:
        """Encode every payload inside ``failure`` and its causes, in place."""
        await _apply_to_failure_payloads(failure, self.encode_wrapper)

    async def decode_failure(self, failure: _Failure) -> None:
        """Decode every payload inside ``failure`` and its causes, in place."""
        await _apply_to_failure_payloads(failure, self.decode_wrapper)


async def _apply_to_failure_payloads(
    failure: _Failure, cb: Callable[[_Payloads], Awaitable[None]]
) -> None:
    """Run ``cb`` on each group of payloads held by ``failure`` and its causes."""
    while True:
        if failure.HasField("encoded_attributes"):
            wrapper = _Payloads(payloads=[failure.encoded_attributes])
            await cb(wrapper)
            failure.encoded_attributes.CopyFrom(wrapper.payloads[0])
        details = _failure_info_payloads(failure)
        if details is not None:
            await cb(details)
        if not failure.HasField("cause"):
            return
        failure = failure.cause


def _failure_info_payloads(failure: _Failure) -> _Payloads | None:
    info_name = failure.WhichOneof("failure_info")
    field = {
        "application_failure_info": "details",
        "timeout_failure_info": "last_heartbeat_details",
        "canceled_failure_info": "details",
        "reset_workflow_failure_info": "last_heartbeat_details",
    }.get(info_name or "")
    if field is None:
        return None
    info = getattr(failure, info_name)  # type: ignore[arg-type]
    return getattr(info, field) if info.HasField(field) else None


# =============================================================================
# Failure converters
# =============================================================================


class FailureConverter(ABC):
    """Converts exceptions to ``Failure`` messages and back.

    In workflows, only exceptions that are
    :py:class:`hotmesh_temporal.exceptions.FailureError` fail the workflow (and
    reach this converter); others fail the workflow task instead.
    """

    default: ClassVar[FailureConverter]
    """The default failure converter."""

    @abstractmethod
    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: _Failure
    ) -> None:
        """Write ``exception`` into ``failure`` (do not mutate ``exception``)."""
        raise NotImplementedError

    @abstractmethod
    def from_failure(self, failure: _Failure, payload_converter: PayloadConverter) -> BaseException:
        """Build the exception described by ``failure`` (do not mutate ``failure``)."""
        raise NotImplementedError


class DefaultFailureConverter(FailureConverter):
    """Temporal's standard failure conversion; ``FailureConverter.default`` is one."""

    def __init__(self, *, encode_common_attributes: bool = False) -> None:
        """Create the converter.

        Args:
            encode_common_attributes: Move message and stack trace into
                ``encoded_attributes`` (a payload, so codecs can encrypt it),
                leaving the message as ``"Encoded failure"``.
        """
        super().__init__()
        self._encode_common_attributes = encode_common_attributes

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: _Failure
    ) -> None:
        """See base class."""
        if isinstance(exception, hotmesh_temporal.exceptions.FailureError):
            self._error_to_failure(exception, payload_converter, failure)
        else:
            # Any other exception travels as an ApplicationError named after its class.
            wrapped = hotmesh_temporal.exceptions.ApplicationError(
                str(exception), type=exception.__class__.__name__
            )
            wrapped.__traceback__ = exception.__traceback__
            wrapped.__cause__ = exception.__cause__
            self._error_to_failure(wrapped, payload_converter, failure)
        if self._encode_common_attributes:
            attrs = {"message": failure.message, "stack_trace": failure.stack_trace}
            failure.encoded_attributes.CopyFrom(payload_converter.to_payloads([attrs])[0])
            failure.message = "Encoded failure"
            failure.stack_trace = ""

    def _error_to_failure(
        self,
        error: hotmesh_temporal.exceptions.FailureError,
        payload_converter: PayloadConverter,
        failure: _Failure,
    ) -> None:
        if error.failure:
            # Decoded from a failure: send the original back unchanged.
            failure.CopyFrom(error.failure)
            return
        failure.message = error.message
        if error.__traceback__:
            failure.stack_trace = "\n".join(traceback.format_tb(error.__traceback__))
        # Explicit cause first, else the implicit context unless suppressed.
        if error.__cause__:
            self.to_failure(error.__cause__, payload_converter, failure.cause)
        elif not error.__suppress_context__ and error.__context__:
            self.to_failure(error.__context__, payload_converter, failure.cause)
        _set_failure_info(error, payload_converter, failure)

    def from_failure(self, failure: _Failure, payload_converter: PayloadConverter) -> BaseException:
        """See base class."""
        if failure.HasField("encoded_attributes"):
            failure = _with_decoded_attributes(failure, payload_converter)
        kind = failure.WhichOneof("failure_info")
        builder = _FAILURE_BUILDERS.get(kind or "", _build_plain_failure_error)
        err = builder(failure, payload_converter)
        err._failure = failure
        if failure.HasField("cause"):
            err.__cause__ = self.from_failure(failure.cause, payload_converter)
        return err


class DefaultFailureConverterWithEncodedAttributes(DefaultFailureConverter):
    """:py:class:`DefaultFailureConverter` that moves message and stack trace into an encoded payload."""

    def __init__(self) -> None:
        """Create the converter."""
        super().__init__(encode_common_attributes=True)


def _set_failure_info(
    error: hotmesh_temporal.exceptions.FailureError,
    payload_converter: PayloadConverter,
    failure: _Failure,
) -> None:
    """Fill the ``failure_info`` member matching the error's class."""
    exc = hotmesh_temporal.exceptions
    if isinstance(error, exc.ApplicationError):
        info = failure.application_failure_info
        info.SetInParent()
        if error.type:
            info.type = error.type
        info.non_retryable = error.non_retryable
        if error.details:
            info.details.CopyFrom(payload_converter.to_payloads_wrapper(error.details))
        if error.next_retry_delay:
            info.next_retry_delay.FromTimedelta(error.next_retry_delay)
        if error.category:
            info.category = int(error.category)
    elif isinstance(error, exc.TimeoutError):
        info = failure.timeout_failure_info
        info.SetInParent()
        info.timeout_type = int(error.type or 0)
        if error.last_heartbeat_details:
            info.last_heartbeat_details.CopyFrom(
                payload_converter.to_payloads_wrapper(error.last_heartbeat_details)
            )
    elif isinstance(error, exc.CancelledError):
        failure.canceled_failure_info.SetInParent()
        if error.details:
            failure.canceled_failure_info.details.CopyFrom(
                payload_converter.to_payloads_wrapper(error.details)
            )
    elif isinstance(error, exc.TerminatedError):
        failure.terminated_failure_info.SetInParent()
    elif isinstance(error, exc.ServerError):
        failure.server_failure_info.SetInParent()
        failure.server_failure_info.non_retryable = error.non_retryable
    elif isinstance(error, exc.ActivityError):
        _set_activity_info(error, failure.activity_failure_info)
    elif isinstance(error, exc.ChildWorkflowError):
        _set_child_info(error, failure.child_workflow_execution_failure_info)
    elif isinstance(error, exc.NexusOperationError):
        info = failure.nexus_operation_execution_failure_info
        info.SetInParent()
        info.scheduled_event_id = error.scheduled_event_id
        info.endpoint = error.endpoint
        info.service = error.service
        info.operation = error.operation
        info.operation_token = error.operation_token


def _set_activity_info(error: hotmesh_temporal.exceptions.ActivityError, info: Any) -> None:
    info.SetInParent()
    info.scheduled_event_id = error.scheduled_event_id
    info.started_event_id = error.started_event_id
    info.identity = error.identity
    info.activity_type.name = error.activity_type
    info.activity_id = error.activity_id
    info.retry_state = int(error.retry_state or 0)


def _set_child_info(error: hotmesh_temporal.exceptions.ChildWorkflowError, info: Any) -> None:
    info.SetInParent()
    info.namespace = error.namespace
    info.workflow_execution.workflow_id = error.workflow_id
    info.workflow_execution.run_id = error.run_id
    info.workflow_type.name = error.workflow_type
    info.initiated_event_id = error.initiated_event_id
    info.started_event_id = error.started_event_id
    info.retry_state = int(error.retry_state or 0)


def _with_decoded_attributes(failure: _Failure, payload_converter: PayloadConverter) -> _Failure:
    """A copy of ``failure`` with message/stack trace restored from encoded attributes."""
    copy = _Failure()
    copy.CopyFrom(failure)
    try:
        attrs = payload_converter.from_payloads([copy.encoded_attributes])[0]
    except Exception:
        # Undecodable (e.g. missing codec key): keep the placeholder message.
        return copy
    if isinstance(attrs, dict):
        if isinstance(attrs.get("message"), str):
            copy.message = attrs["message"]
        if isinstance(attrs.get("stack_trace"), str):
            copy.stack_trace = attrs["stack_trace"]
    return copy


def _retry_state(value: int) -> hotmesh_temporal.exceptions.RetryState | None:
    return hotmesh_temporal.exceptions.RetryState(int(value)) if value else None


def _build_application_error(failure: _Failure, pc: PayloadConverter) -> Any:
    info = failure.application_failure_info
    return hotmesh_temporal.exceptions.ApplicationError(
        failure.message or "Application error",
        *pc.from_payloads_wrapper(info.details),
        type=info.type or None,
        non_retryable=info.non_retryable,
        next_retry_delay=info.next_retry_delay.ToTimedelta()
        if info.HasField("next_retry_delay")
        else None,
        category=hotmesh_temporal.exceptions.ApplicationErrorCategory(int(info.category)),
    )


def _build_timeout_error(failure: _Failure, pc: PayloadConverter) -> Any:
    info = failure.timeout_failure_info
    return hotmesh_temporal.exceptions.TimeoutError(
        failure.message or "Timeout",
        type=hotmesh_temporal.exceptions.TimeoutType(int(info.timeout_type))
        if info.timeout_type
        else None,
        last_heartbeat_details=pc.from_payloads_wrapper(info.last_heartbeat_details),
    )


def _build_cancelled_error(failure: _Failure, pc: PayloadConverter) -> Any:
    details = pc.from_payloads_wrapper(failure.canceled_failure_info.details)
    return hotmesh_temporal.exceptions.CancelledError(failure.message or "Cancelled", *details)


def _build_terminated_error(failure: _Failure, pc: PayloadConverter) -> Any:
    return hotmesh_temporal.exceptions.TerminatedError(failure.message or "Terminated")


def _build_server_error(failure: _Failure, pc: PayloadConverter) -> Any:
    return hotmesh_temporal.exceptions.ServerError(
        failure.message or "Server error",
        non_retryable=failure.server_failure_info.non_retryable,
    )


def _build_activity_error(failure: _Failure, pc: PayloadConverter) -> Any:
    info = failure.activity_failure_info
    return hotmesh_temporal.exceptions.ActivityError(
        failure.message or "Activity error",
        scheduled_event_id=info.scheduled_event_id,
        started_event_id=info.started_event_id,
        identity=info.identity,
        activity_type=info.activity_type.name,
        activity_id=info.activity_id,
        retry_state=_retry_state(info.retry_state),
    )


def _build_child_error(failure: _Failure, pc: PayloadConverter) -> Any:
    info = failure.child_workflow_execution_failure_info
    return hotmesh_temporal.exceptions.ChildWorkflowError(
        failure.message or "Child workflow error",
        namespace=info.namespace,
        workflow_id=info.workflow_execution.workflow_id,
        run_id=info.workflow_execution.run_id,
        workflow_type=info.workflow_type.name,
        initiated_event_id=info.initiated_event_id,
        started_event_id=info.started_event_id,
        retry_state=_retry_state(info.retry_state),
    )


def _build_nexus_operation_error(failure: _Failure, pc: PayloadConverter) -> Any:
    info = failure.nexus_operation_execution_failure_info
    return hotmesh_temporal.exceptions.NexusOperationError(
        failure.message or "Nexus operation error",
        scheduled_event_id=info.scheduled_event_id,
        endpoint=info.endpoint,
        service=info.service,
        operation=info.operation,
        operation_token=info.operation_token,
    )


def _build_plain_failure_error(failure: _Failure, pc: PayloadConverter) -> Any:
    # Reset-workflow failures, failures without info, and Nexus handler
    # failures (the nexusrpc package is not a dependency here).
    return hotmesh_temporal.exceptions.FailureError(failure.message or "Failure error")


_FAILURE_BUILDERS: dict[str, Callable[[_Failure, PayloadConverter], Any]] = {
    "application_failure_info": _build_application_error,
    "timeout_failure_info": _build_timeout_error,
    "canceled_failure_info": _build_cancelled_error,
    "terminated_failure_info": _build_terminated_error,
    "server_failure_info": _build_server_error,
    "activity_failure_info": _build_activity_error,
    "child_workflow_execution_failure_info": _build_child_error,
    "nexus_operation_execution_failure_info": _build_nexus_operation_error,
}


# =============================================================================
# External storage (configuration types)
# =============================================================================


@dataclass(frozen=True)
class StorageDriverClaim:
    """What a storage driver needs to find a stored payload again.

    .. warning::
        Experimental.
    """

    claim_data: Mapping[str, str]
    """Driver-specific data locating the payload."""


@dataclass(frozen=True, kw_only=True)
class StorageDriverWorkflowInfo:
    """Identity of a workflow on whose behalf payloads are stored.

    .. warning::
        Experimental.
    """

    namespace: str
    id: str | None = None
    run_id: str | None = None
    type: str | None = None


@dataclass(frozen=True, kw_only=True)
class StorageDriverActivityInfo:
    """Identity of an activity on whose behalf payloads are stored.

    .. warning::
        Experimental.
    """

    namespace: str
    id: str | None = None
    run_id: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class StorageDriverStoreContext:
    """Context given to :py:meth:`StorageDriver.store`.

    .. warning::
        Experimental.
    """

    target: StorageDriverActivityInfo | StorageDriverWorkflowInfo | None = None
    """The execution the payloads belong to, if known."""


@dataclass(frozen=True)
class StorageDriverSelectContext:
    """Context given to :py:attr:`ExternalStorage.driver_selector`.

    .. warning::
        Experimental.
    """

    target: StorageDriverActivityInfo | StorageDriverWorkflowInfo | None = None
    """The execution the payload belongs to, if known."""


@dataclass(frozen=True)
class StorageDriverRetrieveContext:
    """Context given to :py:meth:`StorageDriver.retrieve`.

    .. warning::
        Experimental.
    """


class StorageDriver(ABC):
    """Stores large payloads outside the history and fetches them back.

    .. warning::
        Experimental.
    """

    @abstractmethod
    def name(self) -> str:
        """Unique name of this driver instance."""
        raise NotImplementedError

    def type(self) -> str:
        """Stable name of the driver implementation (the class name by default)."""
        return type(self).__name__

    @abstractmethod
    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[_Payload]
    ) -> list[StorageDriverClaim]:
        """Store ``payloads``; return one claim per payload."""
        raise NotImplementedError

    @abstractmethod
    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[_Payload]:
        """Fetch the payloads for ``claims``, one per claim."""
        raise NotImplementedError


class StorageWarning(RuntimeWarning):
    """Warning about external storage use.

    .. warning::
        Experimental.
    """


@dataclass
class StorageOperationMetrics:
    """What external storage did while it was tracked (see :py:meth:`track`): the
    payloads stored or retrieved, their size, the drivers used and the time spent.

    The worker tracks each workflow activation's (and query's) retrievals and stores
    separately and logs them at DEBUG on ``hotmesh_temporal.worker``, where temporalio
    hands them to its core.

    .. warning::
        Experimental.
    """

    payload_count: int = 0
    """Payloads stored or retrieved through a driver."""

    total_size: int = 0
    """Their size in bytes (``Payload.ByteSize()`` of the stored payloads)."""

    driver_names: set[str] = dataclasses.field(default_factory=set)
    """Names of the drivers that stored or retrieved them."""

    _spans: list[tuple[float, float]] = dataclasses.field(default_factory=list, repr=False)

    @property
    def total_duration(self) -> timedelta:
        """Time during which at least one driver call of a batch was running: batches
        running concurrently are counted once."""
        covered = 0.0
        reach = float("-inf")
        for start, end in sorted(self._spans):
            if end <= reach:
                continue
            covered += end - max(start, reach)
            reach = end
        return timedelta(seconds=covered)

    def record_batch(
        self, count: int, size: int, start: float, end: float, driver_names: set[str]
    ) -> None:
        """Add one batch: ``count`` payloads of ``size`` bytes between the monotonic
        times ``start`` and ``end``, through ``driver_names``."""
        self.payload_count += count
        self.total_size += size
        self.driver_names |= driver_names
        self._spans.append((start, end))

    @contextlib.contextmanager
    def track(self) -> Iterator[StorageOperationMetrics]:
        """Within this block, external storage operations of this task record here."""
        token = _tracked_storage_metrics.set(self)
        try:
            yield self
        finally:
            _tracked_storage_metrics.reset(token)


_tracked_storage_metrics: contextvars.ContextVar[StorageOperationMetrics | None] = (
    contextvars.ContextVar("hotmesh_temporal_storage_metrics", default=None)
)


def _record_storage_batch(count: int, size: int, start: float, driver_names: set[str]) -> None:
    metrics = _tracked_storage_metrics.get()
    if metrics is not None and count:
        metrics.record_batch(count, size, start, time.monotonic(), driver_names)


async def _all_or_none(calls: Sequence[Awaitable[_T]]) -> list[_T]:
    """Await ``calls`` concurrently; when one fails, cancel the others and raise."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@dataclass(frozen=True)
class ExternalStorage:
    """External storage settings for large payloads.

    Payloads of at least ``payload_size_threshold`` bytes (after the codec) are
    handed to a driver and replaced, in history, by a small reference payload;
    decoding resolves references through the driver named in them. The payloads of
    one payload list (a call's arguments, say) go to each driver in one
    :py:meth:`StorageDriver.store` call, drivers being called concurrently.

    .. warning::
        Experimental.
    """

    drivers: Sequence[StorageDriver]
    """Available drivers, with unique names; at least one."""

    driver_selector: (
        Callable[[StorageDriverSelectContext, _Payload], StorageDriver | None] | None
    ) = None
    """Chooses the driver for a payload (``None`` keeps it inline). Required with several drivers."""

    payload_size_threshold: int = 256 * 1024
    """Payloads smaller than this many bytes stay inline."""

    _target: StorageDriverActivityInfo | StorageDriverWorkflowInfo | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )
    """The workflow or activity the payloads stored through this instance belong to
    (bound by :py:meth:`_for_target`)."""

    def __post_init__(self) -> None:
        """Validate the settings."""
        if not self.drivers:
            raise ValueError("ExternalStorage.drivers must contain at least one driver.")
        if self.payload_size_threshold < 0:
            raise ValueError(
                "ExternalStorage.payload_size_threshold must be greater than or equal to zero."
            )
        if len(self.drivers) > 1 and self.driver_selector is None:
            raise ValueError(
                "ExternalStorage.driver_selector must be specified if multiple drivers are registered."
            )
        names = [d.name() for d in self.drivers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(
                    f"ExternalStorage.drivers contains multiple drivers with name '{name}'. "
                    "Each driver must have a unique name."
                )

    def _for_target(
        self, target: StorageDriverActivityInfo | StorageDriverWorkflowInfo | None
    ) -> ExternalStorage:
        """These settings storing on behalf of ``target`` (what drivers and the selector
        see as their context's ``target``)."""
        if target == self._target:
            return self
        bound = dataclasses.replace(self)
        object.__setattr__(bound, "_target", target)
        return bound

    def _select_driver(self, payload: _Payload) -> StorageDriver | None:
        """The driver to store ``payload`` with, or None to keep it inline."""
        if payload.ByteSize() < self.payload_size_threshold:
            return None
        if self.driver_selector is None:
            return self.drivers[0]
        driver = self.driver_selector(StorageDriverSelectContext(target=self._target), payload)
        if driver is not None and not any(d is driver for d in self.drivers):
            raise ValueError(
                f"Driver '{driver.name()}' returned by driver_selector is not registered "
                "in ExternalStorage.drivers"
            )
        return driver

    def _driver_named(self, name: str) -> StorageDriver:
        for driver in self.drivers:
            if driver.name() == name:
                return driver
        raise ValueError(f"No driver found with name '{name}'")

    async def _store(self, payloads: Sequence[_Payload]) -> list[_Payload]:
        """``payloads`` with each large one stored and replaced by its reference: one
        ``store()`` call per driver for the whole list."""
        started = time.monotonic()
        groups: dict[int, tuple[StorageDriver, list[int]]] = {}
        for index, payload in enumerate(payloads):
            driver = self._select_driver(payload)
            if driver is not None:
                groups.setdefault(id(driver), (driver, []))[1].append(index)
        if not groups:
            return list(payloads)
        context = StorageDriverStoreContext(target=self._target)
        batches = list(groups.values())
        all_claims = await _all_or_none(
            [driver.store(context, [payloads[i] for i in indexes]) for driver, indexes in batches]
        )
        result = list(payloads)
        size = 0
        for (driver, indexes), claims in zip(batches, all_claims, strict=True):
            _check_count(driver, "claims", len(claims), len(indexes))
            for index, claim in zip(indexes, claims, strict=True):
                stored_size = payloads[index].ByteSize()
                result[index] = _reference_payload(driver.name(), claim, stored_size)
                size += stored_size
        count = sum(len(indexes) for _, indexes in batches)
        _record_storage_batch(count, size, started, {d.name() for d, _ in batches})
        return result

    async def _retrieve(self, payloads: Sequence[_Payload]) -> list[_Payload]:
        """``payloads`` with each reference replaced by the payload it names: one
        ``retrieve()`` call per driver for the whole list."""
        started = time.monotonic()
        groups: dict[str, tuple[StorageDriver, list[int], list[StorageDriverClaim]]] = {}
        for index, payload in enumerate(payloads):
            reference = _parse_reference(payload)
            if reference is None:
                continue
            driver_name, claim = reference
            if driver_name not in groups:
                groups[driver_name] = (self._driver_named(driver_name), [], [])
            groups[driver_name][1].append(index)
            groups[driver_name][2].append(claim)
        if not groups:
            return list(payloads)
        context = StorageDriverRetrieveContext()
        batches = list(groups.values())
        all_stored = await _all_or_none(
            [driver.retrieve(context, claims) for driver, _, claims in batches]
        )
        result = list(payloads)
        size = 0
        for (driver, indexes, _), stored in zip(batches, all_stored, strict=True):
            _check_count(driver, "payloads", len(stored), len(indexes))
            for index, payload in zip(indexes, stored, strict=True):
                result[index] = payload
                size += payload.ByteSize()
        count = sum(len(indexes) for _, indexes, _ in batches)
        _record_storage_batch(count, size, started, set(groups))
        return result


# Reference payloads use the wire shape of temporalio's ExternalStorageReference
# message (proto JSON), so histories stay readable by either SDK.
_REFERENCE_MESSAGE_TYPE = b"temporal.api.sdk.v1.ExternalStorageReference"
# References written by temporalio releases before that message existed: plain JSON
# of {"driver_name", "driver_claim": {"claim_data"}} under their own encoding. Still
# read (runs started then may hold them); never written.
_LEGACY_REFERENCE_ENCODING = b"json/external-storage-reference"


def _reference_payload(driver_name: str, claim: StorageDriverClaim, size: int) -> _Payload:
    body = {"driverName": driver_name, "claimData": dict(claim.claim_data)}
    payload = _Payload(
        metadata={"encoding": b"json/protobuf", "messageType": _REFERENCE_MESSAGE_TYPE},
        data=json.dumps(body, separators=(",", ":"), sort_keys=True).encode(),
    )
    payload.external_payloads.add().size_bytes = size
    return payload


def _is_reference(payload: _Payload) -> bool:
    encoding = payload.metadata.get("encoding")
    if encoding == _LEGACY_REFERENCE_ENCODING:
        return True
    return (
        encoding == b"json/protobuf"
        and payload.metadata.get("messageType") == _REFERENCE_MESSAGE_TYPE
    )


def _parse_reference(payload: _Payload) -> tuple[str, StorageDriverClaim] | None:
    if not _is_reference(payload):
        return None
    body = json.loads(payload.data)
    if payload.metadata.get("encoding") == _LEGACY_REFERENCE_ENCODING:
        return _parse_legacy_reference(body)
    claim = StorageDriverClaim(claim_data=dict(body.get("claimData") or {}))
    return str(body.get("driverName", "")), claim


def _parse_legacy_reference(body: Any) -> tuple[str, StorageDriverClaim]:
    claim = body.get("driver_claim") if isinstance(body, dict) else None
    if not isinstance(claim, dict) or not isinstance(body.get("driver_name"), str):
        raise ValueError(
            "Payload with encoding json/external-storage-reference is not a storage "
            f"reference (expected driver_name and driver_claim): {body!r}"
        )
    claim_data = claim.get("claim_data") or {}
    return body["driver_name"], StorageDriverClaim(claim_data=dict(claim_data))


def _check_count(driver: StorageDriver, what: str, count: int, expected: int) -> None:
    if count != expected:
        raise ValueError(f"Driver '{driver.name()}' returned {count} {what}, expected {expected}")


# A reference written through the payload codec carries this metadata key (b"true")
# next to the codec's own metadata. temporalio 1.35 reads such references but does
# not write them yet (a later release will); reading them too keeps histories written
# by that release readable here.
_REFERENCE_MARKER_KEY = "__temporal_external_storage_reference"


async def _open_marked_references(
    payloads: Sequence[_Payload], codec: PayloadCodec | None, storage: ExternalStorage | None
) -> list[_Payload]:
    """``payloads`` with each codec-encoded, marked reference decoded by ``codec`` back
    into the plain reference external storage resolves."""
    result = list(payloads)
    for index, payload in enumerate(payloads):
        if payload.metadata.get(_REFERENCE_MARKER_KEY) != b"true":
            continue
        if storage is None:
            raise RuntimeError(_STORAGE_NOT_CONFIGURED)
        reference = payload
        if codec is not None:
            sealed = _Payload()
            sealed.CopyFrom(payload)
            del sealed.metadata[_REFERENCE_MARKER_KEY]
            del sealed.external_payloads[:]
            reference = (await codec.decode([sealed]))[0]
        if not _is_reference(reference):
            raise RuntimeError(
                "[TMPRL1106] Encountered an encoded external storage reference that could "
                "not be decoded. Check that the payload codec used to write it is configured."
            )
        if not reference.external_payloads:
            reference.external_payloads.extend(payload.external_payloads)
        result[index] = reference
    return result


_STORAGE_NOT_CONFIGURED = (
    "[TMPRL1105] Detected externally stored payload(s) but external storage is not configured."
)


def _raise_if_unresolvable(payloads: Sequence[_Payload]) -> None:
    if any(_is_reference(p) for p in payloads):
        raise RuntimeError(_STORAGE_NOT_CONFIGURED)


class _StoringCodec(PayloadCodec):
    """The user's codec followed by external storage: what the worker applies at the
    edge of workflow and activity code, so history rows hold references."""

    def __init__(self, codec: PayloadCodec | None, storage: ExternalStorage) -> None:
        self.codec = codec
        self.storage = storage

    async def encode(self, payloads: Sequence[_Payload]) -> list[_Payload]:
        encoded = list(await self.codec.encode(payloads)) if self.codec else list(payloads)
        return await self.storage._store(encoded)

    async def decode(self, payloads: Sequence[_Payload]) -> list[_Payload]:
        opened = await _open_marked_references(payloads, self.codec, self.storage)
        retrieved = await self.storage._retrieve(opened)
        return list(await self.codec.decode(retrieved)) if self.codec else retrieved


# =============================================================================
# Data converter
# =============================================================================


def _takes_context(converter: PayloadConverter) -> bool:
    """Whether with_context could change ``converter``. A composite converter with the
    base class's with_context changes only when one of its converters does."""
    if not isinstance(converter, WithSerializationContext):
        return False
    if not isinstance(converter, CompositePayloadConverter) or (
        type(converter).with_context is not CompositePayloadConverter.with_context
        or type(converter).get_converters_with_context
        is not CompositePayloadConverter.get_converters_with_context
    ):
        return True
    return any(isinstance(conv, WithSerializationContext) for conv in converter.converters.values())


@dataclass(frozen=True)
class DataConverter(WithSerializationContext):
    """Converts values to payloads (payload converter) and encodes them (codec).

    ``DataConverter.default`` is the standard instance.
    """

    payload_converter_class: type[PayloadConverter] = DefaultPayloadConverter
    """Payload converter class, instantiated without arguments."""

    payload_codec: PayloadCodec | None = None
    """Optional codec applied to every payload."""

    failure_converter_class: type[FailureConverter] = DefaultFailureConverter
    """Failure converter class, instantiated without arguments."""

    payload_converter: PayloadConverter = dataclasses.field(init=False)
    """The payload converter instance (with transfer type support)."""

    failure_converter: FailureConverter = dataclasses.field(init=False)
    """The failure converter instance."""

    external_storage: ExternalStorage | None = None
    """Stores large payloads outside history (see :py:class:`ExternalStorage`)."""

    default: ClassVar[DataConverter]
    """The standard data converter."""

    def __post_init__(self) -> None:  # noqa: D105
        payload_converter = _TemporalTransferTypePayloadConverter.wrap(
            self.payload_converter_class()
        )
        object.__setattr__(self, "payload_converter", payload_converter)
        object.__setattr__(self, "failure_converter", self.failure_converter_class())

    async def encode(self, values: Sequence[Any]) -> list[_Payload]:
        """Convert values to payloads, then run the codec over them."""
        payloads = self.payload_converter.to_payloads(values)
        if self.payload_codec:
            payloads = await self.payload_codec.encode(payloads)
        if self.external_storage:
            payloads = await self.external_storage._store(payloads)
        return payloads

    async def decode(
        self, payloads: Sequence[_Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        """Resolve stored payloads, run the codec over them, then convert them to values."""
        payloads = await _open_marked_references(
            payloads, self.payload_codec, self.external_storage
        )
        if self.external_storage:
            payloads = await self.external_storage._retrieve(payloads)
        else:
            _raise_if_unresolvable(payloads)
        if self.payload_codec:
            payloads = await self.payload_codec.decode(payloads)
        return self.payload_converter.from_payloads(payloads, type_hints)

    async def encode_wrapper(self, values: Sequence[Any]) -> _Payloads:
        """:py:meth:`encode` returning a ``Payloads`` message."""
        return _Payloads(payloads=await self.encode(values))

    async def decode_wrapper(
        self, payloads: _Payloads | None, type_hints: list[type] | None = None
    ) -> list[Any]:
        """:py:meth:`decode` taking a ``Payloads`` message (``None``/empty gives ``[]``)."""
        if not payloads or not payloads.payloads:
            return []
        return await self.decode(payloads.payloads, type_hints)

    async def encode_failure(self, exception: BaseException, failure: _Failure) -> None:
        """Convert ``exception`` into ``failure``, then encode its payloads."""
        self.failure_converter.to_failure(exception, self.payload_converter, failure)
        codec = self._edge_codec
        if codec:
            await codec.encode_failure(failure)

    async def decode_failure(self, failure: _Failure) -> BaseException:
        """Decode the payloads of ``failure`` in place, then build the exception."""
        codec = self._edge_codec
        if codec:
            await codec.decode_failure(failure)
        return self.failure_converter.from_failure(failure, self.payload_converter)

    def _context_aware(self) -> bool:
        """Whether any component takes a serialization context; worked out once (the
        converter is frozen) and kept on the instance."""
        known = self.__dict__.get("_hm_context_aware")
        if known is None:
            known = _takes_context(self.payload_converter) or any(
                isinstance(part, WithSerializationContext)
                for part in (self.payload_codec, self.failure_converter)
            )
            object.__setattr__(self, "_hm_context_aware", known)
        return known

    @property
    def _edge_codec(self) -> PayloadCodec | None:
        """The codec the worker applies to payloads entering and leaving user code:
        the payload codec, plus external storage when configured."""
        if self.external_storage is None:
            return self.payload_codec
        return _StoringCodec(self.payload_codec, self.external_storage)

    def _with_store_target(
        self, target: StorageDriverActivityInfo | StorageDriverWorkflowInfo | None
    ) -> Self:
        """A copy whose external storage stores on behalf of ``target`` (the store and
        select contexts' ``target``); self without external storage."""
        if self.external_storage is None or self.external_storage._target == target:
            return self
        # replace() would rebuild the converters a with_context() copy carries
        clone = copy.copy(self)
        object.__setattr__(clone, "external_storage", self.external_storage._for_target(target))
        return clone

    def with_context(self, context: SerializationContext) -> Self:
        """A copy whose context-aware components got ``context`` (self if none changed)."""
        if not self._context_aware():
            return self  # the usual case, asked for several times per task: no copies
        parts = {
            "payload_converter": self.payload_converter,
            "payload_codec": self.payload_codec,
            "failure_converter": self.failure_converter,
        }
        updated = {
            name: part.with_context(context) if isinstance(part, WithSerializationContext) else part
            for name, part in parts.items()
        }
        if all(updated[name] is parts[name] for name in parts):
            return self
        clone = dataclasses.replace(self)
        for name, part in updated.items():
            object.__setattr__(clone, name, part)
        return clone

    async def _encode_memo(self, source: Mapping[str, Any]) -> hotmesh_temporal.api.common.v1.Memo:
        memo = hotmesh_temporal.api.common.v1.Memo()
        await self._encode_memo_existing(source, memo)
        return memo

    async def _encode_memo_existing(
        self, source: Mapping[str, Any], memo: hotmesh_temporal.api.common.v1.Memo
    ) -> None:
        for key, value in source.items():
            if not isinstance(value, _Payload):
                value = (await self.encode([value]))[0]
            memo.fields[key].CopyFrom(value)

    async def _decode_memo(self, source: hotmesh_temporal.api.common.v1.Memo) -> Mapping[str, Any]:
        return {key: (await self.decode([value]))[0] for key, value in source.fields.items()}

    async def _decode_memo_field(
        self,
        source: hotmesh_temporal.api.common.v1.Memo,
        key: str,
        default: Any,
        type_hint: type | None,
    ) -> Any:
        payload = source.fields.get(key)
        if not payload:
            if default is hotmesh_temporal.common._arg_unset:
                raise KeyError(f"Memo does not have a value for key {key}")
            return default
        return (await self.decode([payload], [type_hint] if type_hint else None))[0]


DataConverter.default = DataConverter()
PayloadConverter.default = DataConverter.default.payload_converter
FailureConverter.default = DataConverter.default.failure_converter


def default() -> DataConverter:
    """The default data converter.

    .. deprecated::
        Use :py:attr:`DataConverter.default`.
    """
    return DataConverter.default


# =============================================================================
# Search attributes and validation helpers
# =============================================================================


def encode_search_attributes(
    attributes: hotmesh_temporal.common.SearchAttributes
    | hotmesh_temporal.common.TypedSearchAttributes,
    api: hotmesh_temporal.api.common.v1.SearchAttributes,
) -> None:
    """Write search attributes (typed, or the deprecated dict form) into ``api``."""
    if isinstance(attributes, hotmesh_temporal.common.TypedSearchAttributes):
        for key, value in attributes:
            api.indexed_fields[key.name].CopyFrom(encode_typed_search_attribute_value(key, value))
        return
    for name, values in (attributes or {}).items():
        api.indexed_fields[name].CopyFrom(encode_search_attribute_values(values))


def _tz_aware_iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("Timezone must be present on all search attribute dates")
    return value.isoformat()


def encode_typed_search_attribute_value(
    key: hotmesh_temporal.common.SearchAttributeKey[
        hotmesh_temporal.common.SearchAttributeValueType
    ],
    value: hotmesh_temporal.common.SearchAttributeValue | None,
) -> _Payload:
    """Encode one typed search attribute value, tagging its ``type`` metadata."""
    converter = default().payload_converter
    if value is None:
        return converter.to_payload(None)
    if not isinstance(value, key.origin_value_type):
        raise TypeError(
            f"Value of type {value} not suitable for indexed value type {key.indexed_value_type}"
        )
    if isinstance(value, datetime):
        value = _tz_aware_iso(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not all(isinstance(v, str) for v in value):
            raise TypeError("All values of a keyword list must be strings")
    payload = converter.to_payload(value)
    payload.metadata["type"] = key._metadata_type.encode()
    return payload


def encode_search_attribute_values(
    vals: hotmesh_temporal.common.SearchAttributeValues,
) -> _Payload:
    """Encode the list of values of one untyped search attribute.

    .. deprecated::
        Use typed search attributes.
    """
    if not isinstance(vals, list):
        raise TypeError("Search attribute values must be lists")
    first_type: type | None = None
    safe = []
    for v in vals:
        if isinstance(v, datetime):
            v = _tz_aware_iso(v)
        elif not isinstance(v, (str, int, float, bool)):
            raise TypeError(
                f"Search attribute value of type {type(v).__name__} not one of "
                "str, int, float, bool, or datetime"
            )
        elif first_type and type(v) is not first_type:
            raise TypeError("Search attribute values must have the same type for the same key")
        elif not first_type:
            first_type = type(v)
        safe.append(v)
    return default().payload_converter.to_payloads([safe])[0]


def _encode_maybe_typed_search_attributes(
    non_typed_attributes: hotmesh_temporal.common.SearchAttributes | None,
    typed_attributes: hotmesh_temporal.common.TypedSearchAttributes | None,
    api: hotmesh_temporal.api.common.v1.SearchAttributes,
) -> None:
    if non_typed_attributes:
        if typed_attributes and typed_attributes.search_attributes:
            raise ValueError(
                "Cannot provide both deprecated search attributes and typed search attributes"
            )
        encode_search_attributes(non_typed_attributes, api)
    elif typed_attributes and typed_attributes.search_attributes:
        encode_search_attributes(typed_attributes, api)


def decode_search_attributes(
    api: hotmesh_temporal.api.common.v1.SearchAttributes,
) -> hotmesh_temporal.common.SearchAttributes:
    """Decode search attributes to the deprecated ``{name: [values]}`` form."""
    converter = default().payload_converter
    result: dict[str, Any] = {}
    for name, payload in api.indexed_fields.items():
        value = converter.from_payloads([payload])[0]
        values = value if isinstance(value, list) else [value]
        if payload.metadata.get("type") == b"Datetime":
            values = [_parse_iso_datetime(v) for v in values]
        result[name] = values
    return result


def decode_typed_search_attributes(
    api: hotmesh_temporal.api.common.v1.SearchAttributes,
) -> hotmesh_temporal.common.TypedSearchAttributes:
    """Decode search attributes that carry ``type`` metadata; others are skipped."""
    pairs = []
    for name, payload in api.indexed_fields.items():
        pair = _decode_typed_pair(name, payload)
        if pair is not None:
            pairs.append(pair)
    return hotmesh_temporal.common.TypedSearchAttributes(pairs)


def _decode_typed_pair(
    name: str, payload: _Payload
) -> hotmesh_temporal.common.SearchAttributePair | None:
    common = hotmesh_temporal.common
    metadata_type = payload.metadata.get("type")
    if not metadata_type:
        return None
    key = common.SearchAttributeKey._from_metadata_type(name, metadata_type.decode())
    if not key:
        return None
    value: Any = default().payload_converter.from_payload(payload)
    kind = key.indexed_value_type
    if kind != common.SearchAttributeIndexedValueType.KEYWORD_LIST and isinstance(value, list):
        # Older servers may hand single values back as one-element lists.
        if len(value) != 1:
            return None
        value = value[0]
    if kind == common.SearchAttributeIndexedValueType.DATETIME:
        value = _parse_iso_datetime(value)
    elif kind == common.SearchAttributeIndexedValueType.DOUBLE and type(value) is int:
        value = float(value)
    if not isinstance(value, key.origin_value_type):
        return None
    return common.SearchAttributePair(key, value)


def _decode_search_attribute_value(
    payload: _Payload,
) -> hotmesh_temporal.common.SearchAttributeValue:
    value = default().payload_converter.from_payload(payload)
    if isinstance(value, str) and payload.metadata.get("type") == b"Datetime":
        value = _parse_iso_datetime(value)
    return value


def create_payload_validation_error(details: Any) -> hotmesh_temporal.exceptions.ApplicationError:
    """A non-retryable ``PayloadValidationError`` for a payload that failed validation.

    Args:
        details: What was wrong, or ``None`` for no details.
    """
    extra: tuple[Any, ...] = () if details is None else (details,)
    return hotmesh_temporal.exceptions.ApplicationError(
        "Payload validation failed", *extra, type="PayloadValidationError", non_retryable=True
    )
