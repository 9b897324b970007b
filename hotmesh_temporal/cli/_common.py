"""What every operator command shares: the connection flags, output formats (table,
json, jsonl), the data converter (with a user codec), value rendering and error lines.

Commands use only the public client API (``hotmesh_temporal.client``): the command
line is one more client of the database, never a second path to its tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hotmesh_temporal.client import Client, WorkflowExecution, WorkflowExecutionStatus
from hotmesh_temporal.converter import DataConverter, PayloadCodec

DSN_ENV = "HOTMESH_DSN"
# What Client.connect is given when neither --dsn nor --address nor $HOTMESH_DSN is set:
# a Temporal-style address, which it resolves to the local or embedded Postgres.
DEFAULT_TARGET = "localhost:7233"
OUTPUT_FORMATS = ("table", "json", "jsonl")

# Exit codes: 0 success, 1 the operation failed (unknown id, bad filter, workflow failed,
# database unreachable), 2 the command line itself is wrong (argparse's own code).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """An error to print as one ``Error: ...`` line, with its exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every client command takes (Temporal's names where they exist)."""
    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--dsn",
        "--address",
        dest="dsn",
        default=os.environ.get(DSN_ENV),
        help="postgresql:// URL of the database, or a Temporal-style host:port resolved "
        "as Client.connect does (default: $HOTMESH_DSN, else localhost:7233)",
    )
    group.add_argument(
        "-n",
        "--namespace",
        default=os.environ.get("TEMPORAL_NAMESPACE", "default"),
        help="namespace (default: default)",
    )
    group.add_argument(
        "-o", "--output", choices=OUTPUT_FORMATS, default="table", help="output format"
    )
    group.add_argument(
        "--codec",
        metavar="MODULE:OBJECT",
        help="a PayloadCodec or DataConverter to decode and encode payloads with "
        "(an instance, or a class built without arguments)",
    )


def load_data_converter(spec: str | None) -> DataConverter:
    """The default converter, or the one ``--codec module:object`` names."""
    if not spec:
        return DataConverter.default
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CommandError(f"--codec {spec!r}: expected MODULE:OBJECT", EXIT_USAGE)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise CommandError(f"--codec {spec!r}: {err}", EXIT_USAGE) from err
    if isinstance(obj, type):
        obj = obj()
    if isinstance(obj, DataConverter):
        return obj
    if isinstance(obj, PayloadCodec):
        return dataclasses.replace(DataConverter.default, payload_codec=obj)
    raise CommandError(f"--codec {spec!r}: not a PayloadCodec or DataConverter", EXIT_USAGE)


async def connect(args: argparse.Namespace) -> Client:
    """A client for the flags' database and namespace."""
    return await Client.connect(
        args.dsn or DEFAULT_TARGET,
        namespace=args.namespace,
        data_converter=load_data_converter(args.codec),
        identity="hotmesh-temporal-cli",
    )


async def close(client: Client) -> None:
    await client.service_client.close()


# ------------------------------------------------------------------ values


def parse_json_inputs(texts: Sequence[str] | None, flag: str = "--input") -> list[Any]:
    """Each ``--input`` as a JSON value (one workflow argument each)."""
    values = []
    for text in texts or []:
        try:
            values.append(json.loads(text))
        except json.JSONDecodeError as err:
            raise CommandError(f"{flag} {text!r} is not JSON: {err.msg}", EXIT_USAGE) from err
    return values


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d``, ``1h30m`` or plain seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    total, number = 0.0, ""
    rest = text.strip()
    if rest.replace(".", "", 1).isdigit():
        return timedelta(seconds=float(rest))
    i = 0
    while i < len(rest):
        ch = rest[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if rest.startswith("ms", i) else ch
        if unit not in units or not number:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 90s, 15m, 1h30m)")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: a number without a unit")
    return timedelta(seconds=total)


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp (naive means UTC)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid timestamp {text!r} (RFC 3339)") from err
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def to_json_value(value: Any) -> Any:
    """A decoded payload value made JSON-ready (dataclasses as dicts, times as text)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json_value(dataclasses.asdict(value))
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def compact_json(value: Any) -> str:
    return json.dumps(to_json_value(value), separators=(",", ":"))


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def relative_time(value: datetime | None, now: datetime | None = None) -> str:
    """``now``, ``5 seconds ago``, ``3 minutes from now``: the CLI table's times."""
    if value is None:
        return ""
    now = now or datetime.now(timezone.utc)
    seconds = (now - value).total_seconds()
    suffix = "ago" if seconds >= 0 else "from now"
    seconds = abs(seconds)
    if seconds < 1:
        return "now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} {suffix}"
    return "now"


def status_name(status: WorkflowExecutionStatus | None) -> str:
    """Temporal's display name of a status: ``Running``, ``ContinuedAsNew``..."""
    if status is None:
        return "Unspecified"
    return "".join(part.capitalize() for part in status.name.split("_"))


def status_enum(status: WorkflowExecutionStatus | None) -> str:
    """Temporal's JSON name of a status: ``WORKFLOW_EXECUTION_STATUS_RUNNING``."""
    return f"WORKFLOW_EXECUTION_STATUS_{status.name if status else 'UNSPECIFIED'}"


def execution_json(execution: WorkflowExecution) -> dict[str, Any]:
    """A listed run as Temporal's WorkflowExecutionInfo JSON (the CLI's list output)."""
    info = execution.raw_info
    doc: dict[str, Any] = {
        "execution": {"workflowId": execution.id, "runId": execution.run_id},
        "type": {"name": execution.workflow_type},
        "startTime": rfc3339(execution.start_time),
        "status": status_enum(execution.status),
        "historyLength": str(execution.history_length),
    }
    if execution.close_time is not None:
        doc["closeTime"] = rfc3339(execution.close_time)
    if execution.execution_time is not None:
        doc["executionTime"] = rfc3339(execution.execution_time)
    doc["memo"] = _message_json(info.memo)
    doc["searchAttributes"] = _message_json(info.search_attributes)
    doc["taskQueue"] = execution.task_queue
    if execution.parent_id:
        doc["parentExecution"] = {
            "workflowId": execution.parent_id,
            "runId": execution.parent_run_id,
        }
    if execution.root_id:
        doc["rootExecution"] = {"workflowId": execution.root_id, "runId": execution.root_run_id}
    return doc


def _message_json(message: Any) -> Any:
    if message is None:
        return {}
    return message.to_json_dict() if hasattr(message, "to_json_dict") else {}


# ------------------------------------------------------------------ output


@dataclass
class Printer:
    """Writes one command's output in the chosen format."""

    format: str
    out: Any = None

    def __post_init__(self) -> None:
        self.out = self.out or sys.stdout

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Columns as the temporal CLI prints them: two-space indent and gaps."""
        cells = [[str(c) if c is not None else "" for c in row] for row in rows]
        widths = [len(h) for h in headers]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        for row in [list(headers), *cells]:
            self.line(
                ("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip()
            )

    def card(self, pairs: Sequence[tuple[str, Any]], indent: str = "  ") -> None:
        """Name/value lines, as the CLI's describe output."""
        width = max((len(k) for k, _ in pairs), default=0)
        for key, value in pairs:
            text = "" if value is None else str(value)
            self.line(f"{indent}{key.ljust(width)}  {text}".rstrip())

    def json(self, value: Any) -> None:
        """One document: indented for json, one line for jsonl."""
        if self.format == "jsonl":
            self.line(json.dumps(value, separators=(",", ":")))
        else:
            self.line(json.dumps(value, indent=2))

    def json_list(self, values: Sequence[Any]) -> None:
        """Many documents: a JSON array for json, one per line for jsonl."""
        if self.format == "jsonl":
            for value in values:
                self.json(value)
        else:
            self.line(json.dumps(list(values), indent=2))

    @property
    def is_table(self) -> bool:
        return self.format == "table"


def printer(args: argparse.Namespace) -> Printer:
    return Printer(getattr(args, "output", "table") or "table")


def progress(message: str) -> None:
    """A progress line for long operations, on stderr and only for a terminal."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{message}")
        sys.stderr.flush()
