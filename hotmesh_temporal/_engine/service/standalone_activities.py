"""Standalone activities (started by a client, not by a workflow): the JSON the SQL
functions of ``schema/0009_standalone_activities.sql`` take and give back, and the
wait for an activity's outcome.

An activity's options are kept as one JSON object, in the units the activity task
row uses: ``{"task_queue", "schedule_to_close", "schedule_to_start",
"start_to_close", "heartbeat_timeout", "start_delay"}`` (seconds),
``"retry_policy"`` (the row form of ``history.retry_policy_row``) and ``"priority"``.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.store.store import Store
from hotmesh_temporal._engine.store.waiter import KeyedWaiter
from hotmesh_temporal._engine.worker.activity_worker import retry_policy_from_row
from hotmesh_temporal.common import Priority

# ActivityOptionsKey names (Temporal's field-mask paths) -> option JSON keys.
OPTION_KEYS = {
    "task_queue.name": "task_queue",
    "schedule_to_close_timeout": "schedule_to_close",
    "schedule_to_start_timeout": "schedule_to_start",
    "start_to_close_timeout": "start_to_close",
    "heartbeat_timeout": "heartbeat_timeout",
    "start_delay": "start_delay",
    "retry_policy": "retry_policy",
    "priority": "priority",
}
_DURATIONS = (
    "schedule_to_close",
    "schedule_to_start",
    "start_to_close",
    "heartbeat_timeout",
    "start_delay",
)


def options_json(
    *,
    task_queue: str,
    schedule_to_close: timedelta | None,
    schedule_to_start: timedelta | None,
    start_to_close: timedelta | None,
    heartbeat_timeout: timedelta | None,
    start_delay: timedelta | None,
    retry_policy: Any,
    priority: Any,
) -> dict[str, Any]:
    # As a Temporal server does: an attempt may take the whole schedule-to-close time.
    start_to_close = start_to_close or schedule_to_close
    values = {
        "task_queue": task_queue,
        "schedule_to_close": schedule_to_close,
        "schedule_to_start": schedule_to_start,
        "start_to_close": start_to_close,
        "heartbeat_timeout": heartbeat_timeout,
        "start_delay": start_delay,
        "retry_policy": retry_policy,
        "priority": priority,
    }
    return h.strip_none({key: option_value(key, value) for key, value in values.items()})


def option_value(key: str, value: Any) -> Any:
    """One option in its JSON form (None stays None: the option is cleared)."""
    if value is None:
        return None
    if key in _DURATIONS:
        return value.total_seconds()
    if key == "retry_policy":
        return h.retry_policy_row(value)
    if key == "priority":
        return h.strip_none(dataclasses.asdict(value)) or None
    return value


def option_changes(updates: Any) -> dict[str, Any]:
    """ActivityOptionsUpdate values as the JSON merged into the current options."""
    changes: dict[str, Any] = {}
    for update in updates:
        name = update.key.name
        key = OPTION_KEYS.get(name)
        if key is None:
            raise ValueError(f"No conversion for activity option {name!r}")
        if key in changes:
            raise ValueError(f"update_activity_options received more than one update for {name}")
        changes[key] = option_value(key, update.value)
    return changes


def seconds_to_timedelta(value: Any) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))


def retry_policy_from_options(options: Mapping[str, Any]) -> Any:
    """The retry policy in effect, with the defaults the retries use filled in."""

    return retry_policy_from_row(options.get("retry_policy"))


def priority_from_options(options: Mapping[str, Any]) -> Any:

    return Priority(**(options.get("priority") or {}))


# ------------------------------------------------------------------- waiting

_waiters: weakref.WeakKeyDictionary[Store, KeyedWaiter] = weakref.WeakKeyDictionary()


def outcome_waiter(store: Store) -> KeyedWaiter:
    """'s|<run id>' is notified when a standalone activity closes."""
    waiter = _waiters.get(store)
    if waiter is None:
        waiter = _waiters[store] = KeyedWaiter(store, "s")
    return waiter


async def wait_for_outcome(
    store: Store, namespace: str, activity_id: str, run_id: str | None
) -> Mapping[str, Any] | None:
    """The closed run's {run_id, status, result, failure}; None when there is no such
    activity. Waits while it is running."""
    import uuid

    row = await store.fetchrow(
        "standalone_activity_outcome",
        namespace,
        activity_id,
        uuid.UUID(run_id) if run_id else None,
    )
    if row is None or row["status"] not in (1, 7):
        return row
    run = row["run_id"]

    async def closed() -> Any:
        found = await store.fetchrow("standalone_activity_outcome", namespace, activity_id, run)
        return found if found is None or found["status"] not in (1, 7) else None

    return await outcome_waiter(store).wait(str(run), closed)
