"""HotMesh's job reads on any workflow handle: ``status()`` (its semaphore),
``state()`` and ``export(allow=[...])``. Used by ``WorkflowHandle`` (code workflows) and
by ``hotmesh_temporal.hotmesh`` (YAML jobs, whose result is ``{metadata, data}``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hotmesh_temporal.api.enums.v1 import EventType
from hotmesh_temporal.client._client import WorkflowExecutionStatus, WorkflowFailureError

EXPORT_SECTIONS = ("data", "state", "status", "timeline")


async def semaphore(handle: Any) -> int:
    """0 when the run completed; 1 + the number of its open activities while it runs;
    -1 when it failed, was cancelled or terminated, timed out or continued as new."""
    description = await handle.describe()
    status = description.status
    if status == WorkflowExecutionStatus.COMPLETED:
        return 0
    if status == WorkflowExecutionStatus.RUNNING:
        engine = await handle._client._engine()
        pending = await engine.pending_activities(description.run_id)
        return 1 + len(pending)
    return -1


async def export_handle(handle: Any, allow: Sequence[str] | None) -> dict:
    wanted = set(EXPORT_SECTIONS if allow is None else allow)
    unknown = wanted - set(EXPORT_SECTIONS)
    if unknown:
        raise ValueError(f"export allow takes {', '.join(EXPORT_SECTIONS)}; not {sorted(unknown)}")
    document: dict[str, Any] = {"job_id": handle.id}
    description = await handle.describe()
    if "status" in wanted:
        document["status"] = await semaphore(handle)
    if "data" in wanted or "state" in wanted:
        state = await handle_state(handle, description)
        if "data" in wanted:
            document["data"] = state.get("data")
        if "state" in wanted:
            document["state"] = state
    if "timeline" in wanted:
        document["timeline"] = await _timeline(handle)
    return document


async def handle_state(handle: Any, description: Any = None) -> dict:
    """The run's metadata and, once it completed, its result as data."""
    description = description or await handle.describe()
    metadata = {
        "jid": handle.id,
        "rid": description.run_id,
        "type": description.workflow_type,
        "status": description.status.name,
        "started": description.start_time.isoformat() if description.start_time else None,
        "closed": description.close_time.isoformat() if description.close_time else None,
    }
    data = None
    if description.status == WorkflowExecutionStatus.COMPLETED:
        try:
            data = await handle.result()
        except WorkflowFailureError:
            data = None
        if isinstance(data, dict) and set(data) == {"metadata", "data"}:  # a YAML job's output
            metadata = {**metadata, **(data["metadata"] or {})}
            data = data["data"]
    return {"metadata": metadata, "data": data}


async def _timeline(handle: Any) -> list[dict]:
    """The run's history as a list of {event_id, type, ...}: activities (with their
    type, i.e. the worker topic), timers, signals, children."""

    history = await handle.fetch_history()
    timeline = []
    for event in history.events:
        entry: dict[str, Any] = {
            "event_id": event.event_id,
            "type": EventType.Name(event.event_type).removeprefix("EVENT_TYPE_"),
        }
        if event.HasField("activity_task_scheduled_event_attributes"):
            entry["activity_type"] = (
                event.activity_task_scheduled_event_attributes.activity_type.name
            )
        timeline.append(entry)
    return timeline
