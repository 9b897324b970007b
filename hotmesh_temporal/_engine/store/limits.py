"""Temporal's limits, per deployment (table ``limits``, schema 0001), and the checks
that keep every string the engine sends to Postgres valid there.

The defaults are the Temporal server's dynamic-config defaults; the error texts are
the server's, so code that matches on them keeps working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Limits:
    blob_size_warn: int = 512 * 1024
    blob_size_error: int = 2 * 1024 * 1024
    history_count_warn: int = 10240
    history_count_error: int = 51200
    history_count_suggest_can: int = 4096
    history_size_warn: int = 10 * 1024 * 1024
    history_size_error: int = 50 * 1024 * 1024
    history_size_suggest_can: int = 4 * 1024 * 1024
    max_id_length: int = 1000
    memo_size_warn: int = 2 * 1024
    memo_size_error: int = 2 * 1024 * 1024

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Limits:
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in row.items() if k in names})


class InvalidStringError(ValueError):
    """A string Postgres cannot store (NUL, lone surrogate) or longer than allowed.
    Raised before any SQL; clients turn it into RPCError(INVALID_ARGUMENT)."""


# Postgres text and jsonb hold no NUL character, and UTF-8 has no lone surrogates.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(value: str) -> str | None:
    """Why Postgres cannot store ``value``, or None."""
    if value.isascii():
        return "contains a NUL character" if "\x00" in value else None
    match = _UNSTORABLE.search(value)
    if match is None:
        return None
    if match.group() == "\x00":
        return "contains a NUL character"
    return f"contains a lone surrogate (U+{ord(match.group()):04X}), not valid UTF-8"


def check_storable(value: Any, where: str = "argument") -> None:
    """Refuse a value (str, or JSON-like nesting of them) holding an unstorable string,
    in a key or a value."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            problem = unstorable(item)
            if problem is not None:
                raise InvalidStringError(f"{where} {problem}")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


# The server's words when an id or name is too long (Go's len: UTF-8 bytes).
_TOO_LONG = {
    "WorkflowId": "WorkflowId exceeds maximum allowed length ({length}/{limit})",
    "TaskQueue": "taskQueue length exceeds limit",
    "WorkflowType": "WorkflowType length exceeds limit.",
    "SignalName": "SignalName length exceeds limit.",
    "UpdateId": "UpdateId exceeds maximum allowed length ({length}/{limit})",
    "RequestId": "RequestId exceeds maximum allowed length ({length}/{limit})",
    "ActivityId": "ActivityId exceeds maximum allowed length ({length}/{limit})",
    "ActivityType": "ActivityType length exceeds limit.",
    "ScheduleId": "ScheduleId exceeds maximum allowed length ({length}/{limit})",
}


def make_storable(value: Any) -> Any:
    """``value`` (JSON-like) with every character Postgres cannot store (NUL, lone
    surrogates) replaced by U+FFFD: for text a worker produces (failure messages,
    stack traces), which must reach the database rather than fail the task forever.
    Returns ``value`` itself when nothing needed replacing."""
    if isinstance(value, str):
        return value if unstorable(value) is None else _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        items = {make_storable(k): make_storable(v) for k, v in value.items()}
        same = all(a is b for a, b in zip(items, value, strict=False)) and all(
            items[k] is v for k, v in zip(items, value.values(), strict=False)
        )
        return value if same else items
    if isinstance(value, list):
        mapped = [make_storable(v) for v in value]
        return value if all(a is b for a, b in zip(mapped, value, strict=False)) else mapped
    return value


def check_plain_args(args: tuple, where: str = "argument") -> None:
    """The strings among a statement's arguments and in its array arguments; JSON
    arguments are checked as they are encoded (store._dumps), where it is cheap."""
    for arg in args:
        if isinstance(arg, str):
            problem = unstorable(arg)
            if problem is not None:
                raise InvalidStringError(f"{where} {problem}")
        elif isinstance(arg, (list, tuple)):
            for item in arg:
                if isinstance(item, str) and unstorable(item) is not None:
                    raise InvalidStringError(f"{where} {unstorable(item)}")


def check_name(kind: str, value: str, limits: Limits) -> None:
    """An id or a name (a key of _TOO_LONG): storable and at most ``max_id_length``
    UTF-8 bytes, refused with the server's message otherwise."""
    if not isinstance(value, str):
        raise InvalidStringError(f"{kind} must be a string, not {type(value).__name__}")
    problem = unstorable(value)
    if problem is not None:
        raise InvalidStringError(f"{kind} {problem}")
    length = len(value.encode())
    if length > limits.max_id_length:
        raise InvalidStringError(_TOO_LONG[kind].format(length=length, limit=limits.max_id_length))


# ------------------------------------------------------------------ payload sizes

PAYLOADS_WARNING = (
    "[TMPRL1103] Attempted to upload payloads with size that exceeded the warning limit."
)
PAYLOADS_ERROR = "[TMPRL1103] Attempted to upload payloads with size that exceeded the error limit."
BLOB_TOO_LARGE = "Blob data size exceeds limit."


def _b64_bytes(text: str) -> int:
    return len(text) * 3 // 4 - text[-2:].count("=") if text else 0


def payloads_json_size(payloads: list[Any]) -> int:
    """The bytes a list of Payload JSON objects ({metadata: {k: base64}, data: base64})
    holds: what Temporal's blob-size limit counts, give or take the framing."""
    size = 0
    for payload in payloads:
        if not isinstance(payload, dict):
            continue
        size += _b64_bytes(payload.get("data") or "")
        for key, value in (payload.get("metadata") or {}).items():
            size += len(key) + _b64_bytes(value or "")
    return size


def largest_payloads(value: Any) -> int:
    """The size of the largest Payloads field ({"payloads": [...]}) anywhere in a
    JSON value, such as a workflow task's completion."""
    largest = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            inner = item.get("payloads")
            if isinstance(inner, list):
                largest = max(largest, payloads_json_size(inner))
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))
    return largest


# ------------------------------------------- protobuf sizes, as Temporal counts them


def _varint_size(value: int) -> int:
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def field_size(length: int) -> int:
    """Bytes of one length-delimited protobuf field of ``length`` bytes (tag under 16)."""
    return 1 + _varint_size(length) + length


def payloads_message_size(payload_sizes: list[int]) -> int:
    """The encoded size of a Payloads message whose payloads encode to these sizes:
    the number temporalio and the server compare with the blob limits."""
    return sum(field_size(size) for size in payload_sizes)


# Texts the Temporal server (1.32, checked on a dev server) puts in an activity's
# failure when what the worker reports is over blob_size_error; each such failure is
# a non-retryable ServerFailure.
RESULT_TOO_LARGE = "Complete result exceeds size limit."
HEARTBEAT_TOO_LARGE = "Heartbeat details exceed size limit."
FAILURE_TOO_LARGE = "Failure exceeds size limit."

_TEXT_FIELDS = ("message", "source", "stackTrace")
_DROPPED = {"details", "lastHeartbeatDetails", "encodedAttributes"}


def _cut_utf8(text: str, budget: int) -> str:
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= budget:
        return text
    return encoded[: max(budget, 0)].decode("utf-8", "ignore")


def truncate_failure(failure: dict[str, Any], budget: int, depth: int = 0) -> dict[str, Any]:
    """``failure`` (Temporal JSON) cut to about ``budget`` bytes, as the server keeps an
    over-large activity failure as the cause of its own: the message first, then the
    source and stack trace with what is left; payloads (details, encoded attributes)
    dropped, the failure-info kinds and their other fields kept; causes while room
    remains."""
    out: dict[str, Any] = {}
    budget -= 16  # the fields' tags and lengths
    for key in _TEXT_FIELDS:
        text = failure.get(key)
        if not text or budget <= 0:
            continue
        out[key] = _cut_utf8(text, budget)
        budget -= len(out[key].encode("utf-8", "surrogatepass"))
    for key, value in failure.items():
        if key.endswith("FailureInfo") and isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if k not in _DROPPED}
    cause = failure.get("cause")
    if isinstance(cause, dict) and budget > 16 and depth < 20:
        out["cause"] = truncate_failure(cause, budget, depth + 1)
    return out


def server_failure(message: str, cause: dict[str, Any] | None = None) -> dict[str, Any]:
    """A non-retryable ServerFailure (Temporal JSON), as the server makes for a limit."""
    failure: dict[str, Any] = {"message": message, "serverFailureInfo": {"nonRetryable": True}}
    if cause is not None:
        failure["cause"] = cause
    return failure


# ------------------------------------------------------------------- memo sizes

MEMO_TOO_LARGE = "Memo size exceeds limit."
MEMO_WARNING = "[TMPRL1103] Attempted to upload memo with size that exceeded the warning limit."
MEMO_ERROR = "[TMPRL1103] Attempted to upload memo with size that exceeded the error limit."


def _payload_json_message_size(payload: Any) -> int:
    if not isinstance(payload, dict):
        return 0
    size = sum(
        field_size(
            field_size(len(key.encode("utf-8", "surrogatepass")))
            + field_size(_b64_bytes(value or ""))
        )
        for key, value in (payload.get("metadata") or {}).items()
    )
    data = _b64_bytes(payload.get("data") or "")
    return size + (field_size(data) if data else 0)


def payloads_json_message_size(value: dict[str, Any] | None) -> int:
    """The encoded size of a Payloads message given as JSON ({"payloads": [...]})."""
    payloads = (value or {}).get("payloads") or []
    return payloads_message_size([_payload_json_message_size(p) for p in payloads])


def memo_size(fields: dict[str, Any] | None) -> int:
    """The encoded size of a Memo whose fields are ``{name: Payload JSON}``: what the
    server compares with limit.memoSize (temporalio's count too, to the byte)."""
    return sum(
        field_size(
            field_size(len(key.encode("utf-8", "surrogatepass")))
            + field_size(_payload_json_message_size(p))
        )
        for key, p in (fields or {}).items()
    )
