"""Behaviour of the protobuf-compatible API messages (no temporalio needed)."""

import copy
import pickle
from datetime import timedelta

import pytest

from hotmesh_temporal.api._message import Duration
from hotmesh_temporal.api.common.v1 import (
    Header,
    Memo,
    Payload,
    Payloads,
    RetryPolicy,
    WorkflowExecution,
)
from hotmesh_temporal.api.failure.v1 import Failure


def test_payload_wire_bytes_hand_computed():
    p = Payload(metadata={"encoding": b"json/plain"}, data=b'"1"')
    entry = b"\x0a\x08encoding" + b"\x12\x0ajson/plain"  # key=1, value=2
    expected = b"\x0a" + bytes([len(entry)]) + entry + b"\x12\x03" + b'"1"'
    assert p.SerializeToString() == expected
    assert Payload.FromString(expected) == p


def test_payload_map_entries_sorted_and_empty_values_written():
    p = Payload(metadata={"z": b"", "a": b"1"})
    assert p.SerializeToString() == (b"\x0a\x06\x0a\x01a\x12\x011" + b"\x0a\x05\x0a\x01z\x12\x00")


def test_empty_messages_serialize_to_nothing():
    assert Payload().SerializeToString() == b""
    assert Payloads(payloads=[Payload()]).SerializeToString() == b"\x0a\x00"


def test_long_data_uses_multibyte_length():
    p = Payload(data=b"x" * 300)
    assert p.SerializeToString()[:3] == b"\x12\xac\x02"
    assert Payload.FromString(p.SerializeToString()).data == b"x" * 300


def test_type_checks_like_protobuf():
    with pytest.raises(TypeError):
        Payload(data="text")
    with pytest.raises(TypeError):
        Payload(metadata={"encoding": "json/plain"})
    with pytest.raises(ValueError):
        Payload(nope=1)


def test_sub_message_presence_follows_writes():
    f = Failure()
    assert not f.HasField("cause")
    _ = f.cause.message  # reading does not set
    assert not f.HasField("cause")
    f.cause.cause.message = "deep"
    assert f.HasField("cause") and f.cause.HasField("cause")
    with pytest.raises(ValueError):
        f.HasField("message")


def test_oneof_switches_and_clears():
    f = Failure()
    f.application_failure_info.type = "X"
    assert f.WhichOneof("failure_info") == "application_failure_info"
    f.timeout_failure_info.timeout_type = 1
    assert f.WhichOneof("failure_info") == "timeout_failure_info"
    assert not f.HasField("application_failure_info")
    assert f.application_failure_info.type == ""
    f.ClearField("failure_info")
    assert f.WhichOneof("failure_info") is None
    f.terminated_failure_info.SetInParent()
    assert f.HasField("failure_info")


def test_clear_field_detaches_old_child():
    f = Failure()
    child = f.cause
    child.message = "x"
    f.ClearField("cause")
    child.message = "y"
    assert not f.HasField("cause")


def test_copy_from_is_deep_and_sets_presence():
    a = Failure(message="m")
    a.cause.message = "inner"
    b = Failure()
    b.encoded_attributes.CopyFrom(Payload())
    assert b.HasField("encoded_attributes")
    b.CopyFrom(a)
    assert b == a and not b.HasField("encoded_attributes")
    b.cause.message = "changed"
    assert a.cause.message == "inner" and b != a


def test_repeated_and_map_fields_copy_messages():
    p = Payload(data=b"a")
    ps = Payloads()
    ps.payloads.append(p)
    p.data = b"b"
    assert ps.payloads[0].data == b"a"
    del ps.payloads[:]
    assert len(ps.payloads) == 0
    h = Header()
    h.fields["k"].data = b"1"  # missing keys spring into existence
    assert h.fields["k"] == Payload(data=b"1")
    assert Memo(fields={"a": Payload(data=b"2")}).fields["a"].data == b"2"


def test_json_matches_proto3_mapping():
    p = Payload(metadata={"encoding": b"json/plain"}, data=b'"1"')
    assert p.to_json_dict() == {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IjEi"}
    assert Payload.from_json_dict(p.to_json_dict()) == p
    assert WorkflowExecution(workflow_id="w", run_id="r").to_json_dict() == {
        "workflowId": "w",
        "runId": "r",
    }


def test_failure_json_shape():
    f = Failure(message="boom", source="PythonSDK", stack_trace="st")
    f.application_failure_info.type = "ValueError"
    f.application_failure_info.details.payloads.add(data=b"1")
    f.application_failure_info.next_retry_delay.FromTimedelta(timedelta(seconds=1.5))
    f.cause.activity_failure_info.scheduled_event_id = 5
    f.cause.activity_failure_info.retry_state = 4
    f.cause.cause.timeout_failure_info.timeout_type = 1
    assert f.to_json_dict() == {
        "message": "boom",
        "source": "PythonSDK",
        "stackTrace": "st",
        "cause": {
            "cause": {"timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"}},
            "activityFailureInfo": {
                "scheduledEventId": "5",
                "retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED",
            },
        },
        "applicationFailureInfo": {
            "type": "ValueError",
            "details": {"payloads": [{"data": "MQ=="}]},
            "nextRetryDelay": "1.500s",
        },
    }
    assert Failure.from_json_dict(f.to_json_dict()) == f
    # Explicit defaults (as some JSON writers emit) parse too.
    g = Failure.from_json_dict(
        {"message": "m", "applicationFailureInfo": {"nonRetryable": False, "type": "T"}}
    )
    assert g.application_failure_info.type == "T" and not g.application_failure_info.non_retryable
    with pytest.raises(ValueError):
        Failure.from_json_dict({"bogus": 1})


def test_failure_wire_round_trip():
    f = Failure(message="a")
    f.cause.child_workflow_execution_failure_info.workflow_execution.run_id = "r"
    f.encoded_attributes.data = b"x"
    assert Failure.FromString(f.SerializeToString()) == f


@pytest.mark.parametrize(
    "td, text",
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=1), "1s"),
        (timedelta(seconds=1.5), "1.500s"),
        (timedelta(microseconds=100), "0.000100s"),
        (timedelta(seconds=-1.5), "-1.500s"),
    ],
)
def test_duration_json_and_timedelta(td, text):
    d = Duration()
    d.FromTimedelta(td)
    assert d.ToJsonString() == text
    assert d.ToTimedelta() == td
    e = Duration()
    e.FromJsonString(text)
    assert e == d


def test_negative_varints_use_ten_bytes():
    r = RetryPolicy(maximum_attempts=-1)
    assert r.SerializeToString() == b"\x20" + b"\xff" * 9 + b"\x01"
    assert RetryPolicy.FromString(r.SerializeToString()).maximum_attempts == -1


def test_pickle_and_copy():
    p = Payload(metadata={"a": b"1"}, data=b"2")
    assert pickle.loads(pickle.dumps(p)) == p
    assert copy.deepcopy(p) == p and copy.copy(p) is not p


def test_descriptor_numbers_are_protobufs():
    """The FieldDescriptor numbers our descriptors answer are protobuf's own."""
    descriptor = pytest.importorskip("google.protobuf.descriptor")
    from hotmesh_temporal.api import _message

    fd = descriptor.FieldDescriptor
    for kind, number in _message._PROTO_TYPE.items():
        assert number == getattr(fd, f"TYPE_{kind.upper()}"), kind
    for kind, number in _message._PROTO_CPPTYPE.items():
        cpp = "STRING" if kind == "bytes" else kind.upper()
        assert number == getattr(fd, f"CPPTYPE_{cpp}"), kind
    assert _message._LABEL_REPEATED == fd.LABEL_REPEATED
    assert _message._LABEL_OPTIONAL == fd.LABEL_OPTIONAL


def test_json_format_parse_errors_name_our_message():
    json_format = pytest.importorskip("google.protobuf.json_format")
    from hotmesh_temporal.api.common.v1 import Payload

    with pytest.raises(
        json_format.ParseError, match='"temporal.api.common.v1.Payload" has no field named "nope"'
    ):
        json_format.ParseDict({"nope": 1}, Payload())
    assert json_format.ParseDict({"nope": 1}, Payload(), ignore_unknown_fields=True) == Payload()
    assert Payload.DESCRIPTOR.file.name == "temporal/api/common/v1/message.proto"
