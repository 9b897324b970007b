"""Temporal's event model: event type names, the attributes of the events that workflow
commands produce, and conversions between our rows and Temporal's JSON history.

Attributes are kept exactly in Temporal's proto3 JSON shape (camelCase keys, int64 as
strings, durations as "1.5s", payloads as {"metadata": {...}, "data": base64}), so that
an exported history reads like one from a Temporal server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.api.failure.v1 import Failure
from hotmesh_temporal.common import RetryPolicy

# Events whose presence in history is the result of a workflow command: during replay
# each must be matched, in order, by the command the workflow code issues again.
COMMAND_EVENTS = frozenset(
    {
        "ActivityTaskScheduled",
        "ActivityTaskCancelRequested",
        "TimerStarted",
        "TimerCanceled",
        "WorkflowExecutionCompleted",
        "WorkflowExecutionFailed",
        "WorkflowExecutionCanceled",
        "WorkflowExecutionContinuedAsNew",
        "MarkerRecorded",
        "StartChildWorkflowExecutionInitiated",
        "SignalExternalWorkflowExecutionInitiated",
        "RequestCancelExternalWorkflowExecutionInitiated",
        "UpsertWorkflowSearchAttributes",
        "WorkflowPropertiesModified",
        "WorkflowExecutionUpdateAccepted",
        "WorkflowExecutionUpdateCompleted",
    }
)

# Enum values of commands (Python IntEnum values) -> Temporal's JSON enum names.
PARENT_CLOSE_POLICY = {
    1: "PARENT_CLOSE_POLICY_TERMINATE",
    2: "PARENT_CLOSE_POLICY_ABANDON",
    3: "PARENT_CLOSE_POLICY_REQUEST_CANCEL",
}
ID_REUSE_POLICY = {
    1: "WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE",
    2: "WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY",
    3: "WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE",
    4: "WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING",
}

CLOSE_STATUS = {
    "WorkflowExecutionCompleted": 2,
    "WorkflowExecutionFailed": 3,
    "WorkflowExecutionCanceled": 4,
    "WorkflowExecutionTerminated": 5,
    "WorkflowExecutionContinuedAsNew": 6,
    "WorkflowExecutionTimedOut": 7,
}

_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def event_type_enum(short: str) -> str:
    """'ActivityTaskScheduled' -> 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED'."""
    return "EVENT_TYPE_" + _CAMEL_BOUNDARY.sub("_", short).upper()


def event_type_short(name: str) -> str:
    """Accept both 'EVENT_TYPE_TIMER_FIRED' and 'TimerFired' (older CLI output)."""
    if not name.startswith("EVENT_TYPE_"):
        return name
    return "".join(word.capitalize() for word in name[len("EVENT_TYPE_") :].split("_"))


def attributes_key(short: str) -> str:
    """'ActivityTaskScheduled' -> 'activityTaskScheduledEventAttributes'."""
    return short[0].lower() + short[1:] + "EventAttributes"


# ------------------------------------------------------------------ JSON primitives


def duration(value: timedelta | None) -> str | None:
    if value is None:
        return None
    seconds = value.total_seconds()
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return text + "s"


def parse_duration(text: str | None) -> timedelta | None:
    if not text:
        return None
    return timedelta(seconds=float(text.rstrip("s")))


def seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def payloads(values: Sequence[Payload]) -> dict[str, Any] | None:
    if not values:
        return None
    return {"payloads": [p.to_json_dict() for p in values]}


def parse_payloads(obj: Mapping[str, Any] | None) -> list[Payload]:
    if not obj:
        return []
    return [Payload.from_json_dict(p) for p in obj.get("payloads") or []]


def payload_map(values: Mapping[str, Payload] | None) -> dict[str, Any] | None:
    if not values:
        return None
    return {k: v.to_json_dict() for k, v in values.items()}


def parse_payload_map(obj: Mapping[str, Any] | None) -> dict[str, Payload]:
    return {k: Payload.from_json_dict(v) for k, v in (obj or {}).items()}


def search_attributes(indexed: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """SearchAttributes JSON from already-encoded indexed fields (None when empty)."""
    return {"indexedFields": dict(indexed)} if indexed else None


def header(values: Mapping[str, Payload] | None) -> dict[str, Any] | None:
    fields = payload_map(values)
    return {"fields": fields} if fields else None


def failure(value: Failure | None) -> dict[str, Any] | None:
    return None if value is None else value.to_json_dict()


def parse_failure(obj: Mapping[str, Any] | None) -> Failure | None:
    return None if not obj else Failure.from_json_dict(dict(obj))


def parse_time(value: Any) -> datetime:
    """Timestamps come from Postgres (datetime, or ISO text inside JSON)."""
    if isinstance(value, datetime):
        return value
    text = str(value).replace("Z", "+00:00")
    # Postgres trims trailing zeros of the fraction; fromisoformat on 3.10 wants 3 or 6.
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$", text)
    if match:
        head, fraction, tail = match.groups()
        fraction = (fraction or "0").ljust(6, "0")[:6]
        text = f"{head}.{fraction}{tail or '+00:00'}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def format_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def strip_none(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def retry_policy_json(policy: Any) -> dict[str, Any] | None:
    """A common.RetryPolicy in Temporal's JSON shape (for events)."""
    if policy is None:
        return None
    return strip_none(
        {
            "initialInterval": duration(policy.initial_interval),
            "backoffCoefficient": policy.backoff_coefficient,
            "maximumInterval": duration(policy.maximum_interval),
            "maximumAttempts": policy.maximum_attempts,
            "nonRetryableErrorTypes": list(policy.non_retryable_error_types or []) or None,
        }
    )


def parse_retry_policy(doc: Mapping[str, Any] | None) -> Any:
    """The common.RetryPolicy of an event's ``retryPolicy`` (None when absent)."""
    if not doc:
        return None

    return RetryPolicy(
        initial_interval=parse_duration(doc.get("initialInterval")) or timedelta(seconds=1),
        backoff_coefficient=float(doc.get("backoffCoefficient", 2.0)),
        maximum_interval=parse_duration(doc.get("maximumInterval")),
        maximum_attempts=int(doc.get("maximumAttempts", 0)),
        non_retryable_error_types=doc.get("nonRetryableErrorTypes"),
    )


def retry_policy_row(policy: Any) -> dict[str, Any] | None:
    """A common.RetryPolicy in the shape the SQL retry function reads (seconds)."""
    if policy is None:
        return None
    return strip_none(
        {
            "initial_interval": seconds(policy.initial_interval),
            "backoff_coefficient": policy.backoff_coefficient,
            "maximum_interval": seconds(policy.maximum_interval),
            "maximum_attempts": policy.maximum_attempts,
            "non_retryable_error_types": list(policy.non_retryable_error_types or []),
        }
    )


def task_queue(name: str) -> dict[str, str]:
    return {"name": name, "kind": "TASK_QUEUE_KIND_NORMAL"}


def event(event_type: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The shape the SQL functions append: {type, attrs} (time: the database's now)."""
    return {"type": event_type, "attrs": strip_none(dict(attrs))}


def event_at(time: Any, event_type: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """An event with its own time (ISO text or datetime), e.g. a task's start."""
    out = event(event_type, attrs)
    if time is not None:
        out["time"] = time if isinstance(time, str) else time.isoformat()
    return out


# ------------------------------------------------------------------- JSON history


def row_to_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """One event as {id, type, time, attrs} (and optionally user_metadata) -> Temporal's
    JSON event."""
    short = row["type"]
    event = {
        "eventId": str(row["id"]),
        "eventTime": format_time(parse_time(row["time"])),
        "eventType": event_type_enum(short),
        "taskId": str(row["id"]),
        attributes_key(short): row["attrs"],
    }
    if row.get("user_metadata"):  # sdk.v1.UserMetadata JSON, kept on the event itself
        event["userMetadata"] = row["user_metadata"]
    return event


def json_to_row(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Temporal's JSON event -> {id, type, time, attrs}."""
    short = event_type_short(str(obj["eventType"]))
    attrs: Any = obj.get(attributes_key(short))
    if attrs is None:  # some exporters write the attributes key in another case
        attrs = next((v for k, v in obj.items() if k.endswith("EventAttributes")), {})
    return {
        "id": int(obj["eventId"]),
        "type": short,
        "time": obj.get("eventTime") or "1970-01-01T00:00:00Z",
        "attrs": attrs or {},
    }


def rows_to_history_json(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"events": [row_to_json(r) for r in rows]}
