"""Schedules on a real Postgres: create/describe/list/update/pause/trigger/backfill/
delete, every overlap policy, catch-up, limits, jitter, pause on failure, calendars in a
time zone across a DST change (on a moved clock), and real-time 1-second intervals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleIntervalSpec,
    ScheduleListDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)
from hotmesh_temporal.common import SearchAttributeKey, TypedSearchAttributes
from hotmesh_temporal.exceptions import ApplicationError
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker

from .schedule_support import (
    advance_clock,
    db_now,
    drop_client,
    eventually,
    move_clock_to,
    own_schema_client,
    scheduled_runs,
)

UTC = timezone.utc


@workflow.defn
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"hello {name}"


@workflow.defn
class WaitForRelease:
    """Runs until signalled, so that schedule actions overlap."""

    def __init__(self) -> None:
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.released)
        return "released"


@workflow.defn
class AlwaysFails:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("scheduled failure", non_retryable=True)


@workflow.defn
class Accumulate:
    @workflow.run
    async def run(self) -> int:
        previous = (
            workflow.get_last_completion_result(int) if workflow.has_last_completion_result() else 0
        )
        return previous + 1


@pytest.fixture(scope="module")
async def sclient(pg_dsn):
    """A client on its own schema: these tests move its clock."""
    client = await own_schema_client(pg_dsn)
    yield client
    await drop_client(client)


@pytest.fixture(autouse=True)
async def no_schedule_left_behind(client, sclient):
    """A failed test must not leave a schedule that fires into the next ones (these
    tests move the clock by days)."""
    yield
    for c in (client, sclient):
        async for listed in await c.list_schedules():
            await c.get_schedule_handle(listed.id).delete()


def sid() -> str:
    return f"sched-{uuid.uuid4().hex[:8]}"


def greet_action(task_queue: str, workflow_id: str = "greet") -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(Greet.run, "world", id=workflow_id, task_queue=task_queue)


def waiting_action(task_queue: str, workflow_id: str) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(WaitForRelease.run, id=workflow_id, task_queue=task_queue)


def far_spec() -> ScheduleSpec:
    """A spec that will not fire during a test (yearly), so only triggers act."""
    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(month=(ScheduleRange(1),), day_of_month=(ScheduleRange(1),))
        ]
    )


async def new_schedule(client, task_queue: str, spec: ScheduleSpec, *, action=None, **options):
    """Create a schedule of Greet (unless ``action``) with a fresh id: (id, handle).
    ``options`` are Schedule's policy/state and create_schedule's keywords."""
    schedule_id = sid()
    parts = {k: options.pop(k) for k in ("policy", "state") if k in options}
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=action or greet_action(task_queue, f"{schedule_id}-wf"), spec=spec, **parts
        ),
        **options,
    )
    return schedule_id, handle


def every(**delta) -> ScheduleSpec:
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(**delta))])


async def running_ids(client, schedule_id: str) -> list:
    return [r["workflow_id"] for r in await scheduled_runs(client, schedule_id) if r["status"] == 1]


async def trigger_next_second(client, handle, **kwargs) -> None:
    """Triggers name their workflow after the current second: move a second on first."""
    await advance_clock(client, timedelta(seconds=1))
    await handle.trigger(**kwargs)


# ------------------------------------------------------------------ create/describe


async def test_create_describe_round_trip_and_duplicate_id(client, task_queue):
    schedule_id = sid()
    spec = ScheduleSpec(
        calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(9, 17, 2),), comment="office hours")],
        intervals=[ScheduleIntervalSpec(every=timedelta(hours=6), offset=timedelta(minutes=5))],
        cron_expressions=["30 12 * * MON-FRI"],
        skip=[ScheduleCalendarSpec(day_of_week=(ScheduleRange(0),))],
        end_at=datetime(2100, 1, 1, tzinfo=UTC),
        jitter=timedelta(seconds=30),
        time_zone_name="Europe/Paris",
    )
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            Greet.run,
            "world",
            id="greet-wf",
            task_queue=task_queue,
            execution_timeout=timedelta(hours=1),
            memo={"team": "ops"},
            typed_search_attributes=TypedSearchAttributes.empty,
        ),
        spec=spec,
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.BUFFER_ALL,
            catchup_window=timedelta(minutes=5),
            pause_on_failure=True,
        ),
        state=ScheduleState(note="created by test", paused=True),
    )
    handle = await client.create_schedule(schedule_id, schedule, memo={"owner": "me"})
    assert handle.id == schedule_id

    desc = await handle.describe()
    assert isinstance(desc, ScheduleDescription)
    assert desc.id == schedule_id
    got = desc.schedule
    # Cron expressions come back as structured calendars, as Temporal returns them.
    assert got.spec.cron_expressions == []
    assert got.spec.calendars[0] == spec.calendars[0]
    assert got.spec.calendars[1].minute == (ScheduleRange(30),)
    assert got.spec.calendars[1].hour == (ScheduleRange(12),)
    assert got.spec.calendars[1].day_of_week == (ScheduleRange(1, 5),)
    assert got.spec.intervals == spec.intervals
    assert got.spec.skip == spec.skip
    assert got.spec.end_at == spec.end_at
    assert got.spec.jitter == spec.jitter
    assert got.spec.time_zone_name == "Europe/Paris"
    assert got.policy == schedule.policy
    assert got.state == schedule.state
    action = got.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.id, action.task_queue) == ("Greet", "greet-wf", task_queue)
    assert action.execution_timeout == timedelta(hours=1)
    assert await client.data_converter.decode(action.args) == ["world"]
    assert await desc.memo() == {"owner": "me"}
    assert await desc.memo_value("owner") == "me"
    with pytest.raises(KeyError):
        await desc.memo_value("nope")
    assert desc.info.num_actions == 0
    assert desc.info.next_action_times == []  # paused
    assert desc.info.created_at is not None

    with pytest.raises(ScheduleAlreadyRunningError):
        await client.create_schedule(schedule_id, schedule)
    await handle.delete()


async def test_bad_specs_are_clear_errors_and_store_nothing(client, task_queue):
    schedule_id = sid()
    for spec in (
        ScheduleSpec(cron_expressions=["61 * * * *"]),
        ScheduleSpec(cron_expressions=["not a cron"]),
        ScheduleSpec(time_zone_name="Mars/Olympus_Mons"),
        ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(25),))]),
        ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(0))]),
    ):
        with pytest.raises(RPCError) as err:
            await client.create_schedule(
                schedule_id, Schedule(action=greet_action(task_queue), spec=spec)
            )
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    with pytest.raises(RPCError) as err:
        await client.get_schedule_handle(schedule_id).describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND
    with pytest.raises(ValueError):
        ScheduleActionStartWorkflow(Greet.run, "x", id="", task_queue=task_queue)


# ------------------------------------------------------------- real-time interval


async def test_one_second_interval_fires_in_real_time(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Greet]):
        schedule_id, handle = await new_schedule(client, task_queue, every(seconds=1))
        runs = await eventually(lambda: _at_least(client, schedule_id, 3), timeout=10)
        await handle.pause()
        await asyncio.sleep(0.3)
    first = runs[0]
    # <action id>-<nominal time in RFC 3339>, on whole seconds.
    nominal = datetime.strptime(
        first["workflow_id"][len(f"{schedule_id}-wf-") :], "%Y-%m-%dT%H:%M:%SZ"
    )
    assert first["workflow_id"] == f"{schedule_id}-wf-{nominal:%Y-%m-%dT%H:%M:%SZ}"
    attrs = first["search_attributes"]
    assert set(attrs) >= {"TemporalScheduledById", "TemporalScheduledStartTime"}
    started = await client.get_workflow_handle(first["workflow_id"]).result()
    assert started == "hello world"
    desc = await handle.describe()
    assert desc.info.num_actions >= 3
    assert len(desc.info.recent_actions) >= 3
    recent = desc.info.recent_actions[0]
    assert isinstance(recent.action, ScheduleActionExecutionStartWorkflow)
    assert recent.action.workflow_id == first["workflow_id"]
    assert recent.action.first_execution_run_id == str(first["run_id"])
    assert recent.started_at >= recent.scheduled_at
    # Consecutive seconds, none twice.
    ids = [r["workflow_id"] for r in await scheduled_runs(client, schedule_id)]
    assert len(ids) == len(set(ids))
    await handle.delete()


async def _at_least(client, schedule_id: str, n: int):
    runs = await scheduled_runs(client, schedule_id)
    return runs if len(runs) >= n else None


@workflow.defn
class ReportScheduledBy:
    @workflow.run
    async def run(self) -> str:
        attributes = workflow.info().typed_search_attributes
        return attributes.get(SearchAttributeKey.for_keyword("TemporalScheduledById")) or ""


async def test_search_attributes_carry_schedule_id_and_nominal_time(client, task_queue):
    scheduled_by = SearchAttributeKey.for_keyword("TemporalScheduledById")
    scheduled_at = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
    async with Worker(client, task_queue=task_queue, workflows=[ReportScheduledBy]):
        action = ScheduleActionStartWorkflow(
            ReportScheduledBy.run,
            id=f"by-{uuid.uuid4().hex[:6]}",
            task_queue=task_queue,
            static_summary="nightly report",
        )
        schedule_id, handle = await new_schedule(client, task_queue, far_spec(), action=action)
        await handle.trigger()
        runs = await eventually(lambda: _at_least(client, schedule_id, 1))
        workflow_handle = client.get_workflow_handle(runs[0]["workflow_id"])
        # The workflow itself sees them, as on Temporal.
        assert await workflow_handle.result() == schedule_id
    description = await workflow_handle.describe()
    # The action's static summary becomes the started workflow's.
    assert await description.static_summary() == "nightly report"
    described = description.typed_search_attributes
    assert described.get(scheduled_by) == schedule_id
    at = described.get(scheduled_at)
    assert runs[0]["workflow_id"] == f"{action.id}-{at:%Y-%m-%dT%H:%M:%SZ}"
    # And visibility finds a schedule's runs by them.
    listed = [w.id async for w in client.list_workflows(f"TemporalScheduledById = '{schedule_id}'")]
    assert listed == [runs[0]["workflow_id"]]
    await handle.delete()


# ------------------------------------------------------------------ overlap policies


async def _overlap_case(client, task_queue, policy: ScheduleOverlapPolicy, triggers: int):
    schedule_id, handle = await new_schedule(
        client,
        task_queue,
        far_spec(),
        action=waiting_action(task_queue, f"wait-{uuid.uuid4().hex[:6]}"),
        policy=SchedulePolicy(overlap=policy),
    )
    for _ in range(triggers):
        await trigger_next_second(client, handle)
    return schedule_id, handle


async def _release_all(client, schedule_id: str) -> None:
    for workflow_id in await running_ids(client, schedule_id):
        try:
            await client.get_workflow_handle(workflow_id).signal(WaitForRelease.release)
        except RPCError:
            pass


async def test_overlap_skip(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[WaitForRelease]):
        schedule_id, handle = await _overlap_case(
            sclient, task_queue, ScheduleOverlapPolicy.SKIP, 3
        )
        desc = await handle.describe()
        assert desc.info.num_actions == 1
        assert desc.info.num_actions_skipped_overlap == 2
        assert len(desc.info.running_actions) == 1
        await _release_all(sclient, schedule_id)
        await eventually(lambda: _none_running(sclient, schedule_id))
        assert len(await scheduled_runs(sclient, schedule_id)) == 1
        await handle.delete()


async def _none_running(client, schedule_id: str) -> bool:
    return not await running_ids(client, schedule_id)


async def test_overlap_buffer_one_starts_one_more_after_close(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[WaitForRelease]):
        schedule_id, handle = await _overlap_case(
            sclient, task_queue, ScheduleOverlapPolicy.BUFFER_ONE, 3
        )
        desc = await handle.describe()
        assert (desc.info.num_actions, desc.info.num_actions_skipped_overlap) == (1, 1)
        first = await running_ids(sclient, schedule_id)
        await _release_all(sclient, schedule_id)
        # The buffered start follows as soon as the first run closes.
        second = await eventually(lambda: _running_other_than(sclient, schedule_id, first))
        assert len(second) == 1
        await _release_all(sclient, schedule_id)
        await eventually(lambda: _none_running(sclient, schedule_id))
        assert len(await scheduled_runs(sclient, schedule_id)) == 2
        await handle.delete()


async def _running_other_than(client, schedule_id: str, before: list):
    now = [w for w in await running_ids(client, schedule_id) if w not in before]
    return now or None


async def test_overlap_buffer_all_runs_every_start_in_turn(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[WaitForRelease]):
        schedule_id, handle = await _overlap_case(
            sclient, task_queue, ScheduleOverlapPolicy.BUFFER_ALL, 3
        )
        seen: list = []
        for _ in range(3):
            current = await eventually(
                lambda seen=seen: _running_other_than(sclient, schedule_id, seen)
            )
            assert len(current) == 1  # one at a time
            seen += current
            await _release_all(sclient, schedule_id)
        await eventually(lambda: _none_running(sclient, schedule_id))
        assert len(set(seen)) == 3
        assert (await handle.describe()).info.num_actions == 3
        await handle.delete()


async def test_overlap_cancel_other_cancels_then_starts(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[WaitForRelease]):
        schedule_id, handle = await _overlap_case(
            sclient, task_queue, ScheduleOverlapPolicy.CANCEL_OTHER, 2
        )
        runs = await eventually(lambda: _at_least(sclient, schedule_id, 2))
        assert runs[0]["status"] == WorkflowExecutionStatus.CANCELED
        assert await running_ids(sclient, schedule_id) == [runs[1]["workflow_id"]]
        await _release_all(sclient, schedule_id)
        await handle.delete()


async def test_overlap_terminate_other_terminates_and_starts_at_once(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[WaitForRelease]):
        schedule_id, handle = await _overlap_case(
            sclient, task_queue, ScheduleOverlapPolicy.TERMINATE_OTHER, 2
        )
        runs = await scheduled_runs(sclient, schedule_id)
        assert [r["status"] for r in runs] == [
            WorkflowExecutionStatus.TERMINATED,
            WorkflowExecutionStatus.RUNNING,
        ]
        await _release_all(sclient, schedule_id)
        await handle.delete()


async def test_overlap_allow_all_runs_concurrently(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[WaitForRelease]):
        schedule_id, handle = await _overlap_case(
            sclient, task_queue, ScheduleOverlapPolicy.ALLOW_ALL, 3
        )
        assert len(await running_ids(sclient, schedule_id)) == 3
        assert len((await handle.describe()).info.running_actions) == 3
        await _release_all(sclient, schedule_id)
        await handle.delete()


async def test_starts_due_together_follow_temporals_buffer_rules(sclient, task_queue):
    """Three yearly times backfilled at once, nothing running: TERMINATE_OTHER and
    CANCEL_OTHER start only the newest, BUFFER_ALL starts the first and keeps two."""
    years = ScheduleBackfill(datetime(2022, 12, 31, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    async with Worker(sclient, task_queue=task_queue, workflows=[WaitForRelease]):
        for policy, started in (
            (ScheduleOverlapPolicy.TERMINATE_OTHER, ["2025"]),
            (ScheduleOverlapPolicy.CANCEL_OTHER, ["2025"]),
            (ScheduleOverlapPolicy.BUFFER_ALL, ["2023"]),
        ):
            action = waiting_action(task_queue, f"yearly-{uuid.uuid4().hex[:6]}")
            schedule_id, handle = await new_schedule(
                sclient,
                task_queue,
                far_spec(),
                action=action,
                policy=SchedulePolicy(overlap=policy),
            )
            await handle.backfill(years)
            runs = await scheduled_runs(sclient, schedule_id)
            assert [r["workflow_id"] for r in runs] == [
                f"{action.id}-{year}-01-01T00:00:00Z" for year in started
            ], policy
            waiting = (await handle.describe()).raw_description["buffered"]
            assert len(waiting) == (2 if policy == ScheduleOverlapPolicy.BUFFER_ALL else 0)
            await _release_all(sclient, schedule_id)
            await handle.delete()


async def test_trigger_overlap_argument_overrides_policy(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[WaitForRelease]):
        schedule_id, handle = await _overlap_case(
            sclient, task_queue, ScheduleOverlapPolicy.SKIP, 1
        )
        await trigger_next_second(sclient, handle, overlap=ScheduleOverlapPolicy.ALLOW_ALL)
        assert len(await running_ids(sclient, schedule_id)) == 2
        await _release_all(sclient, schedule_id)
        await handle.delete()


# ---------------------------------------------------------- pause, limits, failure


async def test_pause_unpause_and_trigger_while_paused(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[Greet]):
        schedule_id, handle = await new_schedule(
            sclient,
            task_queue,
            every(minutes=1),
            state=ScheduleState(paused=True, note="created paused"),
        )
        desc = await handle.describe()
        assert (desc.schedule.state.paused, desc.schedule.state.note) == (True, "created paused")
        assert desc.info.next_action_times == []
        await advance_clock(sclient, timedelta(minutes=3))
        await asyncio.sleep(0.5)
        assert await scheduled_runs(sclient, schedule_id) == []
        await handle.trigger()  # manual actions happen even when paused
        runs = await eventually(lambda: _at_least(sclient, schedule_id, 1))
        # Let it finish, so that the next time is not skipped as an overlap.
        await sclient.get_workflow_handle(runs[0]["workflow_id"]).result()
        await handle.unpause()
        desc = await handle.describe()
        assert (desc.schedule.state.paused, desc.schedule.state.note) == (
            False,
            "Unpaused via Python SDK",
        )
        assert len(desc.info.next_action_times) == 10
        await advance_clock(sclient, timedelta(minutes=1))
        await eventually(lambda: _at_least(sclient, schedule_id, 2))
        await handle.pause(note="maintenance")
        desc = await handle.describe()
        assert (desc.schedule.state.paused, desc.schedule.state.note) == (True, "maintenance")
        fired = len(await scheduled_runs(sclient, schedule_id))
        await advance_clock(sclient, timedelta(minutes=2))
        await asyncio.sleep(0.5)
        assert len(await scheduled_runs(sclient, schedule_id)) == fired
        await handle.pause()
        assert (await handle.describe()).schedule.state.note == "Paused via Python SDK"


async def test_limited_actions_stop_after_remaining_reaches_zero(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[Greet]):
        schedule_id, handle = await new_schedule(
            sclient,
            task_queue,
            every(minutes=1),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
            state=ScheduleState(limited_actions=True, remaining_actions=2),
        )
        for _ in range(4):
            await advance_clock(sclient, timedelta(minutes=1))
            await asyncio.sleep(0.3)
        await eventually(lambda: _at_least(sclient, schedule_id, 2))
        await asyncio.sleep(0.5)
        desc = await handle.describe()
    assert len(await scheduled_runs(sclient, schedule_id)) == 2
    assert (desc.schedule.state.limited_actions, desc.schedule.state.remaining_actions) == (True, 0)
    assert desc.info.next_action_times == []
    await handle.delete()


async def test_pause_on_failure_pauses_with_a_note(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[AlwaysFails]):
        schedule_id, handle = await new_schedule(
            sclient,
            task_queue,
            far_spec(),
            action=ScheduleActionStartWorkflow(
                AlwaysFails.run, id=f"fails-{uuid.uuid4().hex[:6]}", task_queue=task_queue
            ),
            policy=SchedulePolicy(pause_on_failure=True),
            trigger_immediately=True,
        )
        desc = await eventually(lambda: _paused(handle))
    assert "failure" in (desc.schedule.state.note or "")
    runs = await scheduled_runs(sclient, schedule_id)
    assert [r["status"] for r in runs] == [WorkflowExecutionStatus.FAILED]
    await handle.delete()


async def _paused(handle):
    desc = await handle.describe()
    return desc if desc.schedule.state.paused else None


async def test_next_run_sees_the_last_completion_result(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[Accumulate]):
        schedule_id, handle = await new_schedule(
            sclient,
            task_queue,
            far_spec(),
            action=ScheduleActionStartWorkflow(
                Accumulate.run, id=f"acc-{uuid.uuid4().hex[:6]}", task_queue=task_queue
            ),
        )
        results = []
        for n in (1, 2, 3):
            await trigger_next_second(sclient, handle)
            runs = await eventually(lambda n=n: _at_least(sclient, schedule_id, n))
            results.append(await sclient.get_workflow_handle(runs[-1]["workflow_id"]).result())
    assert results == [1, 2, 3]
    await handle.delete()


# ----------------------------------------------------------- catch-up and backfill


async def test_missed_times_inside_catchup_window_fire_after_downtime(sclient, task_queue):
    """No worker runs while five minutes pass: with a one-hour window all five times
    still act when a worker comes back; with a 10-second window they are counted missed."""
    generous, strict = sid(), sid()
    every_minute = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(minutes=1))])
    for schedule_id, window in ((generous, timedelta(hours=1)), (strict, timedelta(seconds=10))):
        await sclient.create_schedule(
            schedule_id,
            Schedule(
                action=greet_action(task_queue, f"{schedule_id}-wf"),
                spec=every_minute,
                policy=SchedulePolicy(
                    overlap=ScheduleOverlapPolicy.ALLOW_ALL, catchup_window=window
                ),
            ),
        )
    now = await db_now(sclient)
    next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    await move_clock_to(sclient, next_minute + timedelta(minutes=4, seconds=30))
    async with Worker(sclient, task_queue=task_queue, workflows=[Greet]):
        await eventually(lambda: _at_least(sclient, generous, 5))
        await asyncio.sleep(0.5)
        strict_desc = await sclient.get_schedule_handle(strict).describe()
    assert len(await scheduled_runs(sclient, generous)) == 5
    assert await scheduled_runs(sclient, strict) == []
    assert strict_desc.info.num_actions_missed_catchup_window == 5
    for schedule_id in (generous, strict):
        await sclient.get_schedule_handle(schedule_id).delete()


async def test_backfill_acts_on_past_times_with_their_ids(sclient, task_queue):
    schedule_id, handle = await new_schedule(
        sclient, task_queue, ScheduleSpec(cron_expressions=["*/10 * * * *"])
    )
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    async with Worker(sclient, task_queue=task_queue, workflows=[Greet]):
        await handle.backfill(
            ScheduleBackfill(
                start_at=start.replace(tzinfo=None),  # naive means UTC, as in temporalio
                end_at=start + timedelta(minutes=30),
                overlap=ScheduleOverlapPolicy.ALLOW_ALL,
            )
        )
        runs = await eventually(lambda: _at_least(sclient, schedule_id, 3))
    # (start, end]: 12:10, 12:20, 12:30.
    assert sorted(r["workflow_id"] for r in runs) == [
        f"{schedule_id}-wf-2026-01-01T12:{m}:00Z" for m in ("10", "20", "30")
    ]
    with pytest.raises(ValueError):
        await handle.backfill()
    await handle.delete()


# --------------------------------------------------------- update, delete, list


async def test_update_replaces_schedule_and_none_changes_nothing(client, task_queue):
    schedule_id = sid()
    handle = await client.create_schedule(
        schedule_id, Schedule(action=greet_action(task_queue), spec=far_spec())
    )
    before = await handle.describe()

    def no_change(update_input: ScheduleUpdateInput) -> None:
        assert update_input.description.id == schedule_id
        return None

    await handle.update(no_change)
    assert (await handle.describe()).info.last_updated_at is None

    async def to_hourly(update_input: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = update_input.description.schedule
        schedule.spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))])
        schedule.state.note = "now hourly"
        schedule.policy.overlap = ScheduleOverlapPolicy.BUFFER_ONE
        return ScheduleUpdate(schedule=schedule)

    await handle.update(to_hourly)
    after = await handle.describe()
    assert after.schedule.spec.intervals == [ScheduleIntervalSpec(every=timedelta(hours=1))]
    assert after.schedule.spec.calendars == []
    assert after.schedule.state.note == "now hourly"
    assert after.schedule.policy.overlap == ScheduleOverlapPolicy.BUFFER_ONE
    assert after.info.last_updated_at is not None
    # The action (with its encoded arguments) went through unchanged.
    assert await client.data_converter.decode(after.schedule.action.args) == ["world"]
    gaps = [
        b - a
        for a, b in zip(
            after.info.next_action_times, after.info.next_action_times[1:], strict=False
        )
    ]
    assert gaps == [timedelta(hours=1)] * 9
    assert after.info.created_at == before.info.created_at
    await handle.delete()
    with pytest.raises(RPCError) as err:
        await handle.update(to_hourly)
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_update_retries_the_updater_after_a_concurrent_change(client, task_queue):
    _, handle = await new_schedule(client, task_queue, far_spec())
    calls = []

    async def updater(update_input: ScheduleUpdateInput) -> ScheduleUpdate:
        calls.append(update_input.description.schedule.state.note)
        if len(calls) == 1:
            await handle.pause(note="changed meanwhile")  # the first attempt must lose
        schedule = update_input.description.schedule
        schedule.state.note = f"update {len(calls)}"
        return ScheduleUpdate(schedule=schedule)

    await handle.update(updater)
    assert calls == [None, "changed meanwhile"]
    desc = await handle.describe()
    assert (desc.schedule.state.note, desc.schedule.state.paused) == ("update 2", True)


async def test_schedule_search_attributes_on_create_and_update(client, task_queue):
    team = SearchAttributeKey.for_keyword("Team")
    _, handle = await new_schedule(
        client,
        task_queue,
        far_spec(),
        search_attributes=TypedSearchAttributes([team.value_set("ops")]),
    )
    assert (await handle.describe()).typed_search_attributes.get(team) == "ops"

    def retag(update_input: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(
            schedule=update_input.description.schedule,
            search_attributes=TypedSearchAttributes([team.value_set("dev")]),
        )

    await handle.update(retag)
    desc = await handle.describe()
    assert desc.typed_search_attributes.get(team) == "dev"
    assert desc.search_attributes == {"Team": ["dev"]}
    listed = [s async for s in await client.list_schedules("Team = 'dev'")]
    assert [s.id for s in listed] == [handle.id]


async def test_delete_leaves_started_workflows_and_unknown_id_is_not_found(sclient, task_queue):
    schedule_id = sid()
    async with Worker(sclient, task_queue=task_queue, workflows=[WaitForRelease]):
        handle = await sclient.create_schedule(
            schedule_id,
            Schedule(action=waiting_action(task_queue, f"{schedule_id}-wf"), spec=far_spec()),
            trigger_immediately=True,
        )
        await handle.delete()
        assert len(await running_ids(sclient, schedule_id)) == 1
        for call in (handle.describe, handle.delete, handle.pause, handle.trigger):
            with pytest.raises(RPCError) as err:
                await call()
            assert err.value.status == RPCStatusCode.NOT_FOUND
        await _release_all(sclient, schedule_id)


async def create_numbered_schedules(
    sclient, task_queue: str, prefix: str, count: int, paused: Callable[[int], bool]
) -> list[str]:
    """Schedules <prefix>-0 .. <prefix>-<count - 1>, memo {"n": i}, paused as told."""
    ids = [f"{prefix}-{i}" for i in range(count)]
    for i, schedule_id in enumerate(ids):
        await sclient.create_schedule(
            schedule_id,
            Schedule(
                action=greet_action(task_queue),
                spec=far_spec(),
                state=ScheduleState(paused=paused(i)),
            ),
            memo={"n": i},
        )
    return ids


async def test_list_schedules_pages_and_filters(sclient, task_queue):
    prefix = f"list-{uuid.uuid4().hex[:6]}"
    ids = await create_numbered_schedules(sclient, task_queue, prefix, 3, lambda i: i == 1)
    listed = [s async for s in await sclient.list_schedules(page_size=2) if s.id.startswith(prefix)]
    assert [s.id for s in listed] == ids
    first = listed[0]
    assert isinstance(first, ScheduleListDescription)
    assert first.schedule.action.workflow == "Greet"
    assert first.schedule.state.paused is False
    assert len(first.info.next_action_times) > 0
    assert await first.memo() == {"n": 0}
    only = [s.id async for s in await sclient.list_schedules(f"ScheduleId = '{ids[2]}'")]
    assert only == [ids[2]]
    paused = [
        s.id
        async for s in await sclient.list_schedules("TemporalSchedulePaused = true")
        if s.id.startswith(prefix)
    ]
    assert paused == [ids[1]]
    with pytest.raises(RPCError) as err:
        [s async for s in await sclient.list_schedules("ScheduleId = 'x'; DROP TABLE schedules")]
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    for schedule_id in ids:
        await sclient.get_schedule_handle(schedule_id).delete()


async def test_list_schedules_speaks_the_list_filter_language(sclient, task_queue):
    prefix = f"lf-{uuid.uuid4().hex[:6]}"
    ids = await create_numbered_schedules(sclient, task_queue, prefix, 4, lambda i: i % 2 == 1)

    async def listed(query: str, **kwargs) -> list[str]:
        return [s.id async for s in await sclient.list_schedules(query, **kwargs)]

    mine = f"ScheduleId STARTS_WITH '{prefix}'"
    assert await listed(mine) == ids
    assert await listed(f"ScheduleId IN ('{ids[0]}', '{ids[3]}')") == [ids[0], ids[3]]
    assert await listed(f"{mine} AND TemporalSchedulePaused = false") == [ids[0], ids[2]]
    assert await listed(f"ScheduleId = '{ids[1]}' OR ScheduleId = '{ids[2]}'") == ids[1:3]
    assert (
        await listed(f"{mine} AND ScheduleId != '{ids[0]}' AND WorkflowType = 'Greet'") == ids[1:]
    )
    # The filter runs in SQL: every page of a filtered listing is full.
    iterator = await sclient.list_schedules(
        f"{mine} AND TemporalSchedulePaused = true", page_size=1
    )
    await iterator.fetch_next_page()
    assert [s.id for s in iterator.current_page] == [ids[1]]
    for bad in (f"{mine} ORDER BY ScheduleId", "ScheduleId =", "ScheduleId = 1"):
        with pytest.raises(RPCError) as err:
            await listed(bad)
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    for schedule_id in ids:
        await sclient.get_schedule_handle(schedule_id).delete()


# --------------------------------------------------------- calendars, time zones


async def test_hourly_calendar_fires_on_a_moved_clock(sclient, task_queue):
    async with Worker(sclient, task_queue=task_queue, workflows=[Greet]):
        schedule_id, handle = await new_schedule(
            sclient, task_queue, ScheduleSpec(cron_expressions=["@hourly"])
        )
        now = await db_now(sclient)
        top = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        assert (await handle.describe()).info.next_action_times[0] == top
        await move_clock_to(sclient, top + timedelta(seconds=1))
        runs = await eventually(lambda: _at_least(sclient, schedule_id, 1))
        await sclient.get_workflow_handle(runs[0]["workflow_id"]).result()  # no overlap
        await move_clock_to(sclient, top + timedelta(hours=1, seconds=1))
        runs = await eventually(lambda: _at_least(sclient, schedule_id, 2))
    assert [r["workflow_id"] for r in runs] == [
        f"{schedule_id}-wf-{top:%Y-%m-%dT%H:%M:%SZ}",
        f"{schedule_id}-wf-{top + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
    ]
    await handle.delete()


async def test_daily_in_new_york_across_dst_change(sclient, task_queue):
    """09:00 New York is 14:00 UTC in winter and 13:00 UTC after the March change."""
    schedule_id = sid()
    now = await db_now(sclient)
    year = now.year + 1
    spec = ScheduleSpec(
        calendars=[ScheduleCalendarSpec(hour=(ScheduleRange(9),))],
        time_zone_name="America/New_York",
        start_at=datetime(year, 3, 6, tzinfo=UTC),
    )
    async with Worker(sclient, task_queue=task_queue, workflows=[Greet]):
        handle = await sclient.create_schedule(
            schedule_id,
            Schedule(
                action=greet_action(task_queue, f"{schedule_id}-wf"),
                spec=spec,
                policy=SchedulePolicy(catchup_window=timedelta(minutes=1)),
            ),
        )
        times = (await handle.describe()).info.next_action_times
        # The second Sunday of March is the change.
        change = min(d for d in range(8, 15) if datetime(year, 3, d).weekday() == 6)
        before = [t for t in times if t.day < change]
        after = [t for t in times if t.day >= change]
        assert {t.hour for t in before} == {14} and {t.hour for t in after} == {13}
        # Fire for real on both sides of the change.
        for t in (before[-1], after[0]):
            await move_clock_to(sclient, t + timedelta(seconds=1))
            await eventually(lambda t=t: _has_run(sclient, schedule_id, t))
            await sclient.get_workflow_handle(f"{schedule_id}-wf-{t:%Y-%m-%dT%H:%M:%SZ}").result()
    await handle.delete()


async def _has_run(client, schedule_id: str, nominal: datetime) -> bool:
    wanted = f"{schedule_id}-wf-{nominal:%Y-%m-%dT%H:%M:%SZ}"
    return any(r["workflow_id"] == wanted for r in await scheduled_runs(client, schedule_id))


async def test_jitter_delays_within_bound_and_is_stable(client, task_queue):
    _, handle = await new_schedule(
        client,
        task_queue,
        ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))], jitter=timedelta(minutes=10)
        ),
    )
    first = (await handle.describe()).info.next_action_times
    again = (await handle.describe()).info.next_action_times
    assert first == again
    offsets = [t - t.replace(minute=0, second=0, microsecond=0) for t in first]
    assert all(timedelta(0) <= o < timedelta(minutes=10) for o in offsets)
    assert len(set(offsets)) > 1
    await handle.delete()


async def test_schedule_tick_rejects_a_stale_cursor(sclient, task_queue):
    """Two workers computing the same due times: only the first tick counts."""
    from hotmesh_temporal._engine.service import schedules as engine

    schedule_id, _ = await new_schedule(
        sclient,
        task_queue,
        every(minutes=1),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
    )
    await advance_clock(sclient, timedelta(minutes=2))
    store = (await sclient._engine()).store
    rows = [r for r in await store.fetch("due_schedules", 100) if r["schedule_id"] == schedule_id]
    assert len(rows) == 1
    plan = engine.plan_tick(rows[0])
    args = (rows[0]["namespace"], schedule_id, rows[0]["cursor_at"], plan.cursor, plan.next_fire)
    assert await store.fetchval("schedule_tick", *args, plan.starts, 0) == "ok"
    assert (
        await store.fetchval("schedule_tick", *args, engine.plan_tick(rows[0]).starts, 0) == "stale"
    )
    assert len(await scheduled_runs(sclient, schedule_id)) == 2
    await sclient.get_schedule_handle(schedule_id).delete()


# ------------------------------------------------------------ several processes


@pytest.mark.slow
async def test_three_worker_processes_fire_thirty_times_exactly_once(client, dsn):
    """Three worker processes (one killed midway) race for the same one-second
    schedule: every one of the 30 times starts exactly one workflow."""
    import signal

    from .test_crash import _spawn

    task_queue = f"sched-procs-{uuid.uuid4()}"
    schedule_id = sid()
    workers = [_spawn(dsn, task_queue) for _ in range(3)]
    try:
        now = await db_now(client)
        first = now.replace(microsecond=0) + timedelta(seconds=3)
        last = first + timedelta(seconds=29)
        handle = await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    "CrashWorkflow", 0, id=f"{schedule_id}-wf", task_queue=task_queue
                ),
                spec=ScheduleSpec(
                    intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))],
                    start_at=first,
                    end_at=last,
                ),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
            ),
        )
        await eventually(lambda: _at_least(client, schedule_id, 10), timeout=30)
        workers[0].send_signal(signal.SIGKILL)  # a worker dies mid-schedule
        workers[0].wait()
        await eventually(lambda: _at_least(client, schedule_id, 30), timeout=40)
        await asyncio.sleep(2)  # anything extra would show up now
        runs = await scheduled_runs(client, schedule_id)
        desc = await handle.describe()
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
    expected = [
        f"{schedule_id}-wf-{first + timedelta(seconds=i):%Y-%m-%dT%H:%M:%SZ}" for i in range(30)
    ]
    assert sorted(r["workflow_id"] for r in runs) == expected
    assert desc.info.num_actions == 30
    assert desc.info.next_action_times == []
    await handle.delete()


# ------------------------------------------------------------------ interceptors


class _ScheduleCalls(Interceptor):
    """Records every schedule operation that goes through the client chain."""

    def __init__(self) -> None:
        self.calls: list = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        calls = self.calls

        class Outbound(OutboundInterceptor):
            def __getattribute__(self, name: str) -> Any:
                attr = super().__getattribute__(name)
                if name.endswith("_schedule") or name == "list_schedules":
                    calls.append(name)
                return attr

        return Outbound(next)


async def test_schedule_operations_go_through_client_interceptors(client, task_queue):
    recorder = _ScheduleCalls()
    intercepted = Client(**{**client.config(), "interceptors": [recorder]})
    schedule_id, handle = await new_schedule(intercepted, task_queue, far_spec())
    await handle.describe()
    await handle.pause()
    await handle.unpause()
    await handle.trigger()
    await handle.backfill(
        ScheduleBackfill(start_at=datetime(2026, 1, 1), end_at=datetime(2026, 1, 2))
    )
    await handle.update(lambda update_input: None)
    [s async for s in await intercepted.list_schedules()]
    await handle.delete()
    assert recorder.calls == [
        "create_schedule",
        "describe_schedule",
        "pause_schedule",
        "unpause_schedule",
        "trigger_schedule",
        "backfill_schedule",
        "update_schedule",
        "list_schedules",
        "delete_schedule",
    ]
