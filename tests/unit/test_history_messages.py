"""The hand-rolled ``api.history.v1`` messages and ``google.protobuf.Timestamp``:
Temporal's JSON and wire forms."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hotmesh_temporal.api._message import Timestamp
from hotmesh_temporal.api.history.v1 import (
    ActivityTaskScheduledEventAttributes,
    History,
    HistoryEvent,
)


@pytest.mark.parametrize(
    "text, seconds, nanos, printed",
    [
        ("2024-05-14T09:30:00Z", 1715679000, 0, "2024-05-14T09:30:00Z"),
        ("2024-05-14T09:30:00.5Z", 1715679000, 500_000_000, "2024-05-14T09:30:00.500Z"),
        ("2024-05-14T09:30:00.000123Z", 1715679000, 123_000, "2024-05-14T09:30:00.000123Z"),
        ("2024-05-14T09:30:00.000000007Z", 1715679000, 7, "2024-05-14T09:30:00.000000007Z"),
        ("2024-05-14T11:30:00+02:00", 1715679000, 0, "2024-05-14T09:30:00Z"),
        ("1969-12-31T23:59:59.5Z", -1, 500_000_000, "1969-12-31T23:59:59.500Z"),
    ],
)
def test_timestamp_json(text, seconds, nanos, printed):
    ts = Timestamp()
    ts.FromJsonString(text)
    assert (ts.seconds, ts.nanos) == (seconds, nanos)
    assert ts.ToJsonString() == printed


def test_timestamp_datetime_round_trip_and_errors():
    moment = datetime(2024, 5, 14, 9, 30, 0, 123456, tzinfo=timezone.utc)
    ts = Timestamp()
    ts.FromDatetime(moment)
    assert ts.ToDatetime(timezone.utc) == moment
    assert ts.ToDatetime() == moment.replace(tzinfo=None)
    assert ts.ToMicroseconds() == int(moment.timestamp() * 1_000_000)
    assert Timestamp.FromString(ts.SerializeToString()) == ts
    with pytest.raises(ValueError, match="invalid timestamp"):
        Timestamp().FromJsonString("yesterday")


def test_history_event_fields_oneof_and_json():
    event = HistoryEvent(event_id=5, event_type=10)  # EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    attrs = event.activity_task_scheduled_event_attributes
    attrs.activity_id = "1"
    attrs.activity_type.name = "shout"
    attrs.start_to_close_timeout.FromTimedelta(timedelta(seconds=10))
    event.event_time.FromDatetime(datetime(2024, 5, 14, 9, 30, tzinfo=timezone.utc))
    assert event.WhichOneof("attributes") == "activity_task_scheduled_event_attributes"
    assert event.HasField("activity_task_scheduled_event_attributes")
    assert event.to_json_dict() == {
        "eventId": "5",
        "eventTime": "2024-05-14T09:30:00Z",
        "eventType": "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
        "activityTaskScheduledEventAttributes": {
            "activityId": "1",
            "activityType": {"name": "shout"},
            "startToCloseTimeout": "10s",
        },
    }
    # Setting another attributes member clears the first (one oneof).
    event.timer_started_event_attributes.timer_id = "1"
    assert event.WhichOneof("attributes") == "timer_started_event_attributes"
    assert not event.HasField("activity_task_scheduled_event_attributes")
    history = History(events=[event])
    assert History.FromString(history.SerializeToString()) == history
    assert isinstance(
        HistoryEvent().activity_task_scheduled_event_attributes,
        ActivityTaskScheduledEventAttributes,
    )


def test_event_type_enum_as_protobuf_exposes_it():
    from hotmesh_temporal.api.enums import v1 as enums

    assert enums.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED == 10
    assert enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED == 10
    assert enums.EventType.Name(18) == "EVENT_TYPE_TIMER_FIRED"
    assert enums.EventType.Value("EVENT_TYPE_MARKER_RECORDED") == 25
    assert ("EVENT_TYPE_TIMER_FIRED", 18) in enums.EventType.items()
    with pytest.raises(ValueError):
        enums.EventType.Name(9999)
    with pytest.raises(ValueError):
        enums.EventType.Value("EVENT_TYPE_NOPE")
    with pytest.raises(AttributeError):
        enums.EventType.EVENT_TYPE_NOPE  # noqa: B018
    event = HistoryEvent.from_json_dict({"eventId": "1", "eventType": "EVENT_TYPE_TIMER_FIRED"})
    assert event.event_type == enums.EventType.EVENT_TYPE_TIMER_FIRED


def test_a_stored_event_outside_temporals_model_is_a_clear_error():
    from hotmesh_temporal._engine.runtime.history_export import rows_to_events

    row = {
        "id": 7,
        "type": "TimerStarted",
        "time": "2024-05-14T09:30:00Z",
        "attrs": {"timerID": "1"},
    }
    with pytest.raises(ValueError, match=r"stored event 7 \(TimerStarted\).*timerID"):
        rows_to_events([row])
    row["attrs"] = {"timerId": "1"}
    assert rows_to_events([row])[0].timer_started_event_attributes.timer_id == "1"
