"""envconfig's errors for bad configuration files, against temporalio 1.35's (issue 20).

temporalio's come from its Rust core (the toml crate and serde): a ``ConfigError``
(a RuntimeError) whose text shows the position, the line, a caret span under the
token and the parser's or serde's words. Each malformed file below is loaded by both
SDKs, as bytes and as a file, loose and strict, and must fail the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import temporalio.envconfig

import hotmesh_temporal.envconfig

MALFORMED = {
    # Not TOML.
    "unclosed table": b"[profile.default",
    "missing value": b"[profile.default]\naddress =\n",
    "unterminated string": b'[profile.default]\naddress = "abc\n',
    "bare word value": b"[profile.default]\naddress = abc\n",
    "duplicate key": b'[profile.default]\naddress = "a"\naddress = "b"\n',
    "duplicate table": b'[profile.default]\naddress = "a"\n[profile.default]\nnamespace = "b"\n',
    "key without value": b"[profile.default]\naddress\n",
    "prose": b"this is not toml",
    "not utf-8": b'[profile.default]\naddress = "\xff"\n',
    "truncated utf-8": b'[profile.default]\naddress = "\xe2\x82"\n',
    # TOML, but not the core's schema.
    "address integer": b"[profile.default]\naddress = 1\n",
    "address after a comment": b"[profile.default]\naddress = 1 # c\n",
    "address float": b"[profile.default]\naddress = 1.5\n",
    "address array": b"[profile.default]\naddress = [1]\n",
    "address inline table": b"[profile.default]\naddress = {a = 1}\n",
    "address date": b"[profile.default]\naddress = 2024-01-01\n",
    "namespace boolean": b"[profile.default]\nnamespace = true\n",
    "second profile": b'[profile.a]\naddress = "x"\n[profile.b]\naddress = 1\n',
    "profile not a table": b"profile = 3\n",
    "profile entry not a table": b"[profile]\nx = 3\n",
    "tls not a table": b'[profile.default]\ntls = "x"\n',
    "tls disabled string": b'[profile.default.tls]\ndisabled = "yes"\n',
    "tls disabled integer": b"[profile.default.tls]\ndisabled = 1\n",
    "tls dotted key": b'[profile.default]\ntls.disabled = "x"\n',
    "tls inline table": b'[profile.default]\ntls = {disabled = "x"}\n',
    "grpc_meta not a table": b"[profile.default]\ngrpc_meta = 3\n",
    "grpc_meta value integer": b"[profile.default.grpc_meta]\nfoo = 3\n",
    "codec not a table": b"[profile.default]\ncodec = 3\n",
    "codec endpoint integer": b"[profile.default.codec]\nendpoint = 1\n",
}
# Only refused with config_file_strict=True.
STRICT_ONLY = {
    "unknown profile field": b"[profile.default]\nfoo = 1\n",
    "unknown top-level field": b"foo = 1\n",
    "unknown tls field": b"[profile.default.tls]\nfoo = 1\n",
    "unknown codec field": b"[profile.default.codec]\nfoo = 1\n",
    "unknown field before a bad value": b"[profile.default]\nfoo = 1\naddress = 2\n",
}


def outcome(module: Any, source: Any, strict: bool) -> tuple[str, str]:
    try:
        module.ClientConfig.load(config_source=source, config_file_strict=strict)
    except Exception as err:  # noqa: BLE001 - the comparison is about what was raised
        assert isinstance(err, RuntimeError)
        return type(err).__name__, str(err)
    return "ok", ""


def both(data: bytes, strict: bool, tmp_path: Path) -> list[tuple]:
    path = tmp_path / "temporal.toml"
    path.write_bytes(data)
    return [
        (
            outcome(temporalio.envconfig, source, strict),
            outcome(hotmesh_temporal.envconfig, source, strict),
        )
        for source in (data, path)
    ]


@pytest.mark.parametrize("strict", [False, True], ids=["loose", "strict"])
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_fails_as_in_temporalio(name: str, strict: bool, tmp_path: Path) -> None:
    for theirs, ours in both(MALFORMED[name], strict, tmp_path):
        assert theirs[0] == "ConfigError" and "Configuration loading error" in theirs[1]
        assert ours == theirs


@pytest.mark.parametrize("name", sorted(STRICT_ONLY))
def test_unknown_fields_fail_as_in_temporalio_when_strict(name: str, tmp_path: Path) -> None:
    for theirs, ours in both(STRICT_ONLY[name], True, tmp_path):
        assert theirs[0] == "ConfigError"
        assert ours == theirs
    if name != "unknown field before a bad value":
        for theirs, ours in both(STRICT_ONLY[name], False, tmp_path):
            assert theirs == ours == ("ok", "")
