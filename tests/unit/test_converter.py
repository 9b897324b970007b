"""Payload and failure conversion: encodings, round trips, codecs, failure chains."""

import collections
import dataclasses
import enum
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, NewType, Optional, TypedDict

import pytest

from hotmesh_temporal import converter as conv
from hotmesh_temporal import exceptions as exc
from hotmesh_temporal.api.common.v1 import Payload, Payloads
from hotmesh_temporal.api.failure.v1 import Failure
from hotmesh_temporal.common import (
    RawValue,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)

PC = conv.DataConverter.default.payload_converter


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Line:
    start: Point
    end: Point | None = None


class Color(enum.IntEnum):
    RED = 1


class Shade(str, enum.Enum):
    DARK = "dark"


class Movie(TypedDict):
    title: str
    year: int


UserId = NewType("UserId", int)


@pytest.mark.parametrize(
    "value, encoding, data",
    [
        (None, b"binary/null", b""),
        (b"\x00\x01", b"binary/plain", b"\x00\x01"),
        ("hi", b"json/plain", b'"hi"'),
        (1.5, b"json/plain", b"1.5"),
        ({"b": 1, "a": [True, None]}, b"json/plain", b'{"a":[true,null],"b":1}'),
        (Point(1, 2), b"json/plain", b'{"tags":[],"x":1,"y":2}'),
        (datetime(2020, 1, 2, tzinfo=timezone.utc), b"json/plain", b'"2020-01-02T00:00:00+00:00"'),
        (uuid.UUID(int=1), b"json/plain", b'"00000000-0000-0000-0000-000000000001"'),
        ("é", b"json/plain", b'"\\u00e9"'),
    ],
)
def test_exact_encodings(value, encoding, data):
    payload = PC.to_payload(value)
    assert payload.metadata == {"encoding": encoding}
    assert payload.data == data


@pytest.mark.parametrize(
    "value, hint",
    [
        (None, None),
        (b"raw", bytes),
        (42, int),
        ("s", str),
        ([1, 2], list[int]),
        ((1, "a"), tuple[int, str]),
        ({1, 2}, set[int]),
        (frozenset({3}), frozenset[int]),
        (collections.deque([1]), collections.deque[int]),
        ({1: "a"}, dict[int, str]),
        ({Color.RED: True}, dict[Color, bool]),
        (Line(Point(1, tags=["t"]), Point(2)), Line),
        (Color.RED, Color),
        (Shade.DARK, Shade),
        (datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc), datetime),
        (uuid.UUID(int=9), uuid.UUID),
        ({"title": "x", "year": 1999}, Movie),
        (UserId(5), UserId),
        ("b", Literal["a", "b"]),
        (None, Optional[int]),  # noqa: UP045 (the old spelling is under test)
        (3, int | str),
        ({"any": [1]}, Any),
    ],
)
def test_round_trip_with_type_hints(value, hint):
    payload = PC.to_payload(value)
    assert PC.from_payload(payload, hint) == value


def test_value_to_type_errors():
    with pytest.raises(TypeError):
        conv.value_to_type(int, "nope")
    with pytest.raises(TypeError):
        conv.value_to_type(Literal["a"], "b")
    with pytest.raises(TypeError):
        conv.value_to_type(Point, {"y": 1})  # missing required field


def test_custom_type_converter_takes_precedence():
    class Upper(conv.JSONTypeConverter):
        def to_typed_value(self, hint, value):
            return value.upper() if hint is str else conv.JSONTypeConverter.Unhandled

    c = conv.JSONPlainPayloadConverter(custom_type_converters=[Upper()])
    assert c.from_payload(c.to_payload("abc"), str) == "ABC"


def test_raw_value_passes_through():
    raw = Payload(metadata={"encoding": b"custom"}, data=b"x")
    assert PC.to_payloads([RawValue(raw)]) == [raw]
    assert PC.from_payloads([raw], [RawValue]) == [RawValue(raw)]


def test_unknown_encoding_and_unconvertible_value():
    with pytest.raises(KeyError):
        PC.from_payload(Payload(metadata={"encoding": b"nope"}))
    with pytest.raises(TypeError):
        PC.to_payload(object())
    with pytest.raises(RuntimeError):
        PC.from_payload(Payload(metadata={"encoding": b"json/plain"}, data=b"{"))


def test_api_messages_use_proto_encodings():
    msg = Payloads(payloads=[Payload(data=b"a")])
    payload = PC.to_payload(msg)
    assert payload.metadata == {
        "encoding": b"json/protobuf",
        "messageType": b"temporal.api.common.v1.Payloads",
    }
    assert payload.data == b'{"payloads":[{"data":"YQ=="}]}'
    assert PC.from_payload(payload) == msg
    binary = conv.BinaryProtoPayloadConverter()
    assert binary.from_payload(binary.to_payload(msg)) == msg


def test_default_converter_order():
    encodings = [
        c.encoding for c in conv.DefaultPayloadConverter.default_encoding_payload_converters
    ]
    assert encodings == [
        "binary/null",
        "binary/plain",
        "json/protobuf",
        "binary/protobuf",
        "json/plain",
    ]


class XorCodec(conv.PayloadCodec):
    async def encode(self, payloads):
        return [
            Payload(metadata={"encoding": b"xor"}, data=p.SerializeToString()[::-1])
            for p in payloads
        ]

    async def decode(self, payloads):
        return [Payload.FromString(p.data[::-1]) for p in payloads]


async def test_data_converter_with_codec():
    dc = conv.DataConverter(payload_codec=XorCodec())
    payloads = await dc.encode([Point(1), "s"])
    assert all(p.metadata["encoding"] == b"xor" for p in payloads)
    assert await dc.decode(payloads, [Point, str]) == [Point(1), "s"]
    wrapper = await dc.encode_wrapper([1])
    assert await dc.decode_wrapper(wrapper) == [1]
    assert await dc.decode_wrapper(None) == []


def _raise_chain():
    try:
        try:
            raise ValueError("root cause")
        except ValueError as e:
            raise exc.ApplicationError(
                "app",
                {"k": 1},
                type="MyType",
                non_retryable=True,
                next_retry_delay=timedelta(seconds=2),
                category=exc.ApplicationErrorCategory.BENIGN,
            ) from e
    except exc.ApplicationError as e:
        err = exc.ActivityError(
            "Activity task failed",
            scheduled_event_id=5,
            started_event_id=6,
            identity="w1",
            activity_type="do",
            activity_id="1",
            retry_state=exc.RetryState.MAXIMUM_ATTEMPTS_REACHED,
        )
        err.__cause__ = e
        return err


def test_failure_chain_to_failure():
    failure = Failure()
    conv.DefaultFailureConverter().to_failure(_raise_chain(), PC, failure)
    assert failure.message == "Activity task failed"
    info = failure.activity_failure_info
    assert (info.scheduled_event_id, info.activity_type.name, info.retry_state) == (5, "do", 4)
    app = failure.cause
    assert app.message == "app" and "raise exc.ApplicationError" in app.stack_trace
    assert app.application_failure_info.type == "MyType"
    assert app.application_failure_info.non_retryable
    assert app.application_failure_info.next_retry_delay.ToTimedelta() == timedelta(seconds=2)
    assert app.application_failure_info.category == 1
    assert app.application_failure_info.details.payloads[0].data == b'{"k":1}'
    root = app.cause
    assert root.message == "root cause"
    assert root.application_failure_info.type == "ValueError"


def test_failure_chain_round_trip():
    failure = Failure()
    fc = conv.DefaultFailureConverter()
    fc.to_failure(_raise_chain(), PC, failure)
    err = fc.from_failure(Failure.FromString(failure.SerializeToString()), PC)
    assert (
        isinstance(err, exc.ActivityError)
        and err.retry_state is exc.RetryState.MAXIMUM_ATTEMPTS_REACHED
    )
    assert err.failure is not None
    app = err.cause
    assert isinstance(app, exc.ApplicationError)
    assert (app.type, app.details, app.non_retryable) == ("MyType", ({"k": 1},), True)
    assert app.category is exc.ApplicationErrorCategory.BENIGN
    assert isinstance(app.cause, exc.ApplicationError) and app.cause.type == "ValueError"
    # A decoded error re-encodes to exactly the failure it came from.
    again = Failure()
    fc.to_failure(err, PC, again)
    assert again == failure


@pytest.mark.parametrize(
    "error, info, check",
    [
        (exc.CancelledError("c", "d"), "canceled_failure_info", lambda e: e.details == ("d",)),
        (exc.TerminatedError("t"), "terminated_failure_info", lambda e: e.message == "t"),
        (
            exc.TimeoutError("to", type=exc.TimeoutType.HEARTBEAT, last_heartbeat_details=[7]),
            "timeout_failure_info",
            lambda e: e.type is exc.TimeoutType.HEARTBEAT and list(e.last_heartbeat_details) == [7],
        ),
        (
            exc.ServerError("s", non_retryable=True),
            "server_failure_info",
            lambda e: e.non_retryable,
        ),
        (
            exc.ChildWorkflowError(
                "child",
                namespace="ns",
                workflow_id="w",
                run_id="r",
                workflow_type="T",
                initiated_event_id=1,
                started_event_id=2,
                retry_state=None,
            ),
            "child_workflow_execution_failure_info",
            lambda e: (e.workflow_id, e.run_id, e.retry_state) == ("w", "r", None),
        ),
    ],
)
def test_failure_kinds_round_trip(error, info, check):
    failure = Failure()
    fc = conv.FailureConverter.default
    fc.to_failure(error, PC, failure)
    assert failure.WhichOneof("failure_info") == info
    back = fc.from_failure(failure, PC)
    assert type(back) is type(error) and check(back)


def test_plain_exception_becomes_application_error():
    failure = Failure()
    conv.FailureConverter.default.to_failure(KeyError("k"), PC, failure)
    assert failure.application_failure_info.type == "KeyError"
    assert failure.message == "'k'"
    assert not failure.application_failure_info.non_retryable


def test_encoded_attributes():
    failure = Failure()
    fc = conv.DefaultFailureConverterWithEncodedAttributes()
    try:
        raise exc.ApplicationError("secret")
    except exc.ApplicationError as e:
        fc.to_failure(e, PC, failure)
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    attrs = PC.from_payload(failure.encoded_attributes)
    assert attrs["message"] == "secret" and "secret" in str(attrs) and attrs["stack_trace"]
    back = fc.from_failure(failure, PC)
    assert back.message == "secret"
    assert failure.message == "Encoded failure"  # input not mutated


async def test_codec_applies_to_failure_payloads():
    dc = conv.DataConverter(
        payload_codec=XorCodec(),
        failure_converter_class=conv.DefaultFailureConverterWithEncodedAttributes,
    )
    failure = Failure()
    await dc.encode_failure(exc.ApplicationError("m", "detail"), failure)
    assert failure.encoded_attributes.metadata["encoding"] == b"xor"
    assert failure.application_failure_info.details.payloads[0].metadata["encoding"] == b"xor"
    err = await dc.decode_failure(failure)
    assert err.message == "m" and err.details == ("detail",)


def test_typed_search_attributes_round_trip():
    from hotmesh_temporal.api.common.v1 import SearchAttributes

    kw = SearchAttributeKey.for_keyword("kw")
    when = SearchAttributeKey.for_datetime("when")
    tags = SearchAttributeKey.for_keyword_list("tags")
    attrs = TypedSearchAttributes(
        [
            SearchAttributePair(kw, "a"),
            SearchAttributePair(when, datetime(2020, 1, 1, tzinfo=timezone.utc)),
            SearchAttributePair(tags, ["x", "y"]),
        ]
    )
    api = SearchAttributes()
    conv.encode_search_attributes(attrs, api)
    assert api.indexed_fields["kw"].metadata == {"encoding": b"json/plain", "type": b"Keyword"}
    assert conv.decode_typed_search_attributes(api) == attrs


def test_payload_validation_error():
    err = conv.create_payload_validation_error({"field": "x"})
    assert (
        err.type == "PayloadValidationError"
        and err.non_retryable
        and err.details == ({"field": "x"},)
    )
