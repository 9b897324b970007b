"""Configuration file errors worded as temporalio's, which come from its Rust core.

temporalio's core reads the TOML file with Rust's ``toml`` crate into serde structures,
so a bad file fails with a ``ConfigError`` whose text is that crate's report: the
position, the offending line with a caret span under the token, then the parser's or
serde's message (``invalid type: integer `1`, expected a string``, ``unknown field
`foo`, expected `profile```). Here the file is parsed with ``tomllib`` and checked
against the same schema; this module renders the outcome in that form, with the
crate's words for the parse errors users commonly make (tomllib's own words, in the
same frame, for the rest).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(RuntimeError):
    """The configuration cannot be loaded (bad TOML, unknown profile, conflicts);
    named as temporalio's core names its exception (a RuntimeError there too)."""


PROFILE_KEYS = ("address", "namespace", "api_key", "tls", "codec", "grpc_meta")
# In the order the core's message lists them.
TLS_KEYS = (
    "disabled", "client_cert_path", "client_cert_data", "client_key_path",
    "client_key_data", "server_ca_cert_path", "server_ca_cert_data", "server_name",
    "disable_host_verification",
)  # fmt: skip
CODEC_KEYS = ("endpoint", "auth")

_LOADING = "Configuration loading error: "


# ----------------------------------------------------------------- rendering


def _report(lines: list[str], line: int, column: int, span: int, message: str) -> ConfigError:
    """The toml crate's report: position, the line, a caret span, the message."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    gutter = " " * (len(str(line)) + 1)
    return ConfigError(
        f"{_LOADING}TOML parse error at line {line}, column {column}\n"
        f"{gutter}|\n{line} | {text}\n{gutter}| {' ' * (column - 1)}{'^' * max(span, 1)}\n"
        f"{message}\n"
    )


def decode_error(err: UnicodeDecodeError) -> ConfigError:
    """Rust's words for a file that is not UTF-8."""
    if err.reason == "unexpected end of data":
        return ConfigError(f"{_LOADING}incomplete utf-8 byte sequence from index {err.start}")
    return ConfigError(
        f"{_LOADING}invalid utf-8 sequence of {err.end - err.start} bytes from index {err.start}"
    )


# ---------------------------------------------------------------- parse errors

_POSITION = re.compile(
    r"^(?P<message>.*?) \((?:at line (?P<line>\d+), column (?P<col>\d+)|at end of document)\)$"
)
_BARE_TOKEN = re.compile(r"[^\s,#\]}]*")


def parse_error(text: str, err: Exception) -> ConfigError:
    """A tomllib error as the toml crate reports the same mistake."""
    lines = text.split("\n")
    found = _POSITION.match(str(err))
    if found is None:
        return ConfigError(f"{_LOADING}{err}")
    message = found["message"]
    if found["line"] is None:  # at end of document: the crate points past the last line
        line = len(lines) - 1 if len(lines) > 1 and lines[-1] == "" else len(lines)
        column = len(lines[line - 1]) + 1
    else:
        line, column = int(found["line"]), int(found["col"])
    return _parse_report(lines, line, column, message)


def _parse_report(lines: list[str], line: int, column: int, message: str) -> ConfigError:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    if message.startswith("Expected ']' at the end of a table declaration"):
        return _report(lines, line, column, 1, "unclosed table, expected `]`")
    if message.startswith("Expected '=' after a key"):
        return _report(lines, line, column, 1, "key with no value, expected `=`")
    if message == "Invalid value":
        token = _BARE_TOKEN.match(text, column - 1)
        span = len(token.group()) if token else 1
        return _report(
            lines, line, column, span, "string values must be quoted, expected literal string"
        )
    if message == "Illegal character '\\n'" and text[: column - 1].count('"') % 2 == 1:
        return _report(lines, line, column, 1, 'invalid basic string, expected `"`')
    if message == "Cannot overwrite a value":
        key = re.match(r"\s*([^\s=]+)", text)
        start = key.start(1) + 1 if key else 1
        return _report(lines, line, start, len(key.group(1)) if key else 1, "duplicate key")
    if message.startswith("Cannot declare") and message.endswith("twice"):
        header = re.match(r"\s*\[+\s*([^\]]*?)\s*\]", text)
        if header:
            last = header.group(1).rsplit(".", 1)[-1].strip()
            start = text.rfind(last, 0, header.end(1)) + 1
            return _report(lines, line, start, len(last), "duplicate key")
    return _report(lines, line, column, 1, message)


# ---------------------------------------------------------------- schema errors


@dataclass(frozen=True)
class _Field:
    kind: str  # "string", "boolean", "map" (of strings), or a struct's name
    keys: tuple[str, ...] = ()  # a struct's fields


_STRING, _BOOLEAN, _STRING_MAP = _Field("string"), _Field("boolean"), _Field("map")


def _profile_fields(strict: bool) -> dict[str, _Field]:
    prefix = "StrictToml" if strict else "Toml"
    return {
        "address": _STRING,
        "namespace": _STRING,
        "api_key": _STRING,
        "tls": _Field(f"{prefix}ClientConfigTLS", TLS_KEYS),
        "codec": _Field(f"{prefix}ClientConfigCodec", CODEC_KEYS),
        "grpc_meta": _STRING_MAP,
    }


_TLS_FIELDS = {
    k: _BOOLEAN if k in ("disabled", "disable_host_verification") else _STRING for k in TLS_KEYS
}
_CODEC_FIELDS = {"endpoint": _STRING, "auth": _STRING}


def check_document(text: str, document: Mapping[str, Any], strict: bool) -> None:
    """Refuse what the core's serde structures refuse, in its words and at the place
    its report points to: a value of the wrong type, and (strict) an unknown field."""
    lines = text.split("\n")
    locate = _Locator(lines)
    if "profile" in document:
        profiles = document["profile"]
        if not isinstance(profiles, dict):
            raise locate.value_error((), "profile", profiles, "a map")
        prefix = "StrictToml" if strict else "Toml"
        for name, profile in profiles.items():
            if not isinstance(profile, dict):
                raise locate.value_error(
                    ("profile",), name, profile, f"struct {prefix}ClientConfigProfile"
                )
            _check_table(locate, ("profile", name), profile, _profile_fields(strict), strict)
    if strict:
        for key in document:
            if key != "profile":
                raise locate.key_error((), key, "unknown field `{}`, expected `profile`")


def _check_table(
    locate: _Locator,
    path: tuple[str, ...],
    table: Mapping[str, Any],
    fields: Mapping[str, _Field],
    strict: bool,
) -> None:
    # As the core reports them: a known field's wrong value before an unknown field.
    for key, value in table.items():
        field = fields.get(key)
        if field is not None:
            _check_value(locate, path, key, value, field, strict)
    if not strict:
        return
    for key in table:
        if key not in fields:
            expected = _expected_fields(tuple(fields))
            raise locate.key_error(path, key, f"unknown field `{{}}`, expected {expected}")


def _check_value(
    locate: _Locator, path: tuple[str, ...], key: str, value: Any, field: _Field, strict: bool
) -> None:
    if field is _STRING and not isinstance(value, str):
        raise locate.value_error(path, key, value, "a string")
    if field is _BOOLEAN and not isinstance(value, bool):
        raise locate.value_error(path, key, value, "a boolean")
    if field is _STRING_MAP:
        if not isinstance(value, dict):
            raise locate.value_error(path, key, value, "a map")
        for name, item in value.items():
            if not isinstance(item, str):
                raise locate.value_error((*path, key), name, item, "a string")
    if field.keys:
        if not isinstance(value, dict):
            raise locate.value_error(path, key, value, f"struct {field.kind}")
        nested = _TLS_FIELDS if key == "tls" else _CODEC_FIELDS
        _check_table(locate, (*path, key), value, nested, strict)


def _expected_fields(names: tuple[str, ...]) -> str:
    """serde's list of expected fields: `a`, `a` or `b`, one of `a`, `b`, `c`."""
    quoted = [f"`{n}`" for n in names]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return "one of " + ", ".join(quoted)


def _unexpected(value: Any) -> str:
    """serde's description of the value found."""
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        return f"string {_rust_debug(value)}"
    if isinstance(value, list):
        return "sequence"
    # Tables, and dates and times (the toml crate hands those to serde as maps).
    assert isinstance(value, (dict, datetime.date, datetime.time))
    return "map"


def _rust_debug(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


# ------------------------------------------------------------------ positions

_HEADER = re.compile(r"^\s*\[\[?\s*(?P<path>[^\]]*?)\s*\]\]?\s*(?:#.*)?$")
_KEY_VALUE = re.compile(r"^(?P<indent>\s*)(?P<key>[^=#\[]+?)\s*=\s*")


def _key_parts(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


class _Locator:
    """Where a key, or its value, is written in the file (line, column, span), for
    the files people write: standard tables, dotted keys, inline tables."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def key_error(self, path: tuple[str, ...], key: str, message: str) -> ConfigError:
        line, column, span, _ = self._find(path, key)
        return _report(self.lines, line, column, span, message.format(key))

    def value_error(
        self, path: tuple[str, ...], key: str, value: Any, expected: str
    ) -> ConfigError:
        line, _, _, value_at = self._find(path, key)
        text = self.lines[line - 1] if line <= len(self.lines) else ""
        span = _value_span(text, value_at) if value_at is not None else 1
        message = f"invalid type: {_unexpected(value)}, expected {expected}"
        return _report(self.lines, line, (value_at or 0) + 1, span, message)

    def _find(self, path: tuple[str, ...], key: str) -> tuple[int, int, int, int | None]:
        """(line, key column, key length, value offset or None) of ``path.key``."""
        wanted = (*path, key)
        table: tuple[str, ...] = ()
        for number, text in enumerate(self.lines, start=1):
            header = _HEADER.match(text)
            if header:
                table = _key_parts(header["path"])
                if table == wanted:  # a table given as [path.key]: point at its name
                    last = table[-1]
                    start = text.rfind(last)
                    return number, start + 1, len(last), None
                continue
            found = _KEY_VALUE.match(text)
            if found is None:
                continue
            full = (*table, *_key_parts(found["key"]))
            if full == wanted:
                key_at = len(found["indent"])
                return number, key_at + 1, len(found["key"]), found.end()
            inline = _inline_position(text, found.end(), full, wanted)
            if inline is not None:
                return (number, *inline)
        return 1, 1, 1, None


def _inline_position(
    text: str, value_at: int, full: tuple[str, ...], wanted: tuple[str, ...]
) -> tuple[int, int, int] | None:
    """A key inside an inline table (``tls = {disabled = "x"}``), one level deep."""
    if not (text[value_at : value_at + 1] == "{" and wanted[: len(full)] == full):
        return None
    if len(wanted) != len(full) + 1:
        return None
    found = re.compile(rf"[{{,]\s*(?P<key>{re.escape(wanted[-1])})\s*=\s*").search(text, value_at)
    if found is None:
        return None
    return found.start("key") + 1, len(wanted[-1]), found.end()


def _value_span(text: str, start: int) -> int:
    """The length of the TOML value written at ``start``."""
    opening = text[start : start + 1]
    if opening in ('"', "'"):
        index = start + 1
        while index < len(text):
            if opening == '"' and text[index] == "\\":
                index += 2
                continue
            if text[index] == opening:
                return index - start + 1
            index += 1
        return len(text) - start
    if opening in ("[", "{"):
        closing = "]" if opening == "[" else "}"
        depth = 0
        for index in range(start, len(text)):
            if text[index] == opening:
                depth += 1
            elif text[index] == closing:
                depth -= 1
                if depth == 0:
                    return index - start + 1
        return len(text) - start
    token = re.compile(r"[^\s,#\]}]+").match(text, start)
    if token is None:
        return 1
    # A date and time may hold one space ("1979-05-27 07:32:00").
    spaced = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}[^\s,#\]}]*").match(text, start)
    return len((spaced or token).group())
