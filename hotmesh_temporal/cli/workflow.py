"""``hotmesh-temporal workflow ...``: the temporal CLI's workflow commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hotmesh_temporal._ops.runs import (
    RunView,
    decode_failure,
    decode_payloads,
    event_rows,
    load_run,
)
from hotmesh_temporal.cli._common import (
    EXIT_FAILED,
    CommandError,
    Printer,
    add_connection_flags,
    close,
    compact_json,
    connect,
    execution_json,
    parse_duration,
    parse_json_inputs,
    printer,
    progress,
    relative_time,
    rfc3339,
    status_name,
    to_json_value,
)
from hotmesh_temporal.client import Client, WorkflowHistoryEventFilterType, WorkflowUpdateStage
from hotmesh_temporal.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy


def add(subparsers: Any) -> None:
    group = subparsers.add_parser("workflow", help="start, list and operate on workflow runs")
    commands = group.add_subparsers(dest="workflow_command", metavar="<command>")
    commands.required = True
    _add_list(commands)
    _add_count(commands)
    _add_describe(commands)
    _add_show(commands)
    _add_result(commands)
    _add_query(commands)
    _add_stack(commands)
    _add_signal(commands)
    _add_update(commands)
    _add_start(commands, "start", "start a workflow run", _start)
    _add_start(commands, "execute", "start a workflow run and wait for its result", _execute)
    _add_cancel(commands)
    _add_terminate(commands)
    _add_delete(commands)


def _command(commands: Any, name: str, help: str, func: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help, description=help)
    add_connection_flags(parser)
    parser.set_defaults(func=func)
    return parser


def _execution_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-w", "--workflow-id", required=True, help="workflow id")
    parser.add_argument("-r", "--run-id", help="run id (default: the latest run)")


async def _with_client(args: argparse.Namespace, body: Any) -> int:
    client = await connect(args)
    try:
        return await body(client, args, printer(args))
    finally:
        await close(client)


def _runner(body: Any) -> Any:
    return lambda args: _with_client(args, body)


# ------------------------------------------------------------------ list / count


def _add_list(commands: Any) -> None:
    parser = _command(commands, "list", "list workflow runs", _runner(_list))
    parser.add_argument("-q", "--query", help="list filter, e.g. \"WorkflowType='Order'\"")
    parser.add_argument("--limit", type=int, help="at most this many runs")


async def _list(client: Client, args: argparse.Namespace, out: Printer) -> int:
    executions = []
    async for execution in client.list_workflows(args.query, limit=args.limit):
        executions.append(execution)
        if len(executions) % 1000 == 0:
            progress(f"{len(executions)} runs...")
    if not out.is_table:
        out.json_list([execution_json(e) for e in executions])
        return 0
    out.table(
        ["Status", "WorkflowId", "Type", "StartTime"],
        [
            [status_name(e.status), e.id, e.workflow_type, relative_time(e.start_time)]
            for e in executions
        ],
    )
    return 0


def _add_count(commands: Any) -> None:
    parser = _command(commands, "count", "count workflow runs", _runner(_count))
    parser.add_argument("-q", "--query", help="list filter; GROUP BY ExecutionStatus counts each")


async def _count(client: Client, args: argparse.Namespace, out: Printer) -> int:
    counted = await client.count_workflows(args.query)
    if not out.is_table:
        doc: dict[str, Any] = {"count": str(counted.count)}
        if counted.groups:
            doc["groups"] = [
                {
                    "groupValues": [{"data": json.dumps(v)} for v in g.group_values],
                    "count": str(g.count),
                }
                for g in counted.groups
            ]
        out.json(doc)
        return 0
    out.line(f"Total: {counted.count}")
    for g in counted.groups:
        out.line(f"Group total: {g.count}, values: {', '.join(map(str, g.group_values))}")
    return 0


# ------------------------------------------------------------------ describe / show


def _add_describe(commands: Any) -> None:
    parser = _command(
        commands, "describe", "show a run's status and pending activities", _runner(_describe)
    )
    _execution_flags(parser)


async def _describe(client: Client, args: argparse.Namespace, out: Printer) -> int:
    run = await load_run(client, args.workflow_id, args.run_id)
    if not out.is_table:
        out.json(_run_json(run))
        return 0
    d = run.description
    out.line("Execution Info:")
    out.card(
        [
            ("WorkflowId", d.id),
            ("RunId", d.run_id),
            ("Type", d.workflow_type),
            ("Namespace", d.namespace),
            ("TaskQueue", d.task_queue),
            ("Status", status_name(d.status)),
            ("StartTime", relative_time(d.start_time)),
            ("CloseTime", relative_time(d.close_time)),
            ("ExecutionTime", relative_time(d.execution_time)),
            ("HistoryLength", d.history_length),
            ("ParentWorkflowId", d.parent_id or ""),
            ("ParentRunId", d.parent_run_id or ""),
            ("RootWorkflowId", d.root_id or ""),
            ("RootRunId", d.root_run_id or ""),
            ("Memo", compact_json(run.memo) if run.memo else ""),
            (
                "SearchAttributes",
                compact_json(run.search_attributes) if run.search_attributes else "",
            ),
            ("Input", compact_json(run.input)),
        ]
    )
    if not run.is_running:
        out.line("Results:")
        out.card(_results_pairs(run))
    out.line()
    out.line(f"Pending Activities: {len(run.pending_activities)}")
    for a in run.pending_activities:
        out.card(
            [
                ("ActivityId", a.activity_id),
                ("Type", a.activity_type),
                ("State", a.state),
                ("Attempt", a.attempt),
                ("MaximumAttempts", a.maximum_attempts),
                ("LastHeartbeatTime", relative_time(a.last_heartbeat_time)),
                ("HeartbeatDetails", compact_json(a.heartbeat_details)),
                ("LastFailure", a.last_failure or ""),
            ],
            indent="    ",
        )
    open_children = sum(1 for s in run.spans if s.kind == "child" and s.end is None)
    out.line(f"Pending Child Workflows: {open_children}")
    return 0


def _results_pairs(run: RunView) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = [("Status", status_name(run.description.status))]
    if run.result is not None:
        pairs.append(("Result", compact_json(_single(run.result))))
    if run.failure:
        pairs.append(("Failure", run.failure))
    return pairs


def _single(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _run_json(run: RunView) -> dict[str, Any]:
    d = run.description
    return {
        "workflowExecutionInfo": execution_json(d),
        "executionConfig": {"taskQueue": {"name": d.task_queue}},
        "pendingActivities": [
            {
                "activityId": a.activity_id,
                "activityType": {"name": a.activity_type},
                "state": f"PENDING_ACTIVITY_STATE_{a.state.upper()}",
                "attempt": a.attempt,
                "maximumAttempts": a.maximum_attempts,
                "heartbeatDetails": to_json_value(a.heartbeat_details),
                "lastHeartbeatTime": rfc3339(a.last_heartbeat_time),
                "lastFailure": a.last_failure,
            }
            for a in run.pending_activities
        ],
        "input": to_json_value(run.input),
        "result": to_json_value(_single(run.result)) if run.result is not None else None,
        "failure": run.failure,
    }


def _add_show(commands: Any) -> None:
    parser = _command(commands, "show", "show a run's event history", _runner(_show))
    _execution_flags(parser)
    parser.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new events until the run closes"
    )


async def _show(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id)
    if args.output == "json" and not args.follow:
        history = await handle.fetch_history()
        out.line(history.to_json())
        return 0
    if out.is_table:
        out.line("Progress:")
        out.line(f"  {'ID':>4}  {'Time':<20}  Type")
    async for event in handle.fetch_history_events(wait_new_event=args.follow):
        row = event_rows([event])[0]
        if out.is_table:
            when = rfc3339(row.time.replace(microsecond=0)) if row.time else ""
            out.line(f"  {row.event_id:>4}  {when:<20}  {row.type}")
        else:
            out.line(json.dumps(row.raw, separators=(",", ":")))
    if out.is_table:
        description = await handle.describe()
        if description.close_time is not None:
            out.line()
            out.line("Results:")
            out.card([("Status", status_name(description.status))])
    return 0


async def _result(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id)
    closing = [
        e
        async for e in handle.fetch_history_events(
            wait_new_event=True, event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
        )
    ]
    rows = event_rows(closing)
    if not rows:
        raise CommandError("the run has no closing event")
    last = rows[-1]
    description = await handle.describe()
    status = status_name(description.status)
    result = failure = None
    if last.type == "WorkflowExecutionCompleted":
        result = _single(
            await decode_payloads(client.data_converter, last.attributes.get("result"))
        )
    elif last.type == "WorkflowExecutionFailed":
        failure = await decode_failure(client.data_converter, last.attributes.get("failure"))
    else:
        failure = last.attributes.get("reason") or status
    if out.is_table:
        out.line("Results:")
        pairs: list[tuple[str, Any]] = [("Status", status)]
        pairs.append(("Result", compact_json(result)) if failure is None else ("Failure", failure))
        out.card(pairs)
    else:
        out.json({"status": status, "result": to_json_value(result), "failure": failure})
    if failure is not None:
        print(f"Error: workflow {status.lower()}: {failure}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _add_result(commands: Any) -> None:
    parser = _command(
        commands,
        "result",
        "wait for a run to close and print its result",
        _runner(_result),
    )
    _execution_flags(parser)


# ------------------------------------------------------------------ query / signal / update


def _add_query(commands: Any) -> None:
    parser = _command(commands, "query", "ask a run's query handler", _runner(_query))
    _execution_flags(parser)
    parser.add_argument("--name", "--type", dest="name", required=True, help="query name")
    parser.add_argument("-i", "--input", action="append", help="JSON argument (repeatable)")


async def _query(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id)
    value = await handle.query(args.name, args=parse_json_inputs(args.input))
    if out.is_table:
        out.line("Query result:")
        out.card([("QueryResult", compact_json(value))])
    else:
        out.json({"queryResult": to_json_value(value)})
    return 0


def _add_stack(commands: Any) -> None:
    parser = _command(commands, "stack", "print a running run's stack trace", _runner(_stack))
    _execution_flags(parser)


async def _stack(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id)
    trace = await handle.query("__stack_trace")
    if out.is_table:
        out.line(str(trace))
    else:
        out.json({"stackTrace": trace})
    return 0


def _add_signal(commands: Any) -> None:
    parser = _command(commands, "signal", "send a signal to a run", _runner(_signal))
    _execution_flags(parser)
    parser.add_argument("--name", required=True, help="signal name")
    parser.add_argument("-i", "--input", action="append", help="JSON argument (repeatable)")


async def _signal(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id)
    await handle.signal(args.name, args=parse_json_inputs(args.input))
    _done(out, "Signal workflow succeeded")
    return 0


def _done(out: Printer, message: str, **fields: Any) -> None:
    if out.is_table:
        out.line(message)
    else:
        out.json({"message": message, **fields})


def _add_update(commands: Any) -> None:
    group = commands.add_parser("update", help="send updates to a run and read their results")
    sub = group.add_subparsers(dest="update_command", metavar="<command>")
    sub.required = True
    for name, help, func in (
        ("execute", "send an update and wait for its result", _update_execute),
        ("start", "send an update and wait until it is accepted", _update_start),
        ("result", "wait for an update's result", _update_result),
    ):
        parser = _command(sub, name, help, _runner(func))
        _execution_flags(parser)
        if name != "result":
            parser.add_argument("--name", required=True, help="update name")
            parser.add_argument("-i", "--input", action="append", help="JSON argument")
        parser.add_argument("--update-id", required=(name == "result"), help="update id")


async def _update_execute(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id)
    value = await handle.execute_update(
        args.name, args=parse_json_inputs(args.input), id=args.update_id
    )
    _update_printed(out, args.name, args.update_id, value)
    return 0


async def _update_start(client: Client, args: argparse.Namespace, out: Printer) -> int:

    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id)
    update = await handle.start_update(
        args.name,
        args=parse_json_inputs(args.input),
        id=args.update_id,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    _done(out, "Update accepted", updateId=update.id)
    if out.is_table:
        out.card([("UpdateId", update.id)])
    return 0


async def _update_result(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id)
    value = await handle.get_update_handle(args.update_id).result()
    _update_printed(out, None, args.update_id, value)
    return 0


def _update_printed(out: Printer, name: str | None, update_id: str | None, value: Any) -> None:
    if out.is_table:
        pairs = [("Name", name)] if name else []
        out.card([*pairs, ("UpdateId", update_id or ""), ("Result", compact_json(value))])
    else:
        out.json({"name": name, "updateId": update_id, "result": to_json_value(value)})


# ------------------------------------------------------------------ start / execute


def _add_start(commands: Any, name: str, help: str, func: Any) -> None:
    parser = _command(commands, name, help, _runner(func))
    parser.add_argument("--type", required=True, help="workflow type name")
    parser.add_argument("-t", "--task-queue", required=True, help="task queue")
    parser.add_argument("-w", "--workflow-id", help="workflow id (default: a new UUID)")
    parser.add_argument("-i", "--input", action="append", help="JSON argument (repeatable)")
    parser.add_argument("--execution-timeout", type=parse_duration)
    parser.add_argument("--run-timeout", type=parse_duration)
    parser.add_argument("--task-timeout", type=parse_duration)
    parser.add_argument("--start-delay", type=parse_duration)
    parser.add_argument("--cron", help="cron schedule")
    parser.add_argument(
        "--id-reuse-policy",
        choices=[
            "AllowDuplicate",
            "AllowDuplicateFailedOnly",
            "RejectDuplicate",
            "TerminateIfRunning",
        ],
    )
    parser.add_argument(
        "--id-conflict-policy", choices=["Fail", "UseExisting", "TerminateExisting"]
    )
    parser.add_argument("--memo", action="append", metavar="KEY=JSON", help="memo entry")
    parser.add_argument(
        "--search-attribute",
        action="append",
        metavar="KEY=JSON",
        help="search attribute (untyped, as the legacy map)",
    )


def _pascal_to_enum(value: str) -> str:
    out = ""
    for ch in value:
        out += ("_" + ch) if ch.isupper() and out else ch.upper()
    return out


def _key_values(items: list[str] | None, flag: str) -> dict[str, Any]:
    out = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep:
            raise CommandError(f"{flag} {item!r}: expected KEY=JSON", 2)
        out[key] = parse_json_inputs([text], flag)[0]
    return out


async def _start_run(client: Client, args: argparse.Namespace) -> Any:
    import uuid

    options: dict[str, Any] = {}
    if args.id_reuse_policy:
        options["id_reuse_policy"] = WorkflowIDReusePolicy[_pascal_to_enum(args.id_reuse_policy)]
    if args.id_conflict_policy:
        options["id_conflict_policy"] = WorkflowIDConflictPolicy[
            _pascal_to_enum(args.id_conflict_policy)
        ]
    attributes = _key_values(args.search_attribute, "--search-attribute")
    return await client.start_workflow(
        args.type,
        args=parse_json_inputs(args.input),
        id=args.workflow_id or str(uuid.uuid4()),
        task_queue=args.task_queue,
        execution_timeout=args.execution_timeout,
        run_timeout=args.run_timeout,
        task_timeout=args.task_timeout,
        start_delay=args.start_delay,
        cron_schedule=args.cron or "",
        memo=_key_values(args.memo, "--memo") or None,
        search_attributes={k: v if isinstance(v, list) else [v] for k, v in attributes.items()}
        or None,
        **options,
    )


def _started_pairs(client: Client, args: argparse.Namespace, handle: Any) -> list[tuple[str, Any]]:
    return [
        ("WorkflowId", handle.id),
        ("RunId", handle.result_run_id),
        ("Type", args.type),
        ("Namespace", client.namespace),
        ("TaskQueue", args.task_queue),
    ]


async def _start(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = await _start_run(client, args)
    pairs = _started_pairs(client, args, handle)
    if out.is_table:
        out.line("Running execution:")
        out.card(pairs)
    else:
        out.json({_camel(k): v for k, v in pairs})
    return 0


def _camel(name: str) -> str:
    return {"WorkflowId": "workflowId", "RunId": "runId", "TaskQueue": "taskQueue"}.get(
        name, name[0].lower() + name[1:]
    )


async def _execute(client: Client, args: argparse.Namespace, out: Printer) -> int:
    handle = await _start_run(client, args)
    pairs = _started_pairs(client, args, handle)
    if out.is_table:
        out.line("Running execution:")
        out.card(pairs)
    else:
        out.json({_camel(k): v for k, v in pairs})  # the result's document follows
    args.run_id, args.workflow_id = handle.result_run_id, handle.id
    return await _result(client, args, out)


# ------------------------------------------------------------------ cancel / terminate / delete


def _add_cancel(commands: Any) -> None:
    parser = _command(commands, "cancel", "ask a run to cancel", _runner(_cancel))
    _execution_flags(parser)
    parser.add_argument("--reason", default="", help="why (recorded in history)")


async def _cancel(client: Client, args: argparse.Namespace, out: Printer) -> int:
    await client.get_workflow_handle(args.workflow_id, run_id=args.run_id).cancel(
        reason=args.reason
    )
    _done(out, "Canceled workflow")
    return 0


def _add_terminate(commands: Any) -> None:
    parser = _command(commands, "terminate", "end a run at once", _runner(_terminate))
    _execution_flags(parser)
    parser.add_argument("--reason", default="", help="why (recorded in history)")


async def _terminate(client: Client, args: argparse.Namespace, out: Printer) -> int:
    await client.get_workflow_handle(args.workflow_id, run_id=args.run_id).terminate(
        reason=args.reason or None
    )
    _done(out, "Workflow terminated")
    return 0


def _add_delete(commands: Any) -> None:
    parser = _command(
        commands, "delete", "delete a run and its history (not available yet)", _delete
    )
    _execution_flags(parser)


def _delete(args: argparse.Namespace) -> int:
    raise CommandError(
        "workflow delete is not supported: the client API has no delete operation yet "
        "(see docs/cli.md)"
    )
