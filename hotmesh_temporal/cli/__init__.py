"""The command line: ``hotmesh-temporal <group> <command> ...`` (also
``python -m hotmesh_temporal``), with the ``temporal`` CLI's command names, flags and
output shapes: ``workflow``, ``schedule``, ``activity``, ``operator``, plus ``migrate``
and ``ui``.

Each group lives in its own module with an ``add(subparsers)`` function; a command's
``func`` takes the parsed arguments and returns an exit code, or a coroutine that
returns one. Errors become one ``Error: ...`` line on stderr and exit code 1 (2 for a
wrong command line).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from hotmesh_temporal.cli import activity, migrate, operator, schedule, ui, workflow
from hotmesh_temporal.cli._common import EXIT_FAILED, CommandError
from hotmesh_temporal.client import WorkflowFailureError

GROUPS: list[Callable[[Any], None]] = [
    workflow.add,
    schedule.add,
    activity.add,
    operator.add,
    migrate.add,
    ui.add,
]


def _version() -> str:
    try:
        return version("hotmesh-temporal")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotmesh-temporal",
        description="hotmesh_temporal: durable workflows on Postgres. Operator commands "
        "named like the temporal CLI's.",
    )
    parser.add_argument("--version", action="version", version=f"hotmesh-temporal {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    subparsers.required = True
    for add in GROUPS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        result = args.func(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except CommandError as err:
        print(f"Error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 (every failure is one line, not a traceback)
        if args.verbose:
            logging.exception("command failed")
        print(f"Error: {_describe(err)}", file=sys.stderr)
        return EXIT_FAILED
    return int(result or 0)


def _describe(err: BaseException) -> str:
    """One line for an error: its message, and its cause's when it wraps one (a failed
    workflow or update)."""

    text = " ".join((str(err) or type(err).__name__).split())
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException):
        inner = " ".join(str(cause).split())
        if isinstance(err, WorkflowFailureError):
            text = "workflow failed"
        text = f"{text}: {type(cause).__name__}: {inner}"
    return text


__all__ = ["build_parser", "main"]
