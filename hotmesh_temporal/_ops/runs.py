"""A workflow run as the operator tools show it, read through the public client API.

The command line and the web UI both build their run views here: the description,
the history (as Temporal's JSON, one dict per event), the decoded input, result or
failure, the pending activities, the children, and the timeline's spans (activities,
timers and child workflows as bars between two times).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.api.failure.v1 import Failure
from hotmesh_temporal.client import (
    Client,
    WorkflowContinuedAsNewError,
    WorkflowExecutionDescription,
    WorkflowFailureError,
    WorkflowHandle,
)
from hotmesh_temporal.converter import DataConverter
from hotmesh_temporal.exceptions import CancelledError, TerminatedError

# ----------------------------------------------------------------- events


@dataclass(frozen=True)
class EventRow:
    """One history event: its id, time, type name and Temporal JSON attributes."""

    event_id: int
    time: datetime | None
    type: str
    attributes: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    @property
    def summary(self) -> str:
        """A short line of the attributes that tell the event apart."""
        return event_summary(self.type, self.attributes)


def event_type_name(json_type: str) -> str:
    """``EVENT_TYPE_WORKFLOW_EXECUTION_STARTED`` -> ``WorkflowExecutionStarted``."""
    words = json_type.removeprefix("EVENT_TYPE_").split("_")
    return "".join(w.capitalize() for w in words)


def _attributes(raw: dict[str, Any]) -> dict[str, Any]:
    for key, value in raw.items():
        if key.endswith("EventAttributes") and isinstance(value, dict):
            return value
    return {}


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 time of Temporal's JSON (nanoseconds cut to microseconds)."""
    if not text:
        return None
    text = text.replace("Z", "+00:00")
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    return datetime.fromisoformat(text)


def event_rows(events: Sequence[Any]) -> list[EventRow]:
    """The HistoryEvent messages of a run as rows."""
    rows = []
    for event in events:
        raw = event.to_json_dict()
        rows.append(
            EventRow(
                event_id=int(raw.get("eventId", 0)),
                time=parse_time(raw.get("eventTime")),
                type=event_type_name(raw.get("eventType", "")),
                attributes=_attributes(raw),
                raw=raw,
            )
        )
    return rows


_SUMMARY_KEYS = (
    ("activityType", "name"),
    ("workflowType", "name"),
    ("signalName", None),
    ("queryType", None),
    ("timerId", None),
    ("startToFireTimeout", None),
    ("activityId", None),
    ("workflowId", None),
    ("reason", None),
    ("markerName", None),
    ("identity", None),
)


def event_summary(event_type: str, attributes: dict[str, Any]) -> str:
    """``activityType=charge activityId=1`` and the like."""
    parts = []
    for key, sub in _SUMMARY_KEYS:
        value = attributes.get(key)
        if isinstance(value, dict) and sub:
            value = value.get(sub)
        if value:
            parts.append(f"{key}={value}")
    acceptance = attributes.get("acceptedRequest") or {}
    update = (acceptance.get("input") or {}).get("name")
    if update:
        parts.append(f"update={update}")
    return " ".join(parts)


# ----------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Span:
    """A bar of the timeline: an activity, timer or child workflow."""

    kind: str  # "activity", "timer" or "child"
    label: str
    start: datetime
    end: datetime | None  # None while it runs
    outcome: str  # "running", "completed", "failed", "fired", "canceled", ...
    first_event_id: int


# Event types that close a span, by the attribute naming the event that opened it.
_SPAN_CLOSE = {
    "ActivityTaskCompleted": ("scheduledEventId", "completed"),
    "ActivityTaskFailed": ("scheduledEventId", "failed"),
    "ActivityTaskTimedOut": ("scheduledEventId", "timed out"),
    "ActivityTaskCanceled": ("scheduledEventId", "canceled"),
    "TimerFired": ("startedEventId", "fired"),
    "TimerCanceled": ("startedEventId", "canceled"),
    "ChildWorkflowExecutionCompleted": ("initiatedEventId", "completed"),
    "ChildWorkflowExecutionFailed": ("initiatedEventId", "failed"),
    "ChildWorkflowExecutionCanceled": ("initiatedEventId", "canceled"),
    "ChildWorkflowExecutionTerminated": ("initiatedEventId", "terminated"),
    "ChildWorkflowExecutionTimedOut": ("initiatedEventId", "timed out"),
    "StartChildWorkflowExecutionFailed": ("initiatedEventId", "failed to start"),
}


def _span_open(row: EventRow) -> tuple[str, str] | None:
    a = row.attributes
    if row.type == "ActivityTaskScheduled":
        return "activity", f"{a.get('activityType', {}).get('name', '')} #{a.get('activityId', '')}"
    if row.type == "TimerStarted":
        return "timer", f"timer {a.get('timerId', '')} ({a.get('startToFireTimeout', '')})"
    if row.type == "StartChildWorkflowExecutionInitiated":
        return "child", f"{a.get('workflowType', {}).get('name', '')} {a.get('workflowId', '')}"
    return None


def spans(rows: Sequence[EventRow]) -> list[Span]:
    """The timeline's bars, in the order they opened."""
    opened: dict[int, tuple[str, str, datetime]] = {}
    closed: dict[int, tuple[datetime | None, str]] = {}
    for row in rows:
        kind_label = _span_open(row)
        if kind_label and row.time:
            opened[row.event_id] = (*kind_label, row.time)
            continue
        closing = _SPAN_CLOSE.get(row.type)
        if closing:
            key, outcome = closing
            closed[int(row.attributes.get(key, 0))] = (row.time, outcome)
    return [
        Span(kind, label, start, *closed.get(event_id, (None, "running")), event_id)
        for event_id, (kind, label, start) in opened.items()
    ]


# ----------------------------------------------------------------- the run


@dataclass(frozen=True)
class PendingActivity:
    activity_id: str
    activity_type: str
    state: str
    attempt: int
    maximum_attempts: int
    scheduled_time: datetime | None
    last_started_time: datetime | None
    last_heartbeat_time: datetime | None
    heartbeat_details: list[Any]
    last_failure: str | None
    expiration_time: datetime | None


@dataclass(frozen=True)
class ChildRun:
    workflow_id: str
    run_id: str
    workflow_type: str


@dataclass(frozen=True)
class RunView:
    """Everything the run page and ``workflow describe`` show. ``events`` is the whole
    history, or one page of it when loaded with a ``page_size`` (then
    ``next_page_token`` reads on, and children and spans cover that page only)."""

    description: WorkflowExecutionDescription
    events: list[EventRow]
    next_page_token: bytes | None
    input: list[Any]
    result: list[Any] | None  # None until the run completes
    failure: str | None
    pending_activities: list[PendingActivity]
    children: list[ChildRun]
    memo: dict[str, Any]
    search_attributes: dict[str, Any]

    @property
    def spans(self) -> list[Span]:
        return spans(self.events)

    @property
    def is_running(self) -> bool:
        return self.description.close_time is None

    @property
    def is_whole_history(self) -> bool:
        return self.next_page_token is None and bool(self.events) and self.events[0].event_id == 1


async def decode_payloads(converter: DataConverter, doc: dict[str, Any] | None) -> list[Any]:
    """Decode a Temporal JSON ``Payloads`` (``{"payloads": [...]}``); a payload the
    converter cannot read is shown as its raw JSON rather than failing the page."""

    values = []
    for item in (doc or {}).get("payloads", []):
        payload = Payload.from_json_dict(item)
        try:
            values.extend(await converter.decode([payload]))
        except Exception as err:  # noqa: BLE001 (an undecodable payload is shown, not fatal)
            values.append({"undecodable": item, "error": str(err)})
    return values


async def decode_failure(converter: DataConverter, doc: dict[str, Any] | None) -> str | None:
    """A failure as one line: ``ApplicationError: message``."""
    if not doc:
        return None

    try:
        error = await converter.decode_failure(Failure.from_json_dict(doc))
    except Exception:  # noqa: BLE001 (fall back to the stored message)
        return doc.get("message") or str(doc)
    return f"{type(error).__name__}: {error}"


async def load_run(
    client: Client,
    workflow_id: str,
    run_id: str | None = None,
    *,
    page_size: int | None = None,
    page_token: bytes | None = None,
) -> RunView:
    """Describe the run and read its history: all of it, or the page of ``page_size``
    events that ``page_token`` points at (the first page without one). The input comes
    from the first event and the outcome from the closing event, whichever page is
    shown. Raises RPCError NOT_FOUND for an unknown run."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id, run_id=run_id)
    description = await handle.describe()
    handle = client.get_workflow_handle(workflow_id, run_id=description.run_id)
    events = handle.fetch_history_events(page_size=page_size, next_page_token=page_token)
    await events.fetch_next_page()
    rows = event_rows(events.current_page or [])
    next_token = events.next_page_token if page_size else None
    while page_size is None and events.next_page_token:
        await events.fetch_next_page()
        rows.extend(event_rows(events.current_page or []))
    first = rows[0] if rows and rows[0].event_id == 1 else await _first_event(handle)
    converter = client.data_converter
    input_values = await decode_payloads(converter, first.attributes.get("input")) if first else []
    result, failure = None, None
    if rows and _is_close(rows[-1]):
        result, failure = await _outcome(converter, rows[-1])
    elif description.close_time is not None:
        result, failure = await _outcome_of_row(handle)
    return RunView(
        description=description,
        events=rows,
        next_page_token=next_token,
        input=input_values,
        result=result,
        failure=failure,
        pending_activities=await _pending(converter, description),
        children=_children(rows),
        memo=dict(await description.memo()),
        search_attributes={k: _plain(v) for k, v in description.search_attributes.items()},
    )


def _is_close(row: EventRow) -> bool:
    return row.type in _CLOSE_TYPES


_CLOSE_TYPES = frozenset(
    {
        "WorkflowExecutionCompleted",
        "WorkflowExecutionFailed",
        "WorkflowExecutionTimedOut",
        "WorkflowExecutionCanceled",
        "WorkflowExecutionTerminated",
        "WorkflowExecutionContinuedAsNew",
    }
)


async def _first_event(handle: WorkflowHandle[Any, Any]) -> EventRow | None:
    events = handle.fetch_history_events(page_size=1)
    await events.fetch_next_page()
    rows = event_rows(events.current_page or [])
    return rows[0] if rows else None


async def _outcome(converter: DataConverter, last: EventRow) -> tuple[Any, str | None]:
    """The result or failure that the closing event records."""
    if last.type == "WorkflowExecutionCompleted":
        return await decode_payloads(converter, last.attributes.get("result")), None
    if last.type == "WorkflowExecutionFailed":
        return None, await decode_failure(converter, last.attributes.get("failure"))
    if last.type == "WorkflowExecutionTerminated":
        return None, f"terminated: {last.attributes.get('reason', '')}"
    if last.type == "WorkflowExecutionCanceled":
        return None, "canceled"
    if last.type == "WorkflowExecutionTimedOut":
        return None, "timed out"
    if last.type == "WorkflowExecutionContinuedAsNew":
        return None, f"continued as new: run {last.attributes.get('newExecutionRunId', '')}"
    return None, None


async def _outcome_of_row(handle: WorkflowHandle[Any, Any]) -> tuple[Any, str | None]:
    """A closed run's result or failure when its closing event is not on the page read:
    ``result()`` reads it from the run's row rather than from a long history."""
    try:
        return [await handle.result(follow_runs=False)], None
    except WorkflowFailureError as err:
        cause = err.cause
        if isinstance(cause, TerminatedError):
            return None, f"terminated: {cause}"
        if isinstance(cause, CancelledError):
            return None, "canceled"
        return None, f"{type(cause).__name__}: {cause}"
    except WorkflowContinuedAsNewError as err:
        return None, f"continued as new: run {err.new_execution_run_id}"


_STATES = {1: "Scheduled", 2: "Started", 3: "CancelRequested"}


async def _pending(
    converter: DataConverter, description: WorkflowExecutionDescription
) -> list[PendingActivity]:
    out = []
    for a in description.raw_description.pending_activities:
        failure = a.last_failure.to_json_dict() if a.last_failure is not None else None
        details = await converter.decode(list(a.heartbeat_details.payloads))
        out.append(
            PendingActivity(
                activity_id=a.activity_id,
                activity_type=a.activity_type.name,
                state=_STATES.get(a.state, str(a.state)),
                attempt=a.attempt,
                maximum_attempts=a.maximum_attempts,
                scheduled_time=a.scheduled_time,
                last_started_time=a.last_started_time,
                last_heartbeat_time=a.last_heartbeat_time,
                heartbeat_details=list(details),
                last_failure=await decode_failure(converter, failure),
                expiration_time=a.expiration_time,
            )
        )
    return out


def _children(rows: Sequence[EventRow]) -> list[ChildRun]:
    out = []
    for row in rows:
        if row.type == "ChildWorkflowExecutionStarted":
            execution = row.attributes.get("workflowExecution", {})
            out.append(
                ChildRun(
                    workflow_id=execution.get("workflowId", ""),
                    run_id=execution.get("runId", ""),
                    workflow_type=row.attributes.get("workflowType", {}).get("name", ""),
                )
            )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value
