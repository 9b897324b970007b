"""``hotmesh-temporal activity complete|fail``: finish an asynchronously completed
activity by workflow id and activity id, as the temporal CLI does."""

from __future__ import annotations

import argparse
from typing import Any

from hotmesh_temporal.cli._common import (
    add_connection_flags,
    close,
    connect,
    parse_json_inputs,
    printer,
)
from hotmesh_temporal.exceptions import ApplicationError


def add(subparsers: Any) -> None:
    group = subparsers.add_parser("activity", help="complete or fail activities")
    commands = group.add_subparsers(dest="activity_command", metavar="<command>")
    commands.required = True
    complete = _command(commands, "complete", "complete an activity with a result", _complete)
    complete.add_argument("--result", required=True, help="the result, as JSON")
    fail = _command(commands, "fail", "fail an activity", _fail)
    fail.add_argument("--reason", default="", help="the failure's message")
    fail.add_argument("--detail", help="failure details, as JSON")


def _command(commands: Any, name: str, help: str, func: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help, description=help)
    add_connection_flags(parser)
    parser.add_argument("-a", "--activity-id", required=True, help="activity id")
    parser.add_argument("-w", "--workflow-id", required=True, help="workflow id")
    parser.add_argument("-r", "--run-id", help="run id (default: the latest run)")
    parser.set_defaults(func=func)
    return parser


async def _complete(args: argparse.Namespace) -> int:
    (result,) = parse_json_inputs([args.result], "--result")
    client = await connect(args)
    try:
        handle = client.get_async_activity_handle(
            workflow_id=args.workflow_id, run_id=args.run_id, activity_id=args.activity_id
        )
        await handle.complete(result)
    finally:
        await close(client)
    _print(args, f"Activity {args.activity_id} completed")
    return 0


async def _fail(args: argparse.Namespace) -> int:
    details = parse_json_inputs([args.detail], "--detail") if args.detail else []
    client = await connect(args)
    try:
        handle = client.get_async_activity_handle(
            workflow_id=args.workflow_id, run_id=args.run_id, activity_id=args.activity_id
        )
        await handle.fail(ApplicationError(args.reason or "failed by the command line", *details))
    finally:
        await close(client)
    _print(args, f"Activity {args.activity_id} failed")
    return 0


def _print(args: argparse.Namespace, message: str) -> None:
    out = printer(args)
    if out.is_table:
        out.line(message)
    else:
        out.json({"message": message})
