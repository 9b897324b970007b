"""Schedule machinery: the stored spec and action, and firing.

A schedule row keeps its spec as JSON (``spec_doc``: calendars as range triples,
intervals and durations in microseconds, times in ISO form) and its action as a
``start_workflow()`` template. Firing: each worker's sweeper calls :func:`fire_due`
when a schedule is due; it computes the nominal times passed since the row's cursor
and hands them to the SQL function ``schedule_tick``, which applies them atomically
and refuses them if another worker moved the cursor first (exactly once per time).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hotmesh_temporal._engine.runtime import cron
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime.completion import next_cron_run, retry_run
from hotmesh_temporal._engine.runtime.ids import new_run_id
from hotmesh_temporal._engine.runtime.workflow_retry import decide
from hotmesh_temporal._engine.store.store import Store
from hotmesh_temporal.common import SearchAttributeKey
from hotmesh_temporal.converter import encode_typed_search_attribute_value

logger = logging.getLogger("hotmesh_temporal.worker")

MAX_TIMES_PER_TICK = 1000
MAX_MISSED_COUNTED = 10_000
DEFAULT_CATCHUP_WINDOW = timedelta(days=365)
MIN_CATCHUP_WINDOW = timedelta(seconds=10)
SCHEDULED_BY_ID = "TemporalScheduledById"
SCHEDULED_START_TIME = "TemporalScheduledStartTime"


# ------------------------------------------------------------------ spec documents


def compile_spec(doc: Mapping[str, Any]) -> cron.Spec:
    """The matcher for a stored spec document."""
    return cron.Spec(
        calendars=[calendar_from_doc(c).compile() for c in doc.get("calendars") or []],
        intervals=[
            cron.IntervalSpec(i["every"], i.get("offset") or 0) for i in doc.get("intervals") or []
        ],
        skip=[calendar_from_doc(c).compile() for c in doc.get("skip") or []],
        tz=cron.zone(doc.get("time_zone_name")),
        start_at=time_or_none(doc.get("start_at")),
        end_at=time_or_none(doc.get("end_at")),
        jitter=timedelta(microseconds=doc.get("jitter") or 0),
    )


def calendar_from_doc(doc: Mapping[str, Any]) -> cron.CalendarSpec:
    fields = {
        name: tuple(tuple(r) for r in doc[name])
        for name in ("second", "minute", "hour", "day_of_month", "month", "year", "day_of_week")
        if name in doc
    }
    return cron.CalendarSpec(comment=doc.get("comment") or "", **fields)


def calendar_doc(spec: cron.CalendarSpec) -> dict[str, Any]:
    return {
        "second": [list(r) for r in spec.second],
        "minute": [list(r) for r in spec.minute],
        "hour": [list(r) for r in spec.hour],
        "day_of_month": [list(r) for r in spec.day_of_month],
        "month": [list(r) for r in spec.month],
        "year": [list(r) for r in spec.year],
        "day_of_week": [list(r) for r in spec.day_of_week],
        "comment": spec.comment,
    }


def time_or_none(value: Any) -> datetime | None:
    return None if value is None else h.parse_time(value)


def next_action_times(
    doc: Mapping[str, Any], schedule_id: str, after: datetime, count: int = 10
) -> list[datetime]:
    """The next ``count`` action times (jitter included) after ``after``."""
    spec = compile_spec(doc)
    out: list[datetime] = []
    t: datetime | None = after
    while len(out) < count:
        t = spec.next_after(t)
        if t is None:
            break
        out.append(spec.jittered(t, schedule_id))
    return out


def first_fire(doc: Mapping[str, Any], schedule_id: str, now: datetime) -> datetime | None:
    """The action time of the first nominal time after ``now``."""
    times = next_action_times(doc, schedule_id, now, 1)
    return times[0] if times else None


# -------------------------------------------------------------- started workflows


def workflow_id_for(base: str, nominal: datetime) -> str:
    """Temporal's id for a scheduled run: the action's id, a dash, and the nominal
    time in RFC 3339 (UTC, whole seconds), e.g. ``my-wf-2024-01-01T00:00:00Z``."""
    return f"{base}-{nominal.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"


def scheduled_start(
    action: Mapping[str, Any],
    schedule_id: str,
    nominal: datetime,
    actual: datetime,
    *,
    overlap: int = 0,
    manual: bool = False,
) -> dict[str, Any]:
    """One buffered start for schedule_tick(): the start_workflow() argument for
    ``nominal``, with the run's id and the scheduled-by search attributes."""
    start = copy.deepcopy(dict(action["start"]))
    workflow_id = workflow_id_for(action["workflow_id"], nominal)
    run_id = new_run_id()
    attributes = dict(start.get("search_attributes") or {})
    attributes.update(_scheduled_attributes(schedule_id, nominal))
    start.update(
        workflow_id=workflow_id,
        run_id=run_id,
        first_execution_run_id=run_id,
        search_attributes=attributes,
    )
    started = start["started_attributes"]
    started.update(
        workflowId=workflow_id,
        originalExecutionRunId=run_id,
        firstExecutionRunId=run_id,
        searchAttributes={"indexedFields": attributes},
    )
    return {
        "start": start,
        "nominal": h.format_time(nominal),
        "actual": h.format_time(actual),
        "overlap": int(overlap),
        "manual": manual,
    }


def _scheduled_attributes(schedule_id: str, nominal: datetime) -> dict[str, Any]:

    by_id = encode_typed_search_attribute_value(
        SearchAttributeKey.for_keyword(SCHEDULED_BY_ID), schedule_id
    )
    at = encode_typed_search_attribute_value(
        SearchAttributeKey.for_datetime(SCHEDULED_START_TIME), nominal.astimezone(timezone.utc)
    )
    return {SCHEDULED_BY_ID: by_id.to_json_dict(), SCHEDULED_START_TIME: at.to_json_dict()}


# ------------------------------------------------------------------------- firing


@dataclass
class TickPlan:
    """What a due schedule must do now (the arguments of schedule_tick)."""

    starts: list[dict[str, Any]]  # the nominal times passed since the cursor
    cursor: datetime  # the last nominal time handled
    next_fire: datetime | None  # action time of the next nominal time
    missed: int = 0  # times too old for the catch-up window


def plan_tick(row: Mapping[str, Any]) -> TickPlan:
    """Plan a tick of a due schedule row (from due_schedules)."""
    spec = compile_spec(row["spec"])
    schedule_id = row["schedule_id"]
    now = row["now"]
    horizon = now - timedelta(seconds=row["catchup_window"])
    plan = TickPlan(starts=[], cursor=row["cursor_at"], next_fire=None)
    nominal = spec.next_after(plan.cursor)
    # Times older than the catch-up window are only counted; after a very long sleep,
    # stop counting and jump to the window instead of walking years of times.
    while nominal is not None and spec.jittered(nominal, schedule_id) < horizon:
        plan.missed += 1
        plan.cursor = nominal
        nominal = spec.next_after(nominal if plan.missed < MAX_MISSED_COUNTED else horizon)
    while nominal is not None and len(plan.starts) < MAX_TIMES_PER_TICK:
        actual = spec.jittered(nominal, schedule_id)
        if actual > now:
            plan.next_fire = actual
            return plan
        plan.starts.append(scheduled_start(row["action"], schedule_id, nominal, actual))
        plan.cursor = nominal
        nominal = spec.next_after(nominal)
    if nominal is not None:
        plan.next_fire = now  # more than one tick's worth: come back at once
    return plan


async def fire_due(store: Store, limit: int = 100) -> int:
    """Tick every due schedule once, and retry or continue the runs that reached their
    run timeout. Returns how many of these took effect."""
    done = await continue_timed_out_runs(store, limit)
    for row in await store.fetch("due_schedules", limit):
        try:
            plan = plan_tick(row)
        except Exception:
            # E.g. a time zone that vanished from the system's tz database: stop firing
            # (next_fire_at NULL) rather than retrying in a loop; an update revives it.
            logger.exception(
                "schedule %s: cannot compute its times; it stops firing", row["schedule_id"]
            )
            plan = TickPlan(starts=[], cursor=row["cursor_at"], next_fire=None)
        status = await store.fetchval(
            "schedule_tick",
            row["namespace"],
            row["schedule_id"],
            row["cursor_at"],
            plan.cursor,
            plan.next_fire,
            plan.starts,
            plan.missed,
        )
        if status == "ok":
            done += 1
    return done


async def continue_timed_out_runs(store: Store, limit: int) -> int:
    """A run that reached its run timeout closes as timed out and, as on Temporal, is
    retried when its retry policy allows, or else starts the next run of its cron
    chain (the SQL sweep hands such runs over to here: Python computes backoffs and
    cron times)."""

    done = 0
    for row in await store.fetch("due_run_timeouts", limit):
        ids = dict(
            namespace=row["namespace"],
            workflow_id=row["workflow_id"],
            run_id=str(row["run_id"]),
            identity="",
        )
        started = row["started"]
        decision = decide(started, _RUN_TIMEOUT_FAILURE, row["now"])
        if decision.backoff is not None:
            start = retry_run(
                started, failure=_RUN_TIMEOUT_FAILURE, backoff=decision.backoff, **ids
            )
        else:
            start = next_cron_run(started, now=row["now"], failure=_RUN_TIMEOUT_FAILURE, **ids)
        if await store.fetchval("run_timed_out", row["run_id"], decision.retry_state, start):
            done += 1
    return done


# How Temporal's server describes a run timeout to the run that follows it.
_RUN_TIMEOUT_FAILURE = {
    "message": "workflow timeout",
    "source": "Server",
    "timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"},
}


async def manual_tick(
    store: Store, namespace: str, schedule_id: str, starts: Sequence[dict[str, Any]]
) -> str:
    """Apply starts a client asked for (trigger, backfill): the cursor stays."""
    return await store.fetchval(
        "schedule_tick", namespace, schedule_id, None, None, None, list(starts), 0
    )
