"""Schedules: create and describe (upcoming action times), trigger, pause, backfill,
limited actions, overlap policies and their running-action accounting, update, delete."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from ..harness import Ctx, outcome, scenario


def noop(ctx: Ctx) -> type:
    wf = ctx.wf

    @ctx.defn(name="Scheduled")
    class Scheduled:
        @ctx.run
        async def run(self, hold: bool) -> str:
            if hold:
                await wf.wait_condition(lambda: False, timeout=timedelta(seconds=5))
            return "ran"

    return Scheduled


def schedule(ctx: Ctx, hold: bool = False, **options: Any) -> Any:
    client = ctx.sdk.client
    spec_options = options.pop(
        "spec", {"intervals": [client.ScheduleIntervalSpec(every=timedelta(hours=1))]}
    )
    return client.Schedule(
        action=client.ScheduleActionStartWorkflow(
            "Scheduled", hold, id=f"{ctx.prefix}-sched-wf", task_queue=ctx.task_queue
        ),
        spec=client.ScheduleSpec(**spec_options),
        **options,
    )


def describe_schedule(desc: Any) -> dict[str, Any]:
    sched = desc.schedule
    info = desc.info
    return {
        "id": desc.id,
        "action_type": type(sched.action).__name__,
        "workflow": sched.action.workflow,
        "intervals": [[i.every, i.offset] for i in sched.spec.intervals],
        "cron_expressions": list(sched.spec.cron_expressions),
        "calendars": len(sched.spec.calendars),
        "time_zone": sched.spec.time_zone_name,
        "overlap": sched.policy.overlap,
        "catchup_window": sched.policy.catchup_window,
        "pause_on_failure": sched.policy.pause_on_failure,
        "paused": sched.state.paused,
        "note": sched.state.note,
        "limited_actions": sched.state.limited_actions,
        "remaining_actions": sched.state.remaining_actions,
        "num_actions": info.num_actions,
        "num_actions_missed_catchup_window": info.num_actions_missed_catchup_window,
        "num_actions_skipped_overlap": info.num_actions_skipped_overlap,
        "running_actions": len(info.running_actions),
        "recent_actions": len(info.recent_actions),
        "upcoming_action_times": len(info.next_action_times),
        "upcoming_on_the_hour": all(
            t.minute == 0 and t.second == 0 for t in info.next_action_times
        ),
        "memo_type": type(desc.memo).__name__ if hasattr(desc, "memo") else None,
    }


async def wait_actions(
    handle: Any, count: int, running: int | None = None, timeout: float = 10.0
) -> Any:
    """Describes the schedule until it has taken ``count`` actions (and, when given,
    lists ``running`` of them as running): both servers update these asynchronously."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        desc = await handle.describe()
        done = desc.info.num_actions >= count and (
            running is None or len(desc.info.running_actions) == running
        )
        if done or asyncio.get_running_loop().time() > deadline:
            return desc
        await asyncio.sleep(0.2)


@scenario("schedules")
async def schedule_create_describe_delete(ctx: Ctx) -> dict:
    client = ctx.sdk.client
    handle = await ctx.client.create_schedule(
        ctx.id("Sched"),
        schedule(ctx, state=client.ScheduleState(note="created paused", paused=True)),
    )
    observed: dict[str, Any] = {"created": describe_schedule(await handle.describe())}
    observed["duplicate"] = await outcome(
        ctx.client.create_schedule(ctx.id("Sched"), schedule(ctx))
    )
    await handle.unpause(note="resume")
    observed["unpaused"] = describe_schedule(await handle.describe())
    await handle.pause()
    observed["paused_default_note"] = describe_schedule(await handle.describe())
    await handle.delete()
    observed["after_delete"] = await outcome(handle.describe())
    observed["delete_twice"] = await outcome(handle.delete())
    return observed


@scenario("schedules")
async def schedule_trigger_and_overlap_skip(ctx: Ctx) -> dict:
    client = ctx.sdk.client
    async with ctx.running([noop(ctx)]):
        handle = await ctx.client.create_schedule(
            ctx.id("Trigger"),
            schedule(ctx, hold=True, state=client.ScheduleState(paused=True)),
        )
        await handle.trigger()
        first = await wait_actions(handle, 1)
        await handle.trigger()
        await asyncio.sleep(1.0)
        second = await handle.describe()
        await handle.trigger(overlap=client.ScheduleOverlapPolicy.ALLOW_ALL)
        await wait_actions(handle, 2)
        await asyncio.sleep(1.0)  # the first action still runs (it holds for 5 s)
        third = await handle.describe()
        observed = {
            "after_first": describe_schedule(first),
            "after_skipped": describe_schedule(second),
            "after_allow_all": describe_schedule(third),
            "action_workflow_ids": sorted(
                a.workflow_id.startswith(f"{ctx.prefix}-sched-wf")
                for a in third.info.running_actions
            ),
        }
        async for run in ctx.client.list_workflows("WorkflowType = 'Scheduled'"):
            if run.id.startswith(ctx.prefix) and run.status.name == "RUNNING":
                await ctx.client.get_workflow_handle(run.id).terminate()
        await handle.delete()
    return observed


@scenario("schedules")
async def schedule_limited_actions(ctx: Ctx) -> dict:
    client = ctx.sdk.client
    async with ctx.running([noop(ctx)]):
        handle = await ctx.client.create_schedule(
            ctx.id("Limited"),
            schedule(
                ctx,
                spec={"intervals": [client.ScheduleIntervalSpec(every=timedelta(seconds=1))]},
                state=client.ScheduleState(limited_actions=True, remaining_actions=2),
            ),
        )
        desc = await wait_actions(handle, 2, running=0)
        await asyncio.sleep(2.5)
        later = await handle.describe()
        observed = {"after_two": describe_schedule(desc), "later": describe_schedule(later)}
        observed["later"]["num_actions"] = later.info.num_actions
        await handle.delete()
    return observed


@scenario("schedules")
async def schedule_backfill(ctx: Ctx) -> dict:
    client = ctx.sdk.client
    async with ctx.running([noop(ctx)]):
        handle = await ctx.client.create_schedule(
            ctx.id("Backfill"),
            schedule(
                ctx,
                spec={"intervals": [client.ScheduleIntervalSpec(every=timedelta(minutes=1))]},
                state=client.ScheduleState(paused=True),
                policy=client.SchedulePolicy(overlap=client.ScheduleOverlapPolicy.ALLOW_ALL),
            ),
        )
        now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        await handle.backfill(
            client.ScheduleBackfill(
                start_at=now - timedelta(minutes=10),
                end_at=now - timedelta(minutes=7, seconds=30),
                overlap=client.ScheduleOverlapPolicy.ALLOW_ALL,
            )
        )
        desc = await wait_actions(handle, 3)
        await asyncio.sleep(1.0)
        desc = await handle.describe()
        observed = {"described": describe_schedule(desc)}
        await handle.delete()
    return observed


@scenario("schedules")
async def schedule_update_and_list(ctx: Ctx) -> dict:
    client = ctx.sdk.client
    handle = await ctx.client.create_schedule(
        ctx.id("Update"),
        schedule(ctx, state=client.ScheduleState(paused=True)),
    )

    def change(inp: Any) -> Any:
        sched = inp.description.schedule
        sched.spec = client.ScheduleSpec(cron_expressions=["0 12 * * *"])
        sched.state.note = "updated"
        sched.policy.overlap = client.ScheduleOverlapPolicy.BUFFER_ONE
        return client.ScheduleUpdate(schedule=sched)

    await handle.update(change)
    observed: dict[str, Any] = {"updated": describe_schedule(await handle.describe())}
    await handle.update(lambda inp: None)
    observed["no_op_update"] = describe_schedule(await handle.describe())["note"]
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        listed = [s async for s in await ctx.client.list_schedules() if s.id == ctx.id("Update")]
        if listed or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.3)
    observed["listed"] = [
        {
            "id": s.id,
            "paused": s.schedule.state.paused,
            "note": s.schedule.state.note,
            "workflow": s.schedule.action.workflow,
            "recent_actions": len(s.info.recent_actions),
        }
        for s in listed
    ]
    await handle.delete()
    return observed


@scenario("schedules")
async def schedule_calendar_and_invalid_spec(ctx: Ctx) -> dict:
    client = ctx.sdk.client
    handle = await ctx.client.create_schedule(
        ctx.id("Calendar"),
        schedule(
            ctx,
            spec={
                "calendars": [
                    client.ScheduleCalendarSpec(
                        hour=[client.ScheduleRange(9)], minute=[client.ScheduleRange(30)]
                    )
                ],
                "time_zone_name": "UTC",
            },
            state=client.ScheduleState(paused=True),
        ),
    )
    desc = await handle.describe()
    cal = desc.schedule.spec.calendars[0]
    observed: dict[str, Any] = {
        "calendar": {
            "hour": [[r.start, r.end, r.step] for r in cal.hour],
            "minute": [[r.start, r.end, r.step] for r in cal.minute],
            "second": [[r.start, r.end, r.step] for r in cal.second],
            "day_of_week": [[r.start, r.end, r.step] for r in cal.day_of_week],
        },
        "next_times_at_0930": all(
            (t.hour, t.minute) == (9, 30) for t in desc.info.next_action_times
        ),
        "upcoming": len(desc.info.next_action_times),
    }
    await handle.delete()
    observed["bad_cron"] = await outcome(
        ctx.client.create_schedule(
            ctx.id("BadCron"), schedule(ctx, spec={"cron_expressions": ["not a cron"]})
        )
    )
    return observed
