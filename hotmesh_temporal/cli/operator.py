"""``hotmesh-temporal operator ...``: the temporal CLI's operator commands, as far as
a Postgres deployment has them.

Custom search attributes need no registration here (each run's attributes are stored
with it and their types come from the values). Namespaces and their retention go through
``client.workflow_service`` (register, describe, list and update namespace), as the
temporal CLI's do through Temporal's workflow service.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from hotmesh_temporal.api.namespace.v1 import UpdateNamespaceInfo
from hotmesh_temporal.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from hotmesh_temporal.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    ListNamespacesRequest,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)
from hotmesh_temporal.cli._common import (
    CommandError,
    Printer,
    add_connection_flags,
    close,
    compact_json,
    connect,
    parse_duration,
    printer,
)
from hotmesh_temporal.client import Client
from hotmesh_temporal.service import RPCError, RPCStatusCode

_SEARCH_ATTRIBUTE_TYPES = ["Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList"]


def add(subparsers: Any) -> None:
    group = subparsers.add_parser("operator", help="search attributes and namespaces")
    areas = group.add_subparsers(dest="operator_area", metavar="<area>")
    areas.required = True

    attributes = areas.add_parser("search-attribute", help="custom search attributes")
    commands = attributes.add_subparsers(dest="operator_command", metavar="<command>")
    commands.required = True
    create = _command(
        commands, "create", "register custom search attributes", _runner(_create_attribute)
    )
    create.add_argument("--name", action="append", required=True)
    create.add_argument("--type", action="append", choices=_SEARCH_ATTRIBUTE_TYPES)
    _command(commands, "list", "list search attributes", _runner(_list_attributes))
    remove = _command(
        commands, "remove", "unregister custom search attributes", _runner(_remove_attributes)
    )
    remove.add_argument("--name", action="append", required=True)

    namespaces = areas.add_parser("namespace", help="namespaces")
    commands = namespaces.add_subparsers(dest="operator_command", metavar="<command>")
    commands.required = True
    _command(commands, "list", "list registered namespaces", _runner(_list_namespaces))
    describe = _command(commands, "describe", "describe a namespace", _runner(_describe_namespace))
    describe.add_argument("namespace_name", nargs="?", help="namespace (default: -n)")
    create = _command(commands, "create", "register a namespace", _runner(_create_namespace))
    update = _command(commands, "update", "change a namespace", _runner(_update_namespace))
    for parser in (create, update):
        parser.add_argument("namespace_name", nargs="?", help="namespace (default: -n)")
        parser.add_argument(
            "--retention",
            type=parse_duration,
            help="how long closed runs are kept, e.g. 72h or 30d (at least the "
            "deployment's minimum, 24h unless lowered)",
        )
        parser.add_argument("--description", help="description")
        parser.add_argument("--email", help="owner email")
        parser.add_argument(
            "--data", action="append", metavar="KEY=VALUE", help="data entry (repeatable)"
        )


def _command(commands: Any, name: str, help: str, func: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help, description=help)
    add_connection_flags(parser)
    parser.set_defaults(func=func)
    return parser


def _runner(body: Any) -> Any:
    async def run(args: argparse.Namespace) -> int:
        client = await connect(args)
        try:
            return await body(client, args, printer(args))
        finally:
            await close(client)

    return run


def _not_served(err: RPCError) -> bool:
    return err.status == RPCStatusCode.UNIMPLEMENTED


async def _create_attribute(client: Client, args: argparse.Namespace, out: Printer) -> int:
    types = args.type or []
    if len(types) != len(args.name):
        raise CommandError("give one --type for each --name")
    request = AddSearchAttributesRequest(
        namespace=client.namespace,
        search_attributes={
            name: _SEARCH_ATTRIBUTE_TYPES.index(kind) + 1
            for name, kind in zip(args.name, types, strict=True)
        },
    )
    names = ", ".join(args.name)
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as err:
        if not _not_served(err):
            raise
        # A build without the registry: nothing to store (a run's attributes are kept
        # with it, typed by their values). Succeeds so that setup scripts keep working.
        print(
            "note: custom search attributes need no registration in hotmesh_temporal; "
            "their types come from the values written",
            file=sys.stderr,
        )
        _message(out, f"Search attributes ready: {names}")
        return 0
    _message(out, "Search attributes have been added")
    return 0


async def _list_attributes(client: Client, args: argparse.Namespace, out: Printer) -> int:
    request = ListSearchAttributesRequest(namespace=client.namespace)
    try:
        listed = await client.operator_service.list_search_attributes(request)
    except RPCError as err:
        if not _not_served(err):
            raise
        raise CommandError(
            "operator search-attribute list is not supported: this version keeps no "
            "search-attribute registry (custom ones need no registration; see docs/cli.md)"
        ) from None
    rows = [
        (name, _SEARCH_ATTRIBUTE_TYPES[kind - 1])
        for attributes in (listed.system_attributes, listed.custom_attributes)
        for name, kind in sorted(attributes.items())
    ]
    if out.is_table:
        out.table(["Name", "Type"], rows)
    else:
        out.json_list([{"name": name, "type": kind} for name, kind in rows])
    return 0


async def _remove_attributes(client: Client, args: argparse.Namespace, out: Printer) -> int:
    request = RemoveSearchAttributesRequest(
        namespace=client.namespace, search_attributes=list(args.name)
    )
    try:
        await client.operator_service.remove_search_attributes(request)
    except RPCError as err:
        if not _not_served(err):
            raise
        raise CommandError(
            "operator search-attribute remove is not supported: this version keeps no "
            "search-attribute registry (see docs/cli.md)"
        ) from None
    _message(out, "Search attributes have been removed")
    return 0


# ------------------------------------------------------------------ namespaces


def _namespace_name(client: Client, args: argparse.Namespace) -> str:
    return args.namespace_name or client.namespace


def _data(items: list[str] | None) -> dict[str, str]:
    data = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--data {item!r}: expected KEY=VALUE")
        data[key] = value
    return data


def _namespace_json(described: Any) -> dict[str, Any]:
    info, config = described.namespace_info, described.config
    return {
        "namespaceInfo": {
            "name": info.name,
            "state": "Registered",
            "description": info.description,
            "ownerEmail": info.owner_email,
            "data": dict(info.data),
        },
        "config": {
            "workflowExecutionRetentionTtl": f"{int(config.workflow_execution_retention_ttl.ToTimedelta().total_seconds())}s"
        },
    }


def _go_duration(value: timedelta) -> str:
    """A retention as the temporal CLI prints it (Go's duration format: 72h0m0s)."""
    seconds = int(value.total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60}m{seconds % 60}s"


def _print_namespace(out: Printer, described: Any) -> None:
    if not out.is_table:
        out.json(_namespace_json(described))
        return
    info = described.namespace_info
    retention = described.config.workflow_execution_retention_ttl.ToTimedelta()
    out.card(
        [
            ("NamespaceInfo.Name", info.name),
            ("NamespaceInfo.State", "Registered"),
            ("NamespaceInfo.Description", info.description),
            ("NamespaceInfo.OwnerEmail", info.owner_email),
            ("NamespaceInfo.Data", compact_json(dict(info.data)) if info.data else ""),
            ("Config.WorkflowExecutionRetentionTtl", _go_duration(retention)),
        ]
    )


async def _list_namespaces(client: Client, args: argparse.Namespace, out: Printer) -> int:
    listed = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    if out.is_table:
        for described in listed.namespaces:
            _print_namespace(out, described)
            out.line()
    else:
        out.json_list([_namespace_json(d) for d in listed.namespaces])
    return 0


async def _describe_namespace(client: Client, args: argparse.Namespace, out: Printer) -> int:
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=_namespace_name(client, args))
    )
    _print_namespace(out, described)
    return 0


async def _create_namespace(client: Client, args: argparse.Namespace, out: Printer) -> int:
    name = _namespace_name(client, args)
    request = RegisterNamespaceRequest(
        namespace=name,
        description=args.description or "",
        owner_email=args.email or "",
        data=_data(args.data),
    )
    if args.retention is not None:
        request.workflow_execution_retention_period.FromTimedelta(args.retention)
    await client.workflow_service.register_namespace(request)
    _message(out, f"Namespace {name} successfully registered.")
    return 0


async def _update_namespace(client: Client, args: argparse.Namespace, out: Printer) -> int:
    name = _namespace_name(client, args)
    request = UpdateNamespaceRequest(namespace=name)
    request.update_info.CopyFrom(
        UpdateNamespaceInfo(
            description=args.description or "",
            owner_email=args.email or "",
            data=_data(args.data),
        )
    )
    if args.retention is not None:
        request.config.workflow_execution_retention_ttl.FromTimedelta(args.retention)
    await client.workflow_service.update_namespace(request)
    _message(out, f"Namespace {name} update succeeded.")
    return 0


def _message(out: Printer, message: str) -> None:
    if out.is_table:
        out.line(message)
    else:
        out.json({"message": message})
