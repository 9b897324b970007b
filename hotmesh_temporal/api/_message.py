"""A small protobuf-like message base for Temporal's API messages.

Temporal's Python SDK exposes protobuf messages (``Payload``, ``Failure``...) and
user code (codecs, failure converters, interceptors) drives them through the
protobuf Python API. This module reproduces the part of that API such code
uses, on top of plain Python objects:

* keyword constructors, attribute access and assignment with type checks;
* sub-messages that spring into existence on first access and become "present"
  in their parent only once something is written into them (so
  ``failure.cause.message = "x"`` sets ``failure.cause``), with oneof groups
  clearing their other members;
* ``HasField``, ``WhichOneof``, ``ClearField``, ``SetInParent``, ``CopyFrom``,
  ``MergeFrom``, ``Clear``, ``==``;
* ``SerializeToString`` / ``FromString`` / ``ParseFromString`` producing the
  protobuf wire format (see :mod:`._wire`);
* ``to_json_dict`` / ``from_json_dict`` in the proto3 JSON mapping.

Map entries are serialized in key order. protobuf-python's default (upb) order
follows a hash table seeded per process, so it is not reproducible even by
protobuf itself; sorted order is what protobuf emits with
``deterministic=True`` and is what we always emit.
"""

from __future__ import annotations

import base64
import copy
import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar

from hotmesh_temporal.api import _wire

STRING = "string"
BYTES = "bytes"
BOOL = "bool"
INT32 = "int32"
INT64 = "int64"
UINT64 = "uint64"
DOUBLE = "double"
FLOAT = "float"
ENUM = "enum"
MESSAGE = "message"
MAP = "map"
REPEATED = "repeated"

_SCALAR_DEFAULTS: dict[str, Any] = {
    STRING: "",
    BYTES: b"",
    BOOL: False,
    INT32: 0,
    INT64: 0,
    UINT64: 0,
    DOUBLE: 0.0,
    FLOAT: 0.0,
    ENUM: 0,
}

# Every message class by its protobuf full name, so payload converters can
# rebuild a message from the ``messageType`` metadata of a payload.
MESSAGE_TYPES: dict[str, type[Message]] = {}


class Field:
    """Description of one field of a message.

    ``elem`` is the element kind (a scalar kind name) or the message class
    (or a zero-argument callable returning it, for self references) of a
    message, map value or repeated field. ``enum_names`` maps enum numbers to
    their proto names, used for JSON.

    A field also answers the ``FieldDescriptor`` attributes that
    ``google.protobuf.json_format`` and ``text_format`` read (``type``,
    ``cpp_type``, ``label``, ``message_type``, ``enum_type``...), so those
    modules handle our messages as they handle protobuf's.
    """

    __slots__ = (
        "name",
        "number",
        "kind",
        "_elem",
        "oneof",
        "enum_names",
        "json_name",
        "containing_type",
        "containing_oneof",
        "_enum_type",
        "_entry_type",
    )

    is_extension = False
    has_options = False

    def __init__(
        self,
        name: str,
        number: int,
        kind: str,
        elem: Any = None,
        *,
        oneof: str | None = None,
        enum_names: Mapping[int, str] | None = None,
    ) -> None:
        self.name = name
        self.number = number
        self.kind = kind
        self._elem = elem
        self.oneof = oneof
        self.enum_names = dict(enum_names or {})
        head, *rest = name.split("_")
        self.json_name = head + "".join(p[:1].upper() + p[1:] for p in rest)
        # Set by the owning message class (Message.__init_subclass__).
        self.containing_type: _Descriptor | None = None
        self.containing_oneof: _OneofDescriptor | None = None
        self._enum_type: _EnumDescriptor | None = None
        self._entry_type: type[Message] | None = None

    @property
    def elem(self) -> Any:
        """The element kind or message class (resolving lazy references)."""
        e = self._elem
        if callable(e) and not isinstance(e, type):
            e = e()
            self._elem = e
        return e

    @property
    def elem_is_message(self) -> bool:
        return isinstance(self.elem, type)

    # -- protobuf FieldDescriptor view ----------------------------------------

    @property
    def _value_kind(self) -> str:
        """The scalar kind (or MESSAGE) of the field's values / elements."""
        if self.kind in (MAP, MESSAGE):
            return MESSAGE
        if self.kind == REPEATED:
            return MESSAGE if self.elem_is_message else self.elem
        return self.kind

    @property
    def full_name(self) -> str:
        owner = self.containing_type.full_name if self.containing_type else ""
        return f"{owner}.{self.name}" if owner else self.name

    @property
    def camelcase_name(self) -> str:
        return self.json_name

    @property
    def type(self) -> int:
        """protobuf's ``FieldDescriptor.TYPE_*`` number."""
        return _PROTO_TYPE[self._value_kind]

    @property
    def cpp_type(self) -> int:
        """protobuf's ``FieldDescriptor.CPPTYPE_*`` number."""
        return _PROTO_CPPTYPE[self._value_kind]

    @property
    def label(self) -> int:
        return _LABEL_REPEATED if self.kind in (MAP, REPEATED) else _LABEL_OPTIONAL

    @property
    def is_repeated(self) -> bool:
        return self.kind in (MAP, REPEATED)

    @property
    def is_required(self) -> bool:
        return False

    @property
    def has_presence(self) -> bool:
        # proto3: sub-messages and oneof members track presence, plain scalars
        # and containers do not.
        if self.is_repeated:
            return False
        return self.kind == MESSAGE or self.oneof is not None

    @property
    def default_value(self) -> Any:
        if self.is_repeated:
            return []
        return _SCALAR_DEFAULTS.get(self.kind)

    @property
    def message_type(self) -> _Descriptor | None:
        """The message's descriptor (a map's synthetic ``...Entry`` descriptor)."""
        if self.kind == MAP:
            return self.entry_class.DESCRIPTOR
        if self._value_kind == MESSAGE:
            descriptor: _Descriptor = self.elem.DESCRIPTOR
            return descriptor
        return None

    @property
    def entry_class(self) -> type[Message]:
        """A map field's entry message class."""
        if self._entry_type is None:
            self._entry_type = _map_entry_class(self)
        return self._entry_type

    @property
    def enum_type(self) -> _EnumDescriptor | None:
        if self._value_kind != ENUM:
            return None
        if self._enum_type is None:
            self._enum_type = _EnumDescriptor.from_names(self.enum_names)
        return self._enum_type

    def GetOptions(self) -> _Options:  # noqa: N802 - protobuf name
        return _Options()

    def __repr__(self) -> str:
        return f"<Field {self.full_name} ({self.kind})>"


def _check_scalar(kind: str, value: Any, field_name: str) -> Any:
    """Validate and normalise a value for a scalar field, as protobuf does."""
    if kind == STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8")
    elif kind == BYTES:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
    elif kind == BOOL:
        if isinstance(value, (bool, int)):
            return bool(value)
    elif kind in (INT32, INT64, UINT64, ENUM):
        if isinstance(value, int):
            return int(value)
    elif kind == DOUBLE:
        if isinstance(value, (int, float)):
            return float(value)
    elif kind == FLOAT:
        if isinstance(value, (int, float)):
            # Stored as float32 on the wire; round now so reads agree.
            return struct.unpack("<f", struct.pack("<f", float(value)))[0]
    expected = {STRING: "str", BYTES: "bytes", BOOL: "bool", DOUBLE: "float", FLOAT: "float"}
    raise TypeError(
        f"expected {expected.get(kind, 'int')}, {type(value).__name__} found (field {field_name})"
    )


class _Map(dict):
    """A map field: a dict that tells its owner message when it changes."""

    __slots__ = ("_owner", "_field")

    def __init__(self, owner: Message, field: Field) -> None:
        super().__init__()
        self._owner = owner
        self._field = field

    def _coerce(self, key: Any, value: Any) -> tuple[str, Any]:
        key = _check_scalar(STRING, key, self._field.name)
        if self._field.elem_is_message:
            fresh = self._field.elem()
            fresh._merge_any(value)
            return key, fresh
        return key, _check_scalar(self._field.elem, value, self._field.name)

    def __getitem__(self, key: Any) -> Any:
        # protobuf maps insert a default value for a missing key on read.
        if not dict.__contains__(self, key):
            elem = self._field.elem
            self[key] = elem() if isinstance(elem, type) else _SCALAR_DEFAULTS[elem]
        return dict.__getitem__(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        key, value = self._coerce(key, value)
        dict.__setitem__(self, key, value)
        self._owner._modified()

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, key)
        self._owner._modified()

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
        self._owner._modified()

    def setdefault(self, key: Any, default: Any = None) -> Any:  # type: ignore[override]
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def pop(self, *args: Any) -> Any:  # type: ignore[override]
        value = dict.pop(self, *args)
        self._owner._modified()
        return value

    def popitem(self) -> Any:
        item = dict.popitem(self)
        self._owner._modified()
        return item

    def clear(self) -> None:
        dict.clear(self)
        self._owner._modified()

    def __ior__(self, other: Any) -> _Map:  # type: ignore[override]
        self.update(other)
        return self

    def GetEntryClass(self) -> type[Message]:  # noqa: N802 - protobuf name
        """The map's entry message class (protobuf's text_format builds entries)."""
        return self._field.entry_class

    def __deepcopy__(self, memo: Any) -> dict:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


class _List(list):
    """A repeated field: a list that checks/copies items and notifies its owner."""

    __slots__ = ("_owner", "_field")

    def __init__(self, owner: Message, field: Field) -> None:
        super().__init__()
        self._owner = owner
        self._field = field

    def _coerce(self, value: Any) -> Any:
        if self._field.elem_is_message:
            # protobuf copies messages into repeated fields.
            fresh = self._field.elem()
            fresh._merge_any(value)
            return fresh
        return _check_scalar(self._field.elem, value, self._field.name)

    def add(self, **kwargs: Any) -> Any:
        """Append a new message built from ``kwargs`` and return it."""
        item = self._field.elem(**kwargs)
        list.append(self, item)
        self._owner._modified()
        return item

    def append(self, value: Any) -> None:
        list.append(self, self._coerce(value))
        self._owner._modified()

    def extend(self, values: Iterable[Any]) -> None:
        list.extend(self, [self._coerce(v) for v in values])
        self._owner._modified()

    def insert(self, index: Any, value: Any) -> None:
        list.insert(self, index, self._coerce(value))
        self._owner._modified()

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            value = [self._coerce(v) for v in value]
        else:
            value = self._coerce(value)
        list.__setitem__(self, index, value)
        self._owner._modified()

    def __delitem__(self, index: Any) -> None:
        list.__delitem__(self, index)
        self._owner._modified()

    def __iadd__(self, values: Iterable[Any]) -> _List:  # type: ignore[override]
        self.extend(values)
        return self

    def pop(self, index: Any = -1) -> Any:
        value = list.pop(self, index)
        self._owner._modified()
        return value

    def remove(self, value: Any) -> None:
        list.remove(self, value)
        self._owner._modified()

    def clear(self) -> None:
        list.clear(self)
        self._owner._modified()

    def MergeFrom(self, values: Iterable[Any]) -> None:  # noqa: N802 - protobuf name
        """Append copies of ``values`` (protobuf's repeated-field merge)."""
        self.extend(values)

    def __deepcopy__(self, memo: Any) -> list:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> Any:
        return (list, (list(self),))


# protobuf's FieldDescriptor numbers (google/protobuf/descriptor.proto; fixed by
# the protobuf format, checked against protobuf in tests/unit/test_api_messages.py).
_PROTO_TYPE = {
    DOUBLE: 1,
    FLOAT: 2,
    INT64: 3,
    UINT64: 4,
    INT32: 5,
    BOOL: 8,
    STRING: 9,
    MESSAGE: 11,
    BYTES: 12,
    ENUM: 14,
}
_PROTO_CPPTYPE = {
    INT32: 1,
    INT64: 2,
    UINT64: 4,
    DOUBLE: 5,
    FLOAT: 6,
    BOOL: 7,
    ENUM: 8,
    STRING: 9,
    BYTES: 9,
    MESSAGE: 10,
}
_LABEL_OPTIONAL = 1
_LABEL_REPEATED = 3


class _Options:
    """Empty descriptor options: no extension is ever set."""

    def __init__(self, map_entry: bool = False) -> None:
        self.map_entry = map_entry
        self.deprecated = False

    def HasExtension(self, extension: Any) -> bool:  # noqa: N802 - protobuf name
        return False

    def ListFields(self) -> list[Any]:  # noqa: N802
        return []


class _FileDescriptor:
    """The ``.proto`` file a message belongs to (its name and package)."""

    def __init__(self, name: str, package: str) -> None:
        self.name = name
        self.package = package

    @classmethod
    def for_message(cls, full_name: str) -> _FileDescriptor:
        parts = full_name.split(".")
        # The package is the leading lower-case segments (message names are
        # capitalised), as in Temporal's and protobuf's own protos.
        cut = next((i for i, p in enumerate(parts) if p[:1].isupper()), len(parts))
        package = ".".join(parts[:cut])
        if package == "google.protobuf":
            return cls(f"google/protobuf/{parts[cut].lower()}.proto", package)
        leaf = "request_response" if package.endswith("service.v1") else "message"
        return cls(f"{package.replace('.', '/')}/{leaf}.proto", package)


class _OneofDescriptor:
    """A oneof group of a message: its name and member fields."""

    def __init__(self, name: str, containing_type: _Descriptor) -> None:
        self.name = name
        self.full_name = f"{containing_type.full_name}.{name}"
        self.containing_type = containing_type
        self.fields: list[Field] = []
        self.has_options = False

    def GetOptions(self) -> _Options:  # noqa: N802 - protobuf name
        return _Options()


class _EnumValueDescriptor:
    def __init__(self, name: str, number: int, index: int, type_: _EnumDescriptor) -> None:
        self.name = name
        self.number = number
        self.index = index
        self.type = type_
        self.has_options = False

    def GetOptions(self) -> _Options:  # noqa: N802 - protobuf name
        return _Options()


class _EnumDescriptor:
    """An enum type: its values by name and by number (proto3 enums are open)."""

    is_closed = False
    has_options = False

    def __init__(self, full_name: str, names: Mapping[int, str]) -> None:
        self.full_name = full_name
        self.name = full_name.rsplit(".", 1)[-1]
        self.values = [
            _EnumValueDescriptor(name, number, i, self)
            for i, (number, name) in enumerate(names.items())
        ]
        self.values_by_name = {v.name: v for v in self.values}
        self.values_by_number = {v.number: v for v in self.values}

    @classmethod
    def from_names(cls, names: Mapping[int, str]) -> _EnumDescriptor:
        # Temporal's enum values are prefixed with the enum's name in upper
        # snake case (EVENT_TYPE_UNSPECIFIED), so the type name is recovered
        # from the zero value.
        zero = names.get(0, "")
        prefix = zero[: -len("_UNSPECIFIED")] if zero.endswith("_UNSPECIFIED") else zero
        camel = "".join(p.capitalize() for p in prefix.split("_") if p)
        return cls(f"temporal.api.enums.v1.{camel or 'Enum'}", names)

    def GetOptions(self) -> _Options:  # noqa: N802 - protobuf name
        return _Options()


class _Descriptor:
    """A message type as protobuf's ``Descriptor`` presents it: name, file and
    fields (by name, number and JSON name), oneofs and options."""

    is_extendable = False
    extensions: ClassVar[list[Any]] = []
    nested_types: ClassVar[list[Any]] = []
    enum_types: ClassVar[list[Any]] = []

    def __init__(
        self, full_name: str, fields: tuple[Field, ...], *, map_entry: bool = False
    ) -> None:
        self.full_name = full_name
        self.name = full_name.rsplit(".", 1)[-1]
        self.file = _FileDescriptor.for_message(full_name)
        self.fields = list(fields)
        self.fields_by_name = {f.name: f for f in fields}
        self.fields_by_number = {f.number: f for f in fields}
        self.fields_by_camelcase_name = {f.json_name: f for f in fields}
        self.has_options = map_entry
        self._map_entry = map_entry
        self.oneofs: list[_OneofDescriptor] = []
        for f in fields:
            f.containing_type = self
            if f.oneof is None:
                continue
            group = next((o for o in self.oneofs if o.name == f.oneof), None)
            if group is None:
                group = _OneofDescriptor(f.oneof, self)
                self.oneofs.append(group)
            group.fields.append(f)
            f.containing_oneof = group
        self.oneofs_by_name = {o.name: o for o in self.oneofs}

    def GetOptions(self) -> _Options:  # noqa: N802 - protobuf name
        return _Options(map_entry=self._map_entry)

    def __repr__(self) -> str:
        return f"<Descriptor {self.full_name}>"


def _map_entry_class(field: Field) -> type[Message]:
    """The synthetic ``<Name>Entry`` message protobuf describes a map field with (its
    descriptor is the field's ``message_type``; text_format builds entries of it)."""
    value = (
        Field("value", 2, MESSAGE, field.elem)
        if field.elem_is_message
        else Field("value", 2, field.elem, enum_names=field.enum_names)
    )
    camel = "".join(p[:1].upper() + p[1:] for p in field.name.split("_"))
    owner = field.containing_type.full_name if field.containing_type else ""
    full_name = f"{owner}.{camel}Entry"
    namespace = {
        "__slots__": (),
        "_full_name": full_name,
        "_fields": (Field("key", 1, STRING), value),
    }
    entry = type(f"{camel}Entry", (Message,), namespace)
    MESSAGE_TYPES.pop(full_name, None)  # not a message of its own
    entry.DESCRIPTOR.has_options = True
    entry.DESCRIPTOR._map_entry = True
    return entry


class Message:
    """Base of every API message class.

    Subclasses set ``_full_name`` and ``_fields``.
    """

    __slots__ = ("_values", "_present", "_parent")

    _full_name: ClassVar[str] = ""
    _fields: ClassVar[tuple[Field, ...]] = ()
    _by_name: ClassVar[dict[str, Field]]
    _by_json: ClassVar[dict[str, Field]]
    _by_number: ClassVar[dict[int, Field]]
    _wire_order: ClassVar[tuple[Field, ...]]
    _oneofs: ClassVar[dict[str, tuple[str, ...]]]
    DESCRIPTOR: ClassVar[_Descriptor]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_name = {f.name: f for f in cls._fields}
        cls._by_json = {f.json_name: f for f in cls._fields}
        cls._by_number = {f.number: f for f in cls._fields}
        cls._wire_order = tuple(sorted(cls._fields, key=lambda f: f.number))
        oneofs: dict[str, list[str]] = {}
        for f in cls._fields:
            if f.oneof:
                oneofs.setdefault(f.oneof, []).append(f.name)
        cls._oneofs = {k: tuple(v) for k, v in oneofs.items()}
        cls.DESCRIPTOR = _Descriptor(cls._full_name, cls._fields)
        if cls._full_name:
            MESSAGE_TYPES[cls._full_name] = cls

    def __init__(self, **kwargs: Any) -> None:
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_present", set())
        object.__setattr__(self, "_parent", None)
        for name, value in kwargs.items():
            field = self._field(name)
            if value is None:
                # protobuf treats None in a constructor as "leave unset".
                continue
            self._assign(field, value)

    # -- field access -------------------------------------------------------

    @classmethod
    def _field(cls, name: str) -> Field:
        try:
            return cls._by_name[name]
        except KeyError:
            raise ValueError(f'Protocol message {cls.__name__} has no "{name}" field.') from None

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails, i.e. for field names.
        field = type(self)._by_name.get(name)
        if field is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        values = self._values
        if name in values:
            return values[name]
        if field.kind == MESSAGE:
            child = field.elem()
            object.__setattr__(child, "_parent", (self, name))
            values[name] = child
            return child
        if field.kind == MAP:
            values[name] = _Map(self, field)
            return values[name]
        if field.kind == REPEATED:
            values[name] = _List(self, field)
            return values[name]
        return _SCALAR_DEFAULTS[field.kind]

    def __setattr__(self, name: str, value: Any) -> None:
        field = type(self)._by_name.get(name)
        if field is None:
            raise AttributeError(f"{type(self).__name__!r} object has no field {name!r}")
        self._assign(field, value)

    def _assign(self, field: Field, value: Any) -> None:
        if field.kind == MESSAGE:
            # protobuf forbids assigning a sub-message; we accept it (and
            # dicts) and copy, which is the only sensible meaning.
            child = getattr(self, field.name)
            if isinstance(value, Message):
                child.CopyFrom(value)
            else:
                child._merge_any(value)
            self._mark_present(field.name)
        elif field.kind == MAP:
            container = getattr(self, field.name)
            dict.clear(container)
            container.update(value)
        elif field.kind == REPEATED:
            container = getattr(self, field.name)
            list.clear(container)
            container.extend(value)
        else:
            self._values[field.name] = _check_scalar(field.kind, value, field.name)
        self._modified()

    def _modified(self) -> None:
        """Record that this message changed: it becomes present upwards."""
        node = self
        while node._parent is not None:
            parent, name = node._parent
            parent._mark_present(name)
            node = parent

    def _mark_present(self, name: str) -> None:
        field = type(self)._by_name[name]
        if field.oneof and name not in self._present:
            for other in self._oneofs[field.oneof]:
                if other != name:
                    self._detach(other)
        self._present.add(name)

    def _detach(self, name: str) -> None:
        child = self._values.pop(name, None)
        if isinstance(child, Message):
            object.__setattr__(child, "_parent", None)
        self._present.discard(name)

    def _is_set(self, field: Field) -> bool:
        if field.kind == MESSAGE:
            return field.name in self._present
        value = self._values.get(field.name)
        if field.kind in (MAP, REPEATED):
            return bool(value)
        return value is not None and value != _SCALAR_DEFAULTS[field.kind]

    # -- protobuf API -------------------------------------------------------

    def HasField(self, field_name: str) -> bool:  # noqa: N802 - protobuf name
        """Whether a sub-message field (or any member of a oneof) is set."""
        if field_name in self._oneofs:
            return any(n in self._present for n in self._oneofs[field_name])
        field = self._field(field_name)
        if field.kind != MESSAGE:
            raise ValueError(f"Field {self._full_name}.{field_name} does not have presence.")
        return field_name in self._present

    def WhichOneof(self, oneof_group: str) -> str | None:  # noqa: N802
        """Name of the member of ``oneof_group`` that is set, or ``None``."""
        try:
            members = self._oneofs[oneof_group]
        except KeyError:
            raise ValueError(f'Protocol message has no oneof "{oneof_group}" field.') from None
        return next((n for n in members if n in self._present), None)

    def ClearField(self, field_name: str) -> None:  # noqa: N802
        """Reset a field (or the set member of a oneof) to its default."""
        if field_name in self._oneofs:
            for name in self._oneofs[field_name]:
                self._detach(name)
            return
        field = self._field(field_name)
        if field.kind == MESSAGE:
            self._detach(field_name)
        else:
            # Containers are replaced so old references stop being ours.
            self._values.pop(field_name, None)

    def SetInParent(self) -> None:  # noqa: N802
        """Mark this (possibly empty) sub-message as set in its parent."""
        self._modified()

    def Clear(self) -> None:  # noqa: N802
        """Reset every field."""
        for name in list(self._values):
            self._detach(name)
        self._modified()

    def CopyFrom(self, other: Message) -> None:  # noqa: N802
        """Make this message an exact copy of ``other``."""
        if other is self:
            return
        if type(other) is not type(self):
            raise TypeError(
                f"Parameter to CopyFrom() must be instance of same class: "
                f"expected {type(self).__name__} got {type(other).__name__}."
            )
        for name in list(self._values):
            self._detach(name)
        self.MergeFrom(other)

    def MergeFrom(self, other: Message) -> None:  # noqa: N802
        """Merge ``other`` into this message with protobuf's merge rules."""
        if type(other) is not type(self):
            raise TypeError(
                f"Parameter to MergeFrom() must be instance of same class: "
                f"expected {type(self).__name__} got {type(other).__name__}."
            )
        for field in other._fields:
            if not other._is_set(field):
                continue
            value = other._values[field.name]
            if field.kind == MESSAGE:
                child = getattr(self, field.name)
                child.MergeFrom(value)
                self._mark_present(field.name)
            elif field.kind in (MAP, REPEATED):
                target = getattr(self, field.name)
                target.update(value) if field.kind == MAP else target.extend(value)
            else:
                self._values[field.name] = value
        self._modified()

    def _merge_any(self, value: Any) -> None:
        """Merge a message or a ``{field: value}`` mapping into this one."""
        if isinstance(value, Message):
            self.MergeFrom(value)
        elif isinstance(value, Mapping):
            for name, item in value.items():
                if item is not None:
                    self._assign(self._field(name), item)
        else:
            raise TypeError(f"expected {type(self).__name__} or dict, got {type(value).__name__}")

    def ListFields(self) -> list[tuple[Field, Any]]:  # noqa: N802
        """``(field, value)`` for every set field, in field-number order."""
        return [(f, self._values[f.name]) for f in self._wire_order if self._is_set(f)]

    def IsInitialized(self) -> bool:  # noqa: N802
        """Always true: proto3 has no required fields."""
        return True

    def ByteSize(self) -> int:  # noqa: N802
        """Size of the serialized message in bytes."""
        return len(self.SerializeToString())

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Message)
        for field in self._fields:
            mine, theirs = self._is_set(field), other._is_set(field)
            if mine != theirs:
                return False
            if mine and self._values[field.name] != other._values[field.name]:
                return False
        return True

    __hash__ = None  # type: ignore[assignment] - mutable, like protobuf messages

    def __repr__(self) -> str:
        parts = [f"{f.name}={self._values[f.name]!r}" for f in self._set_fields()]
        return f"{type(self).__name__}({', '.join(parts)})"

    __str__ = __repr__

    def _set_fields(self) -> list[Field]:
        return [f for f in self._wire_order if self._is_set(f)]

    def __copy__(self) -> Message:
        clone = type(self)()
        clone.MergeFrom(self)
        return clone

    def __deepcopy__(self, memo: Any) -> Message:
        return self.__copy__()

    def __reduce__(self) -> Any:
        return (type(self).FromString, (self.SerializeToString(),))

    # -- wire format ----------------------------------------------------------

    def SerializeToString(self, *, deterministic: bool | None = None) -> bytes:  # noqa: N802
        """Encode in the protobuf binary wire format.

        Output is always deterministic (map entries sorted by key), so the
        ``deterministic`` flag is accepted for compatibility only.
        """
        out = bytearray()
        for field in self._wire_order:
            if self._is_set(field):
                out += _encode_field(field, self._values[field.name])
        return bytes(out)

    @classmethod
    def FromString(cls, data: bytes) -> Any:  # noqa: N802
        """Decode a message from the protobuf binary wire format."""
        msg = cls()
        msg.MergeFromString(data)
        return msg

    def ParseFromString(self, data: bytes) -> int:  # noqa: N802
        """Replace this message's content with the decoded ``data``."""
        self.Clear()
        return self.MergeFromString(data)

    def MergeFromString(self, data: bytes) -> int:  # noqa: N802
        """Merge decoded ``data`` into this message; unknown fields are dropped."""
        by_number = type(self)._by_number
        for number, wire_type, raw in _wire.iter_fields(data):
            field = by_number.get(number)
            if field is not None:
                _decode_field(self, field, wire_type, raw)
        self._modified()
        return len(data)

    # -- proto3 JSON ----------------------------------------------------------

    def to_json_dict(self) -> Any:
        """This message in the proto3 JSON mapping, as Python JSON values.

        Same output as protobuf's ``MessageToDict``: camelCase keys, default
        values omitted, bytes as base64, 64-bit integers as strings, enums by
        name, durations as ``"1.500s"``.
        """
        return {f.json_name: _json_value(f, self._values[f.name]) for f in self._set_fields()}

    @classmethod
    def from_json_dict(cls, value: Any, *, ignore_unknown_fields: bool = False) -> Any:
        """Build a message from proto3 JSON (camelCase or field names)."""
        msg = cls()
        msg._merge_json(value, ignore_unknown_fields)
        return msg

    def _to_json_value(self) -> Any:
        # Well-known types (Duration) override this with their JSON form.
        return self.to_json_dict()

    def _merge_json_value(self, value: Any, ignore_unknown: bool) -> None:
        self._merge_json(value, ignore_unknown)

    def _merge_json(self, value: Any, ignore_unknown: bool) -> None:
        if not isinstance(value, Mapping):
            raise ValueError(f"expected JSON object for {self._full_name}, got {value!r}")
        for key, item in value.items():
            field = self._by_json.get(key) or self._by_name.get(key)
            if field is None:
                if ignore_unknown:
                    continue
                raise ValueError(f'Message type "{self._full_name}" has no field named "{key}".')
            if item is None:
                continue
            _merge_json_field(self, field, item, ignore_unknown)


# -- wire helpers ---------------------------------------------------------------


def _encode_scalar(kind: str, number: int, value: Any) -> bytes:
    if kind == STRING:
        return _wire.len_field(number, value.encode("utf-8"))
    if kind == BYTES:
        return _wire.len_field(number, value)
    if kind == DOUBLE:
        return _wire.double_field(number, value)
    if kind == FLOAT:
        return _wire.float_field(number, value)
    return _wire.varint_field(number, int(value))


def _encode_field(field: Field, value: Any) -> bytes:
    if field.kind == MESSAGE:
        return _wire.len_field(field.number, value.SerializeToString())
    if field.kind == MAP:
        out = bytearray()
        for key in sorted(value, key=lambda k: k.encode("utf-8")):
            item = dict.__getitem__(value, key)
            entry = _wire.len_field(1, key.encode("utf-8"))
            if field.elem_is_message:
                entry += _wire.len_field(2, item.SerializeToString())
            else:
                entry += _encode_scalar(field.elem, 2, item)
            out += _wire.len_field(field.number, entry)
        return bytes(out)
    if field.kind == REPEATED:
        if field.elem_is_message:
            return b"".join(_wire.len_field(field.number, v.SerializeToString()) for v in value)
        if field.elem in (STRING, BYTES):
            return b"".join(_encode_scalar(field.elem, field.number, v) for v in value)
        # Numeric repeated fields are packed in proto3.
        packed = b"".join(_encode_scalar(field.elem, 0, v)[1:] for v in value)
        return _wire.len_field(field.number, packed)
    return _encode_scalar(field.kind, field.number, value)


def _decode_scalar(kind: str, wire_type: int, raw: Any) -> Any:
    if kind == STRING:
        return bytes(raw).decode("utf-8")
    if kind == BYTES:
        return bytes(raw)
    if kind == DOUBLE:
        return struct.unpack("<d", raw)[0]
    if kind == FLOAT:
        return struct.unpack("<f", raw)[0]
    if kind == BOOL:
        return bool(raw)
    if kind in (INT32, ENUM):
        return _wire.to_signed(raw, 32)
    if kind == INT64:
        return _wire.to_signed(raw, 64)
    return raw


def _decode_field(msg: Message, field: Field, wire_type: int, raw: Any) -> None:
    if field.kind == MESSAGE:
        getattr(msg, field.name).MergeFromString(raw)
        msg._mark_present(field.name)
    elif field.kind == MAP:
        key, item = "", None
        for number, wt, value in _wire.iter_fields(raw):
            if number == 1:
                key = bytes(value).decode("utf-8")
            elif number == 2:
                item = value if field.elem_is_message else _decode_scalar(field.elem, wt, value)
        if field.elem_is_message:
            item = field.elem.FromString(item or b"")
        elif item is None:
            item = _SCALAR_DEFAULTS[field.elem]
        dict.__setitem__(getattr(msg, field.name), key, item)
    elif field.kind == REPEATED:
        target = getattr(msg, field.name)
        if field.elem_is_message:
            list.append(target, field.elem.FromString(raw))
        elif wire_type == _wire.LEN and field.elem not in (STRING, BYTES):
            for v in _wire.iter_packed_varints(raw):
                list.append(target, _decode_scalar(field.elem, _wire.VARINT, v))
        else:
            list.append(target, _decode_scalar(field.elem, wire_type, raw))
    else:
        msg._values[field.name] = _decode_scalar(field.kind, wire_type, raw)


# -- JSON helpers ---------------------------------------------------------------


def _json_scalar(kind: str, value: Any, enum_names: Mapping[int, str]) -> Any:
    if kind == BYTES:
        return base64.b64encode(value).decode("ascii")
    if kind in (INT64, UINT64):
        return str(value)
    if kind == ENUM:
        return enum_names.get(value, value)
    if kind in (DOUBLE, FLOAT):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if kind == FLOAT:
            return _shortest_float32(value)
    return value


def _shortest_float32(value: float) -> float:
    """The shortest decimal that reads back as the same float32 value."""
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == struct.pack("<f", value):
            return candidate
    return value


def _json_value(field: Field, value: Any) -> Any:
    if field.kind == MESSAGE:
        return value._to_json_value()
    if field.kind == MAP:
        if field.elem_is_message:
            return {k: v._to_json_value() for k, v in value.items()}
        return {k: _json_scalar(field.elem, v, field.enum_names) for k, v in value.items()}
    if field.kind == REPEATED:
        if field.elem_is_message:
            return [v._to_json_value() for v in value]
        return [_json_scalar(field.elem, v, field.enum_names) for v in value]
    return _json_scalar(field.kind, value, field.enum_names)


def _parse_json_scalar(kind: str, value: Any, field: Field) -> Any:
    if kind == BYTES:
        if not isinstance(value, str):
            raise ValueError(f"expected base64 string for {field.name}")
        # Accept both the standard and the URL-safe alphabets, padded or not.
        text = value.replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4))
    if kind in (INT32, INT64, UINT64):
        return int(value)
    if kind == ENUM:
        if isinstance(value, str):
            by_name = {v: k for k, v in field.enum_names.items()}
            if value not in by_name:
                raise ValueError(f"unknown enum value {value!r} for {field.name}")
            return by_name[value]
        return int(value)
    if kind in (DOUBLE, FLOAT):
        return float(value)
    return _check_scalar(kind, value, field.name)


def _merge_json_field(msg: Message, field: Field, item: Any, ignore_unknown: bool) -> None:
    if field.kind == MESSAGE:
        getattr(msg, field.name)._merge_json_value(item, ignore_unknown)
        msg._mark_present(field.name)
        msg._modified()
        return
    if field.kind == MAP:
        target = getattr(msg, field.name)
        for key, v in item.items():
            if field.elem_is_message:
                child = field.elem()
                child._merge_json_value(v, ignore_unknown)
                target[key] = child
            else:
                target[key] = _parse_json_scalar(field.elem, v, field)
        return
    if field.kind == REPEATED:
        target = getattr(msg, field.name)
        for v in item:
            if field.elem_is_message:
                child = field.elem()
                child._merge_json_value(v, ignore_unknown)
                target.append(child)
            else:
                target.append(_parse_json_scalar(field.elem, v, field))
        return
    msg._assign(field, _parse_json_scalar(field.kind, item, field))


class Duration(Message):
    """``google.protobuf.Duration``: a signed span of seconds and nanoseconds."""

    __slots__ = ()
    _full_name = "google.protobuf.Duration"
    _fields = (Field("seconds", 1, INT64), Field("nanos", 2, INT32))

    def ToTimedelta(self) -> timedelta:  # noqa: N802 - protobuf name
        """This duration as a :py:class:`datetime.timedelta` (microsecond precision)."""
        micros = int(self.nanos / 1000)  # truncate toward zero like protobuf
        return timedelta(seconds=self.seconds, microseconds=micros)

    def FromTimedelta(self, td: timedelta) -> None:  # noqa: N802
        """Set this duration from a :py:class:`datetime.timedelta`."""
        self._set_total_nanos(
            (td.days * 86400 + td.seconds) * 1_000_000_000 + td.microseconds * 1000
        )

    def ToSeconds(self) -> int:  # noqa: N802
        """Whole seconds (nanoseconds dropped)."""
        return self.seconds

    def FromSeconds(self, seconds: int) -> None:  # noqa: N802
        """Set this duration to a whole number of seconds."""
        self._set_total_nanos(int(seconds) * 1_000_000_000)

    def ToNanoseconds(self) -> int:  # noqa: N802
        """Total nanoseconds."""
        return self.seconds * 1_000_000_000 + self.nanos

    def FromNanoseconds(self, nanos: int) -> None:  # noqa: N802
        """Set this duration from a total number of nanoseconds."""
        self._set_total_nanos(int(nanos))

    def ToMilliseconds(self) -> int:  # noqa: N802
        """Total milliseconds, truncated toward zero."""
        return int(self.ToNanoseconds() / 1_000_000)

    def FromMilliseconds(self, millis: int) -> None:  # noqa: N802
        """Set this duration from a number of milliseconds."""
        self._set_total_nanos(int(millis) * 1_000_000)

    def _set_total_nanos(self, total: int) -> None:
        # Seconds and nanos must share a sign, so divide toward zero.
        sign = -1 if total < 0 else 1
        secs, nanos = divmod(abs(total), 1_000_000_000)
        self.seconds = sign * secs
        self.nanos = sign * nanos
        self._modified()

    def ToJsonString(self) -> str:  # noqa: N802
        """The proto3 JSON form: ``"1s"``, ``"1.500s"``, ``"0.000001s"``..."""
        total = self.ToNanoseconds()
        sign = "-" if total < 0 else ""
        secs, nanos = divmod(abs(total), 1_000_000_000)
        if nanos == 0:
            return f"{sign}{secs}s"
        # protobuf prints 3, 6 or 9 fractional digits, whichever is exact.
        if nanos % 1_000_000 == 0:
            frac = f"{nanos // 1_000_000:03d}"
        elif nanos % 1000 == 0:
            frac = f"{nanos // 1000:06d}"
        else:
            frac = f"{nanos:09d}"
        return f"{sign}{secs}.{frac}s"

    def FromJsonString(self, value: str) -> None:  # noqa: N802
        """Parse the proto3 JSON form (``"1.5s"``)."""
        if not isinstance(value, str) or not value.endswith("s"):
            raise ValueError(f"invalid duration string {value!r}")
        body = value[:-1]
        negative = body.startswith("-")
        whole, _, frac = body.lstrip("-").partition(".")
        if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 9:
            raise ValueError(f"invalid duration string {value!r}")
        total = int(whole) * 1_000_000_000 + int((frac or "0").ljust(9, "0"))
        self._set_total_nanos(-total if negative else total)

    def _to_json_value(self) -> Any:
        return self.ToJsonString()

    def _merge_json_value(self, value: Any, ignore_unknown: bool) -> None:
        if isinstance(value, Mapping):
            self._merge_json(value, ignore_unknown)
        else:
            self.FromJsonString(value)


class Timestamp(Message):
    """``google.protobuf.Timestamp``: a point in time as seconds and nanoseconds since
    the Unix epoch (UTC); its JSON form is RFC 3339 text."""

    __slots__ = ()
    _full_name = "google.protobuf.Timestamp"
    _fields = (Field("seconds", 1, INT64), Field("nanos", 2, INT32))

    def ToDatetime(self, tzinfo: tzinfo | None = None) -> datetime:  # noqa: N802
        """This instant as a :py:class:`datetime.datetime` (naive UTC unless ``tzinfo``)."""
        moment = _EPOCH + timedelta(seconds=self.seconds, microseconds=self.nanos // 1000)
        return moment.astimezone(tzinfo) if tzinfo is not None else moment.replace(tzinfo=None)

    def FromDatetime(self, dt: datetime) -> None:  # noqa: N802
        """Set from a datetime (a naive one is taken as UTC)."""
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        delta = dt - _EPOCH
        micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        self.FromMicroseconds(micros)

    def ToSeconds(self) -> int:  # noqa: N802
        return self.seconds

    def FromSeconds(self, seconds: int) -> None:  # noqa: N802
        self.FromNanoseconds(int(seconds) * 1_000_000_000)

    def ToMilliseconds(self) -> int:  # noqa: N802
        return self.ToNanoseconds() // 1_000_000

    def FromMilliseconds(self, millis: int) -> None:  # noqa: N802
        self.FromNanoseconds(int(millis) * 1_000_000)

    def ToMicroseconds(self) -> int:  # noqa: N802
        return self.ToNanoseconds() // 1000

    def FromMicroseconds(self, micros: int) -> None:  # noqa: N802
        self.FromNanoseconds(int(micros) * 1000)

    def ToNanoseconds(self) -> int:  # noqa: N802
        return self.seconds * 1_000_000_000 + self.nanos

    def FromNanoseconds(self, nanos: int) -> None:  # noqa: N802
        # Unlike a duration, nanos is never negative: floor division.
        self.seconds, self.nanos = divmod(int(nanos), 1_000_000_000)
        self._modified()

    def GetCurrentTime(self) -> None:  # noqa: N802
        self.FromDatetime(datetime.now(timezone.utc))

    def ToJsonString(self) -> str:  # noqa: N802
        """RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf prints."""
        whole = (_EPOCH + timedelta(seconds=self.seconds)).strftime("%Y-%m-%dT%H:%M:%S")
        nanos = self.nanos
        if nanos == 0:
            return whole + "Z"
        if nanos % 1_000_000 == 0:
            return f"{whole}.{nanos // 1_000_000:03d}Z"
        if nanos % 1000 == 0:
            return f"{whole}.{nanos // 1000:06d}Z"
        return f"{whole}.{nanos:09d}Z"

    def FromJsonString(self, value: str) -> None:  # noqa: N802
        """Parse RFC 3339 text (any offset, up to nine fractional digits)."""
        match = _RFC3339.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"invalid timestamp {value!r}")
        head, fraction, offset = match.groups()
        base = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        if offset not in ("Z", "z"):
            sign = -1 if offset[0] == "-" else 1
            hours, minutes = offset[1:].split(":")
            base -= sign * timedelta(hours=int(hours), minutes=int(minutes))
        delta = base - _EPOCH
        seconds = delta.days * 86400 + delta.seconds
        self.FromNanoseconds(seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0")))

    def _to_json_value(self) -> Any:
        return self.ToJsonString()

    def _merge_json_value(self, value: Any, ignore_unknown: bool) -> None:
        if isinstance(value, Mapping):
            self._merge_json(value, ignore_unknown)
        else:
            self.FromJsonString(value)


class ProtoAny(Message):
    """``google.protobuf.Any``: a message of any type, serialized, with the URL of its
    type (``type.googleapis.com/<full name>``)."""

    __slots__ = ()
    _full_name = "google.protobuf.Any"
    _fields = (Field("type_url", 1, STRING), Field("value", 2, BYTES))

    def TypeName(self) -> str:  # noqa: N802 - protobuf name
        """The full name of the packed message's type."""
        return self.type_url.rpartition("/")[2]

    def Is(self, descriptor: Any) -> bool:  # noqa: N802
        """Whether the packed message is of the type ``descriptor`` describes."""
        return self.TypeName() == descriptor.full_name

    def Pack(self, msg: Message, type_url_prefix: str = "type.googleapis.com/") -> None:  # noqa: N802
        """Pack ``msg`` into this Any."""
        prefix = type_url_prefix if type_url_prefix.endswith("/") else type_url_prefix + "/"
        self.type_url = prefix + msg.DESCRIPTOR.full_name
        self.value = msg.SerializeToString()

    def Unpack(self, msg: Message) -> bool:  # noqa: N802
        """Decode the packed message into ``msg`` when it is of that type."""
        if not self.Is(msg.DESCRIPTOR):
            return False
        msg.ParseFromString(self.value)
        return True

    def _packed_class(self) -> type[Message]:
        cls = MESSAGE_TYPES.get(self.TypeName())
        if cls is None:
            raise ValueError(f"unknown message type in google.protobuf.Any: {self.type_url!r}")
        return cls

    # proto3 JSON: the packed message's fields next to "@type" (a well-known type
    # with a scalar JSON form goes under "value").
    def to_json_dict(self) -> Any:
        if not self.type_url:
            return {}
        cls = self._packed_class()
        inner = cls.FromString(self.value)._to_json_value()
        if cls in _SCALAR_JSON_TYPES:
            return {"@type": self.type_url, "value": inner}
        return {"@type": self.type_url, **inner}

    def _to_json_value(self) -> Any:
        return self.to_json_dict()

    def _merge_json(self, value: Any, ignore_unknown: bool) -> None:
        if not isinstance(value, Mapping) or "@type" not in value:
            raise ValueError(
                f"expected a JSON object with @type for google.protobuf.Any: {value!r}"
            )
        self.type_url = value["@type"]
        cls = self._packed_class()
        inner = cls()
        if cls in _SCALAR_JSON_TYPES:
            inner._merge_json_value(value.get("value"), ignore_unknown)
        else:
            inner._merge_json({k: v for k, v in value.items() if k != "@type"}, ignore_unknown)
        self.value = inner.SerializeToString()


_SCALAR_JSON_TYPES = (Duration, Timestamp)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)$")


class EnumTypeWrapper:
    """A protobuf enum type: its values as int attributes (``EventType.EVENT_TYPE_X``)
    and protobuf's ``Name`` / ``Value`` / ``keys`` / ``values`` / ``items``."""

    ValueType = int

    def __init__(self, full_name: str, names: Mapping[int, str]) -> None:
        self._full_name = full_name
        self._names = dict(names)
        self._numbers = {name: number for number, name in self._names.items()}

    def __getattr__(self, name: str) -> int:
        numbers = self.__dict__.get("_numbers", {})
        if name in numbers:
            return numbers[name]
        raise AttributeError(f"Enum {self.__dict__.get('_full_name')} has no value {name!r}")

    def Name(self, number: int) -> str:  # noqa: N802 - protobuf name
        if number in self._names:
            return self._names[number]
        raise ValueError(f"Enum {self._full_name} has no name defined for value {number!r}")

    def Value(self, name: str) -> int:  # noqa: N802 - protobuf name
        if name in self._numbers:
            return self._numbers[name]
        raise ValueError(f"Enum {self._full_name} has no value defined for name {name!r}")

    def keys(self) -> list[str]:
        return list(self._numbers)

    def values(self) -> list[int]:
        return list(self._names)

    def items(self) -> list[tuple[str, int]]:
        return list(self._numbers.items())


def enum_field(name: str, number: int, names: Mapping[int, str], **kwargs: Any) -> Field:
    """Shorthand for an enum field with its JSON value names."""
    return Field(name, number, ENUM, enum_names=names, **kwargs)


def message_field(name: str, number: int, elem: Callable[[], type] | type, **kwargs: Any) -> Field:
    """Shorthand for a sub-message field."""
    return Field(name, number, MESSAGE, elem, **kwargs)
