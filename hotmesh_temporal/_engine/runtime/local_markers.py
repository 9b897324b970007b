"""Local activity outcomes as Core's ``core_local_activity`` markers, and back.

Pure conversions used by the replay driver (reading a marker into the job that resolves
the activity) and by completion building (writing the marker in place of the schedule
command). Running local activities is the worker's job
(``_engine/worker/local_activities.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime.markers import LOCAL_ACTIVITY_MARKER, json_payload
from hotmesh_temporal.api.failure.v1 import Failure


def is_local_activity(cmd: Any) -> bool:
    """A command scheduling a local activity (run by the worker, recorded as a marker)."""
    return isinstance(cmd, c.ScheduleActivity) and cmd.is_local


def marker_attributes(marker: c.LocalActivityMarker) -> dict[str, Any]:
    """MarkerRecorded attributes in Core's format."""
    data = {
        "seq": marker.seq,
        "attempt": marker.attempt,
        "activity_id": marker.activity_id,
        "activity_type": marker.activity_type,
        "complete_time": (
            None if marker.complete_time is None else _seconds_nanos_time(marker.complete_time)
        ),
        "backoff": _seconds_nanos_span(marker.backoff),
        "original_schedule_time": _seconds_nanos_time(marker.original_schedule_time),
    }
    details: dict[str, Any] = {"data": h.payloads([json_payload(data)])}
    if marker.result is not None:
        details["result"] = h.payloads([marker.result])
    return {
        "markerName": LOCAL_ACTIVITY_MARKER,
        "details": details,
        "failure": h.failure(marker.failure),
    }


def marker_from_attributes(attrs: Mapping[str, Any]) -> c.LocalActivityMarker | None:
    """The outcome a ``core_local_activity`` marker recorded (None if unreadable)."""
    details = attrs.get("details") or {}
    data_payloads = h.parse_payloads(details.get("data"))
    if not data_payloads:
        return None
    try:
        data = json.loads(data_payloads[0].data)
        result = h.parse_payloads(details.get("result"))
        return c.LocalActivityMarker(
            seq=int(data["seq"]),
            activity_id=str(data.get("activity_id", "")),
            activity_type=str(data.get("activity_type", "")),
            attempt=int(data.get("attempt") or 1),
            complete_time=_parse_optional_time(data.get("complete_time")),
            original_schedule_time=_parse_optional_time(data.get("original_schedule_time")),
            result=result[0] if result else None,
            failure=h.parse_failure(attrs.get("failure")),
            backoff=_parse_backoff(data.get("backoff")),
        )
    except (ValueError, KeyError, TypeError):
        return None


def is_local_activity_marker(attrs: Mapping[str, Any]) -> bool:
    return attrs.get("markerName") == LOCAL_ACTIVITY_MARKER


# Core's words for a local activity's final timeout: the TimeoutError cause, and the
# ActivityError wrapping it (seen with temporalio 1.35 against a dev server).
LOCAL_TIMEOUT_CAUSE = "Activity timed out"
LOCAL_TIMEOUT_MESSAGE = "Local Activity timed out"
# Core's words for a local activity cancelled from workflow code: the ActivityError,
# and the CancelledError under it when the workflow does not wait for the attempt
# (TRY_CANCEL, ABANDON), which is also the failure its marker records.
LOCAL_CANCELLED_MESSAGE = "Local Activity cancelled"
LOCAL_CANCELLED_CAUSE = "Activity cancelled"


def resolution(marker: c.LocalActivityMarker) -> c.ResolveActivity:
    """The job that hands a local activity's outcome to the workflow."""
    if marker.failure is None:
        return c.ResolveActivity(
            seq=marker.seq, completed=marker.result, has_completed=True, is_local=True
        )
    if marker.backoff is not None:
        return c.ResolveActivity(
            seq=marker.seq,
            is_local=True,
            backoff=c.LocalActivityBackoff(
                attempt=marker.attempt + 1,
                backoff_duration=marker.backoff,
                original_schedule_time=marker.original_schedule_time,
            ),
        )
    wrapper_message = _wrapper_message(marker.failure)
    if wrapper_message is None:
        # As with Temporal's Core: a local activity's own failure reaches the workflow
        # as it was raised (an ApplicationError), with no ActivityError around it.
        return c.ResolveActivity(seq=marker.seq, failed=marker.failure, is_local=True)
    # A timeout or cancellation is wrapped, in Core's words and with the retry state
    # Core reports for both.
    wrapper = Failure.from_json_dict(
        {
            "message": wrapper_message,
            "activityFailureInfo": {
                "activityType": {"name": marker.activity_type},
                "activityId": marker.activity_id,
                "retryState": "RETRY_STATE_CANCEL_REQUESTED",
            },
        }
    )
    wrapper.cause.CopyFrom(marker.failure)
    return c.ResolveActivity(seq=marker.seq, failed=wrapper, is_local=True)


def _wrapper_message(failure: Failure) -> str | None:
    if _is_timeout(failure):
        return LOCAL_TIMEOUT_MESSAGE
    if failure.HasField("canceled_failure_info"):
        return LOCAL_CANCELLED_MESSAGE
    return None


def _is_timeout(failure: Failure) -> bool:
    return failure.HasField("timeout_failure_info")


# Core serializes the marker's timestamps and durations with serde as
# {"seconds": <int>, "nanos": <int>} objects (null when absent).

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _seconds_nanos_time(value: datetime) -> dict[str, int]:
    return _seconds_nanos_span(value - _EPOCH) or {"seconds": 0, "nanos": 0}


def _seconds_nanos_span(value: timedelta | None) -> dict[str, int] | None:
    if value is None:
        return None
    micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    seconds, rest = divmod(micros, 1_000_000)
    return {"seconds": seconds, "nanos": rest * 1000}


def _parse_span(value: Any) -> timedelta | None:
    if isinstance(value, Mapping):
        return timedelta(
            seconds=int(value.get("seconds", 0)), microseconds=int(value.get("nanos", 0)) // 1000
        )
    if isinstance(value, str):  # tolerate the proto3 JSON forms too
        return h.parse_duration(value)
    return None


def _parse_optional_time(value: Any) -> datetime:
    if isinstance(value, str):
        return h.parse_time(value)
    span = _parse_span(value)
    return _EPOCH + span if span is not None else _EPOCH


def _parse_backoff(value: Any) -> timedelta | None:
    return None if value is None else _parse_span(value)
