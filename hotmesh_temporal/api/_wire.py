"""A tiny protocol-buffers wire-format codec.

Only the pieces Temporal's messages need: varints, 64/32-bit fixed numbers and
length-delimited records. The message classes in :mod:`._message` describe
their fields and call into these helpers; nothing here knows about Temporal.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

# Wire types from the protobuf encoding specification.
VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

_MASK64 = (1 << 64) - 1


def encode_varint(value: int) -> bytes:
    """Encode an integer as a base-128 varint.

    Negative numbers are written as their 64-bit two's complement (ten bytes),
    which is what protobuf does for int32, int64 and enum fields.
    """
    value &= _MASK64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Read an unsigned varint at ``pos``; return ``(value, next_pos)``."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long")


def to_signed(value: int, bits: int) -> int:
    """Reinterpret an unsigned varint as a signed integer of ``bits`` width."""
    value &= (1 << bits) - 1
    if value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def tag(number: int, wire_type: int) -> bytes:
    """Encode the key that precedes every field on the wire."""
    return encode_varint((number << 3) | wire_type)


def varint_field(number: int, value: int) -> bytes:
    """A complete varint field (int32/int64/bool/enum)."""
    return tag(number, VARINT) + encode_varint(value)


def len_field(number: int, payload: bytes) -> bytes:
    """A complete length-delimited field (string/bytes/message/map entry)."""
    return tag(number, LEN) + encode_varint(len(payload)) + payload


def double_field(number: int, value: float) -> bytes:
    """A complete 64-bit floating point field."""
    return tag(number, FIXED64) + struct.pack("<d", value)


def float_field(number: int, value: float) -> bytes:
    """A complete 32-bit floating point field."""
    return tag(number, FIXED32) + struct.pack("<f", value)


def iter_fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, object]]:
    """Yield ``(field_number, wire_type, raw_value)`` for each field in ``buf``.

    ``raw_value`` is an int for varints, bytes for length-delimited records and
    the raw little-endian bytes for fixed-width numbers. Groups (wire types 3
    and 4) are long deprecated and never used by Temporal, so they are refused.
    """
    view = memoryview(buf)
    pos = 0
    end = len(view)
    while pos < end:
        key, pos = decode_varint(view, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ValueError("invalid field number 0")
        if wire_type == VARINT:
            value, pos = decode_varint(view, pos)
            yield number, wire_type, value
        elif wire_type == LEN:
            size, pos = decode_varint(view, pos)
            if pos + size > end:
                raise ValueError("truncated length-delimited field")
            yield number, wire_type, bytes(view[pos : pos + size])
            pos += size
        elif wire_type in (FIXED64, FIXED32):
            width = 8 if wire_type == FIXED64 else 4
            if pos + width > end:
                raise ValueError("truncated fixed-width field")
            yield number, wire_type, bytes(view[pos : pos + width])
            pos += width
        else:
            raise ValueError(f"unsupported wire type {wire_type}")


def iter_packed_varints(data: bytes) -> Iterator[int]:
    """Yield the varints of a packed repeated numeric field."""
    pos = 0
    while pos < len(data):
        value, pos = decode_varint(data, pos)
        yield value
