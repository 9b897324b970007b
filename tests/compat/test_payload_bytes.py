"""Our Payload bytes and JSON payloads must equal temporalio's for the same input."""

import dataclasses
import uuid
from datetime import datetime, timezone

import pytest

temporalio_common = pytest.importorskip("temporalio.api.common.v1")
import temporalio.converter  # noqa: E402

from hotmesh_temporal.api.common.v1 import Payload, Payloads  # noqa: E402
from hotmesh_temporal.converter import DataConverter  # noqa: E402

CASES = [
    ({"encoding": b"json/plain"}, b'"1"'),
    ({}, b""),
    ({"encoding": b"binary/null"}, b""),
    ({"encoding": b"json/protobuf", "messageType": b"a.B"}, b"{}"),
    ({"z": b"", "a": bytes(range(256)), "encoding": b"binary/plain"}, b"x" * 300),
]


@pytest.mark.parametrize("metadata, data", CASES)
def test_payload_bytes_equal(metadata, data):
    ours = Payload(metadata=metadata, data=data)
    theirs = temporalio_common.Payload(metadata=metadata, data=data)
    # protobuf-python orders map entries by a per-process hash seed unless
    # asked for deterministic output; we always write the deterministic order.
    assert ours.SerializeToString() == theirs.SerializeToString(deterministic=True)
    if len(metadata) <= 1:
        assert ours.SerializeToString() == theirs.SerializeToString()
    assert Payload.FromString(theirs.SerializeToString()) == ours
    parsed = temporalio_common.Payload.FromString(ours.SerializeToString())
    assert parsed == theirs


def test_payloads_bytes_equal():
    ours = Payloads(payloads=[Payload(metadata=m, data=d) for m, d in CASES])
    theirs = temporalio_common.Payloads(
        payloads=[temporalio_common.Payload(metadata=m, data=d) for m, d in CASES]
    )
    assert ours.SerializeToString() == theirs.SerializeToString(deterministic=True)
    assert Payloads.FromString(theirs.SerializeToString()) == ours


@dataclasses.dataclass
class Item:
    name: str
    count: int = 0


VALUES = [
    None,
    b"\x00bytes",
    0,
    -7,
    1.25,
    "text",
    "ünïcödé",
    True,
    [1, "a", None],
    {"b": 2, "a": {"nested": [1.5]}},
    Item("x", 3),
    datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc),
    uuid.UUID(int=42),
    (1, 2),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_default_converter_payloads_equal(value):
    ours = DataConverter.default.payload_converter.to_payload(value)
    theirs = temporalio.converter.DataConverter.default.payload_converter.to_payload(value)
    assert dict(ours.metadata) == dict(theirs.metadata)
    assert ours.data == theirs.data


def test_grpc_status_bytes_equal():
    from hotmesh_temporal.api.common.v1 import GrpcStatus, WorkflowExecution
    from hotmesh_temporal.service import RPCError, RPCStatusCode

    theirs = temporalio_common.GrpcStatus(code=6, message="already started")
    theirs.details.add().Pack(temporalio_common.WorkflowExecution(workflow_id="w", run_id="r"))
    raw = theirs.SerializeToString()
    ours = GrpcStatus.FromString(raw)
    assert (ours.code, ours.message) == (6, "already started")
    unpacked = WorkflowExecution()
    assert ours.details[0].Unpack(unpacked)
    assert unpacked == WorkflowExecution(workflow_id="w", run_id="r")
    assert ours.SerializeToString() == raw
    # An RPCError holding a raw status decodes it, as temporalio's does.
    err = RPCError("already started", RPCStatusCode.ALREADY_EXISTS, raw)
    assert err.grpc_status == ours
    from google.protobuf.json_format import MessageToDict

    assert ours.to_json_dict() == MessageToDict(theirs)
    assert GrpcStatus.from_json_dict(MessageToDict(theirs)) == ours
