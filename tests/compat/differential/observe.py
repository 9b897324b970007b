"""What a user can observe, as JSON, with what legitimately varies normalised away.

Ids, run ids, task queues, identities and clock readings differ between any two runs
(and between two servers); everything else a user can read (values, error classes and
messages, cause chains, retry states, describe() fields, history events and their key
attributes) is compared as is.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import re
from collections.abc import Mapping
from typing import Any

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)

# Attributes of the SDK's exception classes a user reads (besides message and cause).
_ERROR_ATTRIBUTES = (
    "type",
    "non_retryable",
    "details",
    "retry_state",
    "timeout_type",
    "last_heartbeat_details",
    "activity_type",
    "workflow_type",
    "status",
    "category",
    "next_retry_delay",
)


class Normaliser:
    """Replaces this run's ids with stable placeholders."""

    def __init__(self, replacements: Mapping[str, str]) -> None:
        # Longest first, so an id that contains another is replaced whole.
        self._replacements = sorted(replacements.items(), key=lambda kv: -len(kv[0]))

    def text(self, value: str) -> str:
        for raw, placeholder in self._replacements:
            value = value.replace(raw, placeholder)
        return _UUID.sub("<uuid>", value)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return value.name
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return f"<{len(value)} bytes>"
        if isinstance(value, datetime.datetime):
            return "<time>"
        if isinstance(value, datetime.timedelta):
            return value.total_seconds()
        if isinstance(value, Mapping):
            return {str(self(k)): self(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            items = [self(v) for v in value]
            return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: self(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return f"<{type(value).__name__}>"


def error_chain(exc: BaseException | None) -> list[dict[str, Any]]:
    """An exception and its causes: class, message and the attributes users branch on."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        entry: dict[str, Any] = {"class": type(exc).__name__, "message": str(exc)}
        for attribute in _ERROR_ATTRIBUTES:
            if hasattr(type(exc), attribute) or attribute in vars(exc):
                try:
                    value = getattr(exc, attribute)
                except Exception as read_error:  # a property that cannot be read
                    value = f"<unreadable: {type(read_error).__name__}>"
                if callable(value):
                    continue
                entry[attribute] = list(value) if isinstance(value, tuple) else value
        chain.append(entry)
        exc = getattr(exc, "cause", None) or exc.__cause__
    return chain


# For each history event type: the attributes users read (paths into the JSON form).
_EVENT_KEYS: dict[str, tuple[str, ...]] = {
    "WORKFLOW_EXECUTION_STARTED": ("workflowType.name", "attempt", "cronSchedule"),
    "WORKFLOW_EXECUTION_COMPLETED": (),
    "WORKFLOW_EXECUTION_FAILED": ("failure.message", "retryState"),
    "WORKFLOW_EXECUTION_TERMINATED": ("reason",),
    "WORKFLOW_EXECUTION_CANCELED": (),
    "WORKFLOW_EXECUTION_CANCEL_REQUESTED": ("cause",),
    "WORKFLOW_EXECUTION_CONTINUED_AS_NEW": ("workflowType.name",),
    "WORKFLOW_EXECUTION_SIGNALED": ("signalName",),
    "ACTIVITY_TASK_SCHEDULED": (
        "activityType.name",
        "scheduleToCloseTimeout",
        "startToCloseTimeout",
        "heartbeatTimeout",
        "retryPolicy.maximumAttempts",
    ),
    "ACTIVITY_TASK_STARTED": ("attempt",),
    "ACTIVITY_TASK_FAILED": ("failure.message", "retryState"),
    "ACTIVITY_TASK_TIMED_OUT": (
        "failure.message",
        "failure.timeoutFailureInfo.timeoutType",
        "retryState",
    ),
    "ACTIVITY_TASK_CANCELED": (),
    "TIMER_STARTED": ("startToFireTimeout",),
    "MARKER_RECORDED": ("markerName",),
    "START_CHILD_WORKFLOW_EXECUTION_INITIATED": ("workflowType.name", "parentClosePolicy"),
    "CHILD_WORKFLOW_EXECUTION_FAILED": ("failure.message", "retryState"),
    "WORKFLOW_EXECUTION_UPDATE_ACCEPTED": ("acceptedRequest.input.name",),
    "WORKFLOW_TASK_FAILED": ("cause",),
}


def _path(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _short_type(event_type: str) -> str:
    return event_type.removeprefix("EVENT_TYPE_")


def history_events(history: Any, *, keys: bool = True) -> list[Any]:
    """A fetched WorkflowHistory as event types, each with its key attributes."""
    events = []
    for event in history.to_json_dict()["events"]:
        event_type = _short_type(str(event.get("eventType", "")))
        attributes = next((v for k, v in event.items() if k.endswith("EventAttributes")), {})
        picked = {}
        if keys:
            for path in _EVENT_KEYS.get(event_type, ()):
                value = _path(attributes, path)
                if value not in (None, "", {}, []):
                    picked[path] = value
        events.append({event_type: picked} if picked else event_type)
    return events


def event_types(history: Any) -> list[str]:
    return [_short_type(str(e.get("eventType", ""))) for e in history.to_json_dict()["events"]]


def description(desc: Any) -> dict[str, Any]:
    """describe()'s fields that do not vary from run to run."""
    return {
        "status": desc.status,
        "workflow_type": desc.workflow_type,
        "task_queue": desc.task_queue,
        "has_close_time": desc.close_time is not None,
        "parent_id": desc.parent_id,
    }
