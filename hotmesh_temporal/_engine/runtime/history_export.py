"""History as Temporal's ``HistoryEvent`` messages: our stored rows ({id, type, time,
attrs}) to ``hotmesh_temporal.api.history.v1.HistoryEvent`` and back, and JSON parsing
that accepts both current exports (``temporal workflow show --output json``, the web
UI, ``WorkflowHistory.to_json``) and older ones whose enum values are PascalCase
(``"eventType": "WorkflowExecutionStarted"``, ``"kind": "Normal"``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal.api._message import ENUM, MAP, MESSAGE, REPEATED, Message
from hotmesh_temporal.api.history.v1 import History, HistoryEvent

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def rows_to_events(rows: Iterable[Mapping[str, Any]]) -> list[HistoryEvent]:
    """Stored events -> HistoryEvent messages (unknown attribute keys are an error:
    everything we store must be expressible in Temporal's model)."""
    return [_row_to_event(row) for row in rows]


def _row_to_event(row: Mapping[str, Any]) -> HistoryEvent:
    try:
        return HistoryEvent.from_json_dict(h.row_to_json(row))
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"stored event {row.get('id')} ({row.get('type')}) does not fit Temporal's "
            f"event model: {err}"
        ) from err


def events_to_rows(events: Iterable[HistoryEvent]) -> list[dict[str, Any]]:
    """HistoryEvent messages -> the {id, type, time, attrs} rows the replayer reads."""
    rows = []
    for event in events:
        row = h.json_to_row(event.to_json_dict())
        row["attrs"] = row["attrs"] or {}
        rows.append(row)
    return rows


def parse_history(history: str | Mapping[str, Any]) -> History:
    """Parse a JSON history (text or dict); unknown fields are ignored, as temporalio
    does, so exports from newer servers still load."""
    obj = json.loads(history) if isinstance(history, str) else copy.deepcopy(dict(history))
    if not isinstance(obj, dict):
        raise ValueError("JSON history not a dictionary")
    events = obj.get("events")
    if not isinstance(events, list):
        raise ValueError("History does not have iterable 'events'")
    for event in events:
        if not isinstance(event, dict):
            raise ValueError("Event not a dictionary")
        _upgrade_enums(event, HistoryEvent)
    return History.from_json_dict(obj, ignore_unknown_fields=True)


def _upgrade_enums(obj: dict[str, Any], cls: type) -> None:
    """Rewrite PascalCase enum values of older exports to their proto names, walking
    the JSON alongside the message class that will parse it."""
    for key, value in obj.items():
        field = cls._by_json.get(key) or cls._by_name.get(key)  # type: ignore[attr-defined]
        if field is None or value is None:
            continue
        if field.kind == ENUM:
            obj[key] = _enum_name(value, field.enum_names)
        elif field.kind == REPEATED and field.elem == ENUM:
            obj[key] = [_enum_name(v, field.enum_names) for v in value]
        elif field.kind == MESSAGE and isinstance(value, dict) and _is_plain(field.elem):
            _upgrade_enums(value, field.elem)
        elif field.kind == REPEATED and field.elem_is_message and _is_plain(field.elem):
            for item in value:
                if isinstance(item, dict):
                    _upgrade_enums(item, field.elem)
        elif field.kind == MAP and field.elem_is_message and _is_plain(field.elem):
            for item in value.values():
                if isinstance(item, dict):
                    _upgrade_enums(item, field.elem)


def _is_plain(cls: type) -> bool:
    # Well-known types (Duration, Timestamp) have their own JSON form: leave them be.
    return issubclass(cls, Message) and not cls._full_name.startswith("google.protobuf.")


def _enum_name(value: Any, names: Mapping[int, str]) -> Any:
    if not isinstance(value, str) or value in names.values():
        return value
    prefix = _common_prefix(list(names.values()))
    candidate = prefix + _CAMEL_BOUNDARY.sub("_", value).upper()
    return candidate if candidate in names.values() else value


def _common_prefix(names: list[str]) -> str:
    """'EVENT_TYPE_' for EventType's names (UNSPECIFIED shares it too)."""
    first = names[0]
    cut = first.rfind("_UNSPECIFIED")
    return first[: cut + 1] if cut > 0 else ""
