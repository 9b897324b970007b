"""Pydantic v2 data converter round trips."""

import ipaddress
import uuid
from datetime import date, datetime, timezone
from typing import Generic, TypeVar

import pytest

pydantic = pytest.importorskip("pydantic")

from hotmesh_temporal.contrib.pydantic import (  # noqa: E402
    PydanticJSONPlainPayloadConverter,
    PydanticPayloadConverter,
    pydantic_data_converter,
)

T = TypeVar("T")


class Address(pydantic.BaseModel):
    ip: ipaddress.IPv4Address
    net: ipaddress.IPv6Network


class Person(pydantic.BaseModel):
    name: str
    born: date
    seen: datetime
    id: uuid.UUID
    addresses: list[Address]
    tags: set[str] = set()


class Box(pydantic.BaseModel, Generic[T]):
    item: T


def _person():
    return Person(
        name="Ada",
        born=date(1815, 12, 10),
        seen=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        id=uuid.UUID(int=7),
        addresses=[Address(ip="10.0.0.1", net="2001:db8::/32")],
        tags={"x"},
    )


def test_nested_model_round_trip():
    conv = pydantic_data_converter.payload_converter
    payload = conv.to_payload(_person())
    assert payload.metadata["encoding"] == b"json/plain"
    assert conv.from_payload(payload, Person) == _person()


def test_generic_model_round_trip():
    conv = pydantic_data_converter.payload_converter
    payload = conv.to_payload(Box[Person](item=_person()))
    assert conv.from_payload(payload, Box[Person]).item == _person()


def test_without_hint_returns_plain_json():
    conv = pydantic_data_converter.payload_converter
    assert conv.from_payload(conv.to_payload({"a": [1, 2]})) == {"a": [1, 2]}


def test_other_encodings_unchanged():
    conv = PydanticPayloadConverter()
    assert conv.to_payload(None).metadata["encoding"] == b"binary/null"
    assert conv.to_payload(b"x").metadata["encoding"] == b"binary/plain"


async def test_through_data_converter():
    payloads = await pydantic_data_converter.encode([_person(), 5])
    assert await pydantic_data_converter.decode(payloads, [Person, int]) == [_person(), 5]


def test_cache_size_validation_and_pickle():
    import pickle

    with pytest.raises(ValueError):
        PydanticJSONPlainPayloadConverter(max_cached_type_adapters=-1)
    conv = pickle.loads(pickle.dumps(PydanticJSONPlainPayloadConverter(max_cached_type_adapters=3)))
    assert conv.from_payload(conv.to_payload([1]), list[int]) == [1]
