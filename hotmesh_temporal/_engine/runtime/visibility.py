"""Memo and search attributes between Python values, payload JSON and execution rows,
and the objects list_workflows() / describe() build from rows.

Search attributes travel as Temporal payloads with ``type`` metadata (``Keyword``,
``Int``, ``Datetime``, ``KeywordList``...), as a Temporal server hands them back. The
deprecated dict form carries no type, so its type is guessed from the values the way
temporalio does for ``typed_search_attributes``; the database decodes the payloads
into ``executions.search_values`` for filtering (schema/0004_visibility.sql).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hotmesh_temporal import common as temporal_common
from hotmesh_temporal import converter as temporal_converter
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime.list_filter import BUILTIN_FIELDS
from hotmesh_temporal.api.common.v1 import (
    ActivityType,
    Memo,
    Payload,
    Payloads,
    SearchAttributes,
    WorkflowExecution,
    WorkflowType,
)
from hotmesh_temporal.api.history.v1 import Sdk_UserMetadata

# ------------------------------------------------------------- encoding


def encode_search_attributes(attributes: Any) -> dict[str, Payload]:
    """Typed (``TypedSearchAttributes`` or a sequence of ``SearchAttributeUpdate``) or
    deprecated ``{name: [values]}`` search attributes as ``{name: Payload}``.

    An update's ``value_unset()`` and the deprecated form's empty list become
    Temporal's removal payloads."""
    if not attributes:
        return {}
    if isinstance(attributes, Mapping):
        return {name: _encode_untyped(name, values) for name, values in attributes.items()}
    encode = temporal_converter.encode_typed_search_attribute_value
    out: dict[str, Payload] = {}
    typed = (temporal_common.SearchAttributePair, temporal_common.SearchAttributeUpdate)
    for item in attributes:
        if not isinstance(item, typed):
            raise TypeError(f"not a search attribute pair or update: {item!r}")
        out[item.key.name] = encode(item.key, item.value)
    return out


def reserved_names(payloads: Mapping[str, Payload]) -> list[str]:
    """Names that are built-in list-filter fields (WorkflowId, StartTime...): Temporal
    refuses them as custom search attributes, and a filter could never reach them."""

    builtin = {name.lower() for name in BUILTIN_FIELDS}
    return [name for name in payloads if name.lower() in builtin]


def _encode_untyped(name: str, values: Any) -> Payload:
    payload = temporal_converter.encode_search_attribute_values(values)
    key = (
        temporal_common.SearchAttributeKey._guess_from_untyped_values(name, values)
        if values
        else None
    )
    if key is not None:
        payload.metadata["type"] = key._metadata_type.encode()
    return payload


def payload_json(payloads: Mapping[str, Payload]) -> dict[str, Any] | None:
    return h.payload_map(payloads)


# ------------------------------------------------------------- decoding


def search_attributes_message(raw: Mapping[str, Any] | None) -> SearchAttributes:
    message = SearchAttributes()
    _fill(message.indexed_fields, raw)
    return message


def memo_message(raw: Mapping[str, Any] | None) -> Memo:
    message = Memo()
    _fill(message.fields, raw)
    return message


def _fill(payload_map: Any, raw: Mapping[str, Any] | None) -> None:
    """Copy a {name: payload JSON} column into a message's payload map."""
    for name, payload in (raw or {}).items():
        payload_map[name].CopyFrom(Payload.from_json_dict(payload))


def decode_both(
    raw: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], temporal_common.TypedSearchAttributes]:
    """The deprecated dict view and the typed view of a row's search attributes."""
    message = search_attributes_message(raw)
    return (
        dict(temporal_converter.decode_search_attributes(message)),
        temporal_converter.decode_typed_search_attributes(message),
    )


def apply_updates(
    legacy: Mapping[str, Any],
    typed: temporal_common.TypedSearchAttributes,
    encoded: Mapping[str, Payload],
) -> tuple[dict[str, Any], temporal_common.TypedSearchAttributes]:
    """Both views of workflow.info() after an upsert of ``encoded`` payloads: a removal
    (null payload or empty list) drops the attribute from the typed view and leaves an
    empty list in the dict view, as temporalio does."""
    merged_legacy = dict(legacy)
    pairs = {pair.key.name: pair for pair in typed}
    changed_legacy, changed_typed = decode_both(payload_json(encoded))
    for name, payload in encoded.items():
        pairs.pop(name, None)
        merged_legacy[name] = [] if is_unset(payload) else changed_legacy.get(name, [])
    for pair in changed_typed:
        pairs[pair.key.name] = pair
    return merged_legacy, temporal_common.TypedSearchAttributes(list(pairs.values()))


def is_unset(payload: Payload) -> bool:
    """A payload that removes an attribute on upsert (see is_unset_payload in SQL)."""
    encoding = payload.metadata.get("encoding", b"")
    return encoding == b"binary/null" or (
        encoding == b"json/plain" and payload.data.strip() in (b"[]", b"null")
    )


# ------------------------------------------------------------- rows -> objects


class RawView(SimpleNamespace):
    """A read-only stand-in for a protobuf response: the same field names, and
    ``HasField`` for the optional ones."""

    def HasField(self, name: str) -> bool:  # noqa: N802 (protobuf's name)
        if not hasattr(self, name):
            raise ValueError(f"no field named {name!r}")
        return getattr(self, name) is not None


def raw_info(row: Mapping[str, Any]) -> RawView:
    """A WorkflowExecutionInfo lookalike: the same field names, with the api messages
    for execution, type, memo and search attributes and datetimes for times."""
    parent = row["parent"] or {}
    parent_execution = (
        WorkflowExecution(
            workflow_id=parent.get("workflow_id", ""), run_id=parent.get("run_id", "")
        )
        if parent
        else None
    )
    execution = WorkflowExecution(workflow_id=row["workflow_id"], run_id=str(row["run_id"]))
    return RawView(
        execution=execution,
        type=WorkflowType(name=row["workflow_type"]),
        start_time=row["start_time"],
        close_time=row["close_time"],
        status=int(row["status"]),
        history_length=int(row["next_event_id"]) - 1,
        history_size_bytes=int(row["history_size"]),
        parent_namespace_id=parent.get("namespace", "") if parent else "",
        parent_execution=parent_execution,
        execution_time=row["execution_time"],
        memo=memo_message(row["memo"]),
        search_attributes=search_attributes_message(row["search_attributes"]),
        task_queue=row["task_queue"],
        first_run_id=str(row["first_execution_run_id"]),
        root_execution=_root_execution(parent, parent_execution, execution),
    )


def _root_execution(
    parent: Mapping[str, Any], parent_execution: Any, execution: WorkflowExecution
) -> WorkflowExecution:
    """The top of the run's chain of parents (the run itself for a top-level run)."""
    root = parent.get("root") if parent else None
    if root:
        return WorkflowExecution(
            workflow_id=root.get("workflowId", ""), run_id=root.get("runId", "")
        )
    return parent_execution or execution


# Temporal's PendingActivityState values.
PENDING_ACTIVITY_STATE_SCHEDULED = 1
PENDING_ACTIVITY_STATE_STARTED = 2
PENDING_ACTIVITY_STATE_CANCEL_REQUESTED = 3


def pending_activity(row: Mapping[str, Any]) -> RawView:
    """A PendingActivityInfo lookalike for one activity_tasks row."""
    if row["cancel_requested"]:
        state = PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
    elif row["leased_by"] is not None:
        state = PENDING_ACTIVITY_STATE_STARTED
    else:
        state = PENDING_ACTIVITY_STATE_SCHEDULED
    retry = row["retry_policy"] or {}
    details = Payloads()
    for payload in h.parse_payloads(row["heartbeat_details"]):
        details.payloads.append(payload)
    return RawView(
        activity_id=row["activity_id"],
        activity_type=ActivityType(name=row["activity_type"]),
        state=state,
        attempt=int(row["attempt"]),
        maximum_attempts=int(retry.get("maximum_attempts") or 0),
        scheduled_time=row["attempt_scheduled_time"],
        last_started_time=row["started_time"],
        last_heartbeat_time=row["last_heartbeat"],
        heartbeat_details=details,
        last_failure=h.parse_failure(row["last_failure"]),
        last_worker_identity=row["leased_by"] or "",
        expiration_time=_expiration(row),
    )


def _expiration(row: Mapping[str, Any]) -> datetime | None:
    """When the activity's schedule-to-close budget runs out, if it has one."""
    budget = row["schedule_to_close"]
    return None if budget is None else row["scheduled_time"] + timedelta(seconds=budget)


def describe_response(row: Mapping[str, Any], activities: Any, info: RawView) -> RawView:
    """A DescribeWorkflowExecutionResponse lookalike."""
    return RawView(
        workflow_execution_info=info,
        pending_activities=[pending_activity(a) for a in activities],
        pending_children=[],
        execution_config=RawView(
            task_queue=RawView(name=row["task_queue"]),
            workflow_task_timeout=row["task_timeout"],
            user_metadata=user_metadata_message(row.get("user_metadata")),
        ),
    )


# ------------------------------------------------------------- user metadata

_METADATA_KEYS = ("summary", "details")


async def encode_user_metadata(
    data_converter: Any, summary: str | Payload | None, details: str | Payload | None
) -> dict[str, Any] | None:
    """A start's static summary and details as Temporal's sdk.v1.UserMetadata JSON,
    each encoded by the whole data converter (codec included), as temporalio does; a
    value that is already a Payload is kept. None when both are None."""
    out: dict[str, Any] = {}
    for key, value in zip(_METADATA_KEYS, (summary, details), strict=True):
        if value is None:
            continue
        if not isinstance(value, Payload):
            value = (await data_converter.encode([value]))[0]
        out[key] = value.to_json_dict()
    return out or None


def user_metadata_message(doc: Mapping[str, Any] | None) -> Any:
    """The sdk.v1.UserMetadata message of stored user metadata (None when absent)."""

    return Sdk_UserMetadata.from_json_dict(dict(doc)) if doc else None


async def decode_user_metadata(data_converter: Any, message: Any) -> tuple[Any, Any]:
    """(summary, details) of an sdk.v1.UserMetadata message, decoded."""
    if message is None:
        return None, None
    decoded = []
    for key in _METADATA_KEYS:
        has = message.HasField(key)
        decoded.append((await data_converter.decode([getattr(message, key)]))[0] if has else None)
    return decoded[0], decoded[1]


# ------------------------------------------------------------- page tokens


def page_token(last: Sequence[Any]) -> bytes:
    """An opaque next_page_token: the sort values of the page's last row."""
    values = [v.isoformat() if isinstance(v, datetime) else v for v in last]
    values = [str(v) if isinstance(v, uuid.UUID) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps({"after": values}).encode())


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "timestamptz": datetime.fromisoformat,
    "uuid": uuid.UUID,
    "smallint": int,
    "bigint": int,
    "text": str,
    "jsonb": lambda v: v,
}


def page_after(token: bytes | None, casts: Sequence[str]) -> list[Any] | None:
    """The sort values a next_page_token holds, typed for ``casts``; a token that this
    query's pages did not make is an error."""
    if not token:
        return None
    try:
        if len(token) > MAX_PAGE_TOKEN_BYTES:
            raise ValueError("too long")
        values = json.loads(base64.urlsafe_b64decode(token))["after"]
        if not isinstance(values, list) or len(values) != len(casts):
            raise ValueError("wrong length")
        return [None if v is None else _decoded(v, c) for v, c in zip(values, casts, strict=True)]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        # A crafted token: refused whatever it holds, before any SQL.
        raise ValueError("invalid next_page_token for this query") from err


MAX_PAGE_TOKEN_BYTES = 16 * 1024
_INT_RANGES = {"smallint": range(-(2**15), 2**15), "bigint": range(-(2**63), 2**63)}


def _decoded(value: Any, cast: str) -> Any:
    """One sort value of a token, of the type its column has (else ValueError)."""
    if cast in _INT_RANGES:
        if type(value) is not int or value not in _INT_RANGES[cast]:
            raise ValueError(f"not a {cast}")
        return value
    if cast == "jsonb":  # a custom search attribute's value: a scalar or a flat list
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, (dict, list)) for item in items):
            raise ValueError("not a search attribute value")
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a {cast}")
    return _DECODERS[cast](value)
