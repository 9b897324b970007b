"""``hotmesh-temporal schedule ...``: the temporal CLI's schedule commands."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from hotmesh_temporal.cli._common import (
    CommandError,
    Printer,
    add_connection_flags,
    close,
    compact_json,
    connect,
    parse_duration,
    parse_json_inputs,
    parse_time,
    printer,
    progress,
    relative_time,
    rfc3339,
)
from hotmesh_temporal.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleDescription,
    ScheduleIntervalSpec,
    ScheduleListActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

OVERLAP_NAMES = {
    "Skip": ScheduleOverlapPolicy.SKIP,
    "BufferOne": ScheduleOverlapPolicy.BUFFER_ONE,
    "BufferAll": ScheduleOverlapPolicy.BUFFER_ALL,
    "CancelOther": ScheduleOverlapPolicy.CANCEL_OTHER,
    "TerminateOther": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "AllowAll": ScheduleOverlapPolicy.ALLOW_ALL,
}
# Backfills longer than this many periods print progress as they are sent.
_BACKFILL_CHUNK = timedelta(days=1)


def add(subparsers: Any) -> None:
    group = subparsers.add_parser("schedule", help="create, list and operate on schedules")
    commands = group.add_subparsers(dest="schedule_command", metavar="<command>")
    commands.required = True
    _command(commands, "list", "list schedules", _list)
    _id_flag(_command(commands, "describe", "show a schedule", _describe))
    _spec_flags(_id_flag(_command(commands, "create", "create a schedule", _create)))
    _spec_flags(
        _id_flag(_command(commands, "update", "replace a schedule's spec and action", _update))
    )
    toggle = _id_flag(_command(commands, "toggle", "pause or unpause a schedule", _toggle))
    which = toggle.add_mutually_exclusive_group(required=True)
    which.add_argument("--pause", action="store_true")
    which.add_argument("--unpause", action="store_true")
    toggle.add_argument("--reason", default="", help="note kept with the pause state")
    trigger = _id_flag(_command(commands, "trigger", "start the action now", _trigger))
    trigger.add_argument("--overlap-policy", choices=list(OVERLAP_NAMES))
    backfill = _id_flag(_command(commands, "backfill", "act on past times", _backfill))
    backfill.add_argument("--start-time", type=parse_time, required=True)
    backfill.add_argument("--end-time", type=parse_time, required=True)
    backfill.add_argument("--overlap-policy", choices=list(OVERLAP_NAMES))
    _id_flag(_command(commands, "delete", "delete a schedule (its runs stay)", _delete))


def _command(commands: Any, name: str, help: str, body: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help, description=help)
    add_connection_flags(parser)
    parser.set_defaults(func=lambda args: _with_client(args, body))
    return parser


def _id_flag(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("-s", "--schedule-id", required=True, help="schedule id")
    return parser


def _spec_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", action="append", help="every DURATION[/OFFSET], e.g. 1h")
    parser.add_argument("--cron", action="append", help="cron expression")
    parser.add_argument("--type", required=True, help="workflow type name")
    parser.add_argument("-t", "--task-queue", required=True)
    parser.add_argument("-w", "--workflow-id", required=True, help="id prefix of the runs")
    parser.add_argument("-i", "--input", action="append", help="JSON argument (repeatable)")
    parser.add_argument("--overlap-policy", choices=list(OVERLAP_NAMES), default="Skip")
    parser.add_argument("--catchup-window", type=parse_duration)
    parser.add_argument("--pause-on-failure", action="store_true")
    parser.add_argument("--paused", action="store_true", help="create it paused")
    parser.add_argument("--notes", default="", help="note kept with the state")
    parser.add_argument("--execution-timeout", type=parse_duration)
    parser.add_argument("--run-timeout", type=parse_duration)


async def _with_client(args: argparse.Namespace, body: Any) -> int:
    client = await connect(args)
    try:
        return await body(client, args, printer(args))
    finally:
        await close(client)


def _done(out: Printer, message: str) -> None:
    if out.is_table:
        out.line(message)
    else:
        out.json({"message": message})


# ------------------------------------------------------------------ reading


def _spec_text(spec: ScheduleSpec) -> str:
    parts: list[dict[str, Any]] = []
    for interval in spec.intervals:
        item: dict[str, Any] = {"every": _duration_text(interval.every)}
        if interval.offset:
            item["offset"] = _duration_text(interval.offset)
        parts.append(item)
    for expression in spec.cron_expressions:
        parts.append({"cron": expression})
    parts.extend({"calendar": c.comment or "calendar"} for c in spec.calendars)
    return compact_json(parts)


def _duration_text(value: timedelta) -> str:
    return f"{int(value.total_seconds())}s"


async def _list(client: Client, args: argparse.Namespace, out: Printer) -> int:
    listed = [s async for s in await client.list_schedules()]
    if not out.is_table:
        out.json_list([_list_json(s) for s in listed])
        return 0
    rows = []
    for s in listed:
        action = s.schedule.action if s.schedule else None
        workflow = action.workflow if isinstance(action, ScheduleListActionStartWorkflow) else ""
        next_times = s.info.next_action_times if s.info else []
        recent = s.info.recent_actions if s.info else []
        rows.append(
            [
                s.id,
                compact_json({"Workflow": workflow}),
                str(s.schedule.state.paused).lower() if s.schedule else "",
                relative_time(next_times[0]) if next_times else "",
                relative_time(recent[-1].started_at) if recent else "",
            ]
        )
    out.table(["ScheduleId", "Action", "Paused", "NextRunTime", "LastRunTime"], rows)
    return 0


def _list_json(s: Any) -> dict[str, Any]:
    action = s.schedule.action if s.schedule else None
    return {
        "scheduleId": s.id,
        "info": {
            "workflowType": {"name": getattr(action, "workflow", "")},
            "paused": bool(s.schedule and s.schedule.state.paused),
            "notes": (s.schedule.state.note or "") if s.schedule else "",
            "futureActionTimes": [rfc3339(t) for t in (s.info.next_action_times if s.info else [])],
            "recentActions": [
                {"scheduleTime": rfc3339(a.scheduled_at), "actualTime": rfc3339(a.started_at)}
                for a in (s.info.recent_actions if s.info else [])
            ],
        },
    }


async def _describe(client: Client, args: argparse.Namespace, out: Printer) -> int:
    d = await client.get_schedule_handle(args.schedule_id).describe()
    if not out.is_table:
        out.json(_describe_json(d))
        return 0
    action = d.schedule.action
    out.card(
        [
            ("ScheduleId", d.id),
            ("Action", compact_json(_action_doc(action))),
            ("Spec", _spec_text(d.schedule.spec)),
            ("OverlapPolicy", _overlap_name(d.schedule.policy.overlap)),
            (
                "CatchupWindow",
                _duration_text(d.schedule.policy.catchup_window)
                if d.schedule.policy.catchup_window
                else "",
            ),
            ("PauseOnFailure", str(d.schedule.policy.pause_on_failure).lower()),
            ("Paused", str(d.schedule.state.paused).lower()),
            ("Notes", d.schedule.state.note or ""),
            (
                "NextRunTime",
                relative_time(d.info.next_action_times[0]) if d.info.next_action_times else "",
            ),
            (
                "LastRunTime",
                relative_time(d.info.recent_actions[-1].started_at)
                if d.info.recent_actions
                else "",
            ),
            ("RunningWorkflows", compact_json([a.workflow_id for a in d.info.running_actions])),
            ("CreatedAt", relative_time(d.info.created_at)),
            ("LastUpdateAt", relative_time(d.info.last_updated_at)),
            (
                "ActionCounts",
                compact_json(
                    {
                        "Total": d.info.num_actions,
                        "MissedCatchupWindow": d.info.num_actions_missed_catchup_window,
                        "SkippedOverlap": d.info.num_actions_skipped_overlap,
                    }
                ),
            ),
        ]
    )
    return 0


def _action_doc(action: Any) -> dict[str, Any]:
    if not isinstance(action, ScheduleActionStartWorkflow):
        return {}
    return {"ID": action.id, "Workflow": action.workflow, "TaskQueue": action.task_queue}


def _overlap_name(policy: ScheduleOverlapPolicy) -> str:
    return next((k for k, v in OVERLAP_NAMES.items() if v == policy), str(policy))


def _describe_json(d: ScheduleDescription) -> dict[str, Any]:
    return {
        "scheduleId": d.id,
        "schedule": {
            "action": {"startWorkflow": _action_doc(d.schedule.action)},
            "spec": _spec_text(d.schedule.spec),
            "policies": {
                "overlapPolicy": _overlap_name(d.schedule.policy.overlap),
                "pauseOnFailure": d.schedule.policy.pause_on_failure,
            },
            "state": {"paused": d.schedule.state.paused, "notes": d.schedule.state.note or ""},
        },
        "info": {
            "actionCount": str(d.info.num_actions),
            "runningWorkflows": [
                {"workflowId": a.workflow_id, "runId": a.first_execution_run_id}
                for a in d.info.running_actions
            ],
            "recentActions": [
                {"scheduleTime": rfc3339(a.scheduled_at), "actualTime": rfc3339(a.started_at)}
                for a in d.info.recent_actions
            ],
            "futureActionTimes": [rfc3339(t) for t in d.info.next_action_times],
            "createTime": rfc3339(d.info.created_at),
            "updateTime": rfc3339(d.info.last_updated_at),
        },
    }


# ------------------------------------------------------------------ writing


def _schedule_from_flags(args: argparse.Namespace) -> Schedule:
    intervals = []
    for text in args.interval or []:
        every, _, offset = text.partition("/")
        intervals.append(
            ScheduleIntervalSpec(
                every=parse_duration(every), offset=parse_duration(offset) if offset else None
            )
        )
    if not intervals and not args.cron:
        raise CommandError("give at least one --interval or --cron", 2)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            args.type,
            args=parse_json_inputs(args.input),
            id=args.workflow_id,
            task_queue=args.task_queue,
            execution_timeout=args.execution_timeout,
            run_timeout=args.run_timeout,
        ),
        spec=ScheduleSpec(intervals=intervals, cron_expressions=list(args.cron or [])),
        policy=SchedulePolicy(
            overlap=OVERLAP_NAMES[args.overlap_policy],
            catchup_window=args.catchup_window,
            pause_on_failure=args.pause_on_failure,
        ),
        state=ScheduleState(paused=args.paused, note=args.notes or None),
    )


async def _create(client: Client, args: argparse.Namespace, out: Printer) -> int:
    await client.create_schedule(args.schedule_id, _schedule_from_flags(args))
    _done(out, "Schedule created")
    return 0


async def _update(client: Client, args: argparse.Namespace, out: Printer) -> int:
    replacement = _schedule_from_flags(args)

    def updater(_current: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=replacement)

    await client.get_schedule_handle(args.schedule_id).update(updater)
    _done(out, "Schedule updated")
    return 0


async def _toggle(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = client.get_schedule_handle(args.schedule_id)
    if args.pause:
        await handle.pause(note=args.reason or None)
        _done(out, "Schedule paused")
    else:
        await handle.unpause(note=args.reason or None)
        _done(out, "Schedule unpaused")
    return 0


async def _trigger(client: Client, args: argparse.Namespace, out: Printer) -> int:
    overlap = OVERLAP_NAMES[args.overlap_policy] if args.overlap_policy else None
    await client.get_schedule_handle(args.schedule_id).trigger(overlap=overlap)
    _done(out, "Trigger request sent")
    return 0


async def _backfill(client: Client, args: argparse.Namespace, out: Printer) -> int:
    if args.end_time <= args.start_time:
        raise CommandError("--end-time must be after --start-time", 2)
    overlap = OVERLAP_NAMES[args.overlap_policy] if args.overlap_policy else None
    handle = client.get_schedule_handle(args.schedule_id)
    start = args.start_time
    while start < args.end_time:
        end = min(start + _BACKFILL_CHUNK, args.end_time)
        progress(f"backfilling {rfc3339(start)} .. {rfc3339(end)}")
        await handle.backfill(ScheduleBackfill(start_at=start, end_at=end, overlap=overlap))
        start = end
    _done(out, "Backfill request sent")
    return 0


async def _delete(client: Client, args: argparse.Namespace, out: Printer) -> int:
    await client.get_schedule_handle(args.schedule_id).delete()
    _done(out, "Schedule deleted")
    return 0
