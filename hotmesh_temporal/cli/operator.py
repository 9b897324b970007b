"""``hotmesh-temporal operator ...``: the temporal CLI's operator commands, as far as
a Postgres deployment has them.

Custom search attributes need no registration here (each run's attributes are stored
with it and their types come from the values). Namespaces and their retention exist in
the database, but the client API has no call to read them yet, and the command line is
built on that API only: ``list`` and ``describe`` say so instead of reaching past it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hotmesh_temporal.cli._common import CommandError, add_connection_flags, printer

_SEARCH_ATTRIBUTE_TYPES = ["Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList"]


def add(subparsers: Any) -> None:
    group = subparsers.add_parser("operator", help="search attributes and namespaces")
    areas = group.add_subparsers(dest="operator_area", metavar="<area>")
    areas.required = True

    attributes = areas.add_parser("search-attribute", help="custom search attributes")
    commands = attributes.add_subparsers(dest="operator_command", metavar="<command>")
    commands.required = True
    create = _command(commands, "create", "declare custom search attributes", _create_attribute)
    create.add_argument("--name", action="append", required=True)
    create.add_argument("--type", action="append", choices=_SEARCH_ATTRIBUTE_TYPES)
    _command(
        commands,
        "list",
        "list search attributes",
        _unsupported(
            "operator search-attribute list is not supported: the client API has no call that "
            "lists search attributes (custom ones need no registration; see docs/cli.md)"
        ),
    )

    namespaces = areas.add_parser("namespace", help="namespaces")
    commands = namespaces.add_subparsers(dest="operator_command", metavar="<command>")
    commands.required = True
    message = (
        "operator namespace {} is not supported: the client API has no namespace calls yet "
        "(retention is set per namespace in SQL; see docs/operations.md)"
    )
    _command(commands, "list", "list namespaces", _unsupported(message.format("list")))
    describe = _command(
        commands, "describe", "describe a namespace", _unsupported(message.format("describe"))
    )
    describe.add_argument("namespace_name", nargs="?")


def _command(commands: Any, name: str, help: str, func: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help, description=help)
    add_connection_flags(parser)
    parser.set_defaults(func=func)
    return parser


def _unsupported(message: str) -> Any:
    def fail(_args: argparse.Namespace) -> int:
        raise CommandError(message)

    return fail


def _create_attribute(args: argparse.Namespace) -> int:
    """Nothing to store: a run's search attributes are kept with the run, typed by their
    values. Succeeds so that setup scripts written for Temporal keep working, and says why."""
    print(
        "note: custom search attributes need no registration in hotmesh_temporal; "
        "their types come from the values written",
        file=sys.stderr,
    )
    out = printer(args)
    names = ", ".join(args.name)
    if out.is_table:
        out.line(f"Search attributes ready: {names}")
    else:
        out.json({"message": f"Search attributes ready: {names}", "registered": False})
    return 0
