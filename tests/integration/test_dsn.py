from __future__ import annotations

import logging

import asyncpg
import pytest

from hotmesh_temporal._engine.store import dsn as dsn_mod
from hotmesh_temporal._engine.store.dsn import (
    resolve_target,
    split_schema,
    validate_schema,
    with_schema,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTMESH_SCHEMA", raising=False)
    monkeypatch.delenv("HOTMESH_DSN", raising=False)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5/db?schema=abc", ("postgresql://u:p@h:5/db", "abc")),
        (
            "postgresql://h/db?sslmode=disable&schema=s1",
            ("postgresql://h/db?sslmode=disable", "s1"),
        ),
        (
            "postgresql://h/db?schema=s1&sslmode=disable",
            ("postgresql://h/db?sslmode=disable", "s1"),
        ),
        ("postgres://h/db?a=1&schema=x&b=2", ("postgres://h/db?a=1&b=2", "x")),
        ("postgresql://h/db?schema=a&schema=b", ("postgresql://h/db", "b")),
        (
            "postgresql://postgres:@/postgres?host=/tmp/x/pgdata&schema=t_1",
            ("postgresql://postgres:@/postgres?host=/tmp/x/pgdata", "t_1"),
        ),
        ("postgresql://h/db", ("postgresql://h/db", "hotmesh")),
        ("postgresql://h/db?sslmode=require", ("postgresql://h/db?sslmode=require", "hotmesh")),
    ],
)
def test_split_schema(given: str, expected: tuple[str, str]) -> None:
    assert split_schema(given) == expected


def test_split_schema_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTMESH_SCHEMA", "from_env")
    assert split_schema("postgresql://h/db") == ("postgresql://h/db", "from_env")
    # the URL wins over the environment
    assert split_schema("postgresql://h/db?schema=url") == ("postgresql://h/db", "url")


@pytest.mark.parametrize(
    "bad", ["", "1abc", "a-b", "a b", 'x";drop', "pg_catalog", "PG_x", "é", "a" * 64]
)
def test_invalid_schema(bad: str) -> None:
    with pytest.raises(ValueError, match="schema name"):
        validate_schema(bad)
    with pytest.raises(ValueError, match="schema name"):
        split_schema(f"postgresql://h/db?schema={bad}")


def test_invalid_schema_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTMESH_SCHEMA", "no-dashes")
    with pytest.raises(ValueError, match="no-dashes"):
        split_schema("postgresql://h/db")


def test_with_schema_round_trip() -> None:
    assert with_schema("postgresql://h/db", "s") == "postgresql://h/db?schema=s"
    assert (
        with_schema("postgresql://h/db?schema=old&x=1", "new") == "postgresql://h/db?x=1&schema=new"
    )
    base = "postgresql://postgres:@/postgres?host=/tmp/x"
    assert split_schema(with_schema(base, "abc")) == (base, "abc")


async def test_split_dsn_connects(dsn: str, test_schema: str) -> None:
    base, schema = split_schema(dsn)
    assert schema == test_schema
    conn = await asyncpg.connect(base)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


async def test_resolve_url_passthrough() -> None:
    for url in ("postgresql://x@nowhere:1/db?schema=a", "postgres://nowhere/db"):
        assert await resolve_target(url) == url


async def test_resolve_env(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HOTMESH_DSN", "postgresql://u:secret@db.example:5432/app")
    with caplog.at_level(logging.INFO, logger="hotmesh_temporal"):
        assert await resolve_target("localhost:7233") == "postgresql://u:secret@db.example:5432/app"
    assert "HOTMESH_DSN" in caplog.text
    assert "secret" not in caplog.text


async def test_resolve_local(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    probed: list[str] = []

    async def fake_reachable(dsn: str, timeout: float = 1.0) -> bool:
        probed.append(dsn)
        return True

    monkeypatch.setattr(dsn_mod, "_reachable", fake_reachable)
    with caplog.at_level(logging.INFO, logger="hotmesh_temporal"):
        assert await resolve_target("localhost:7233") == dsn_mod.LOCAL_DSN
    assert probed == [dsn_mod.LOCAL_DSN]
    assert "local Postgres" in caplog.text


async def test_resolve_embedded_fallback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from hotmesh_temporal._engine.store import embedded

    async def unreachable(dsn: str, timeout: float = 1.0) -> bool:
        return False

    async def fake_start(data_dir: str | None = None) -> str:
        return "postgresql://postgres@/postgres?host=/tmp/fake"

    monkeypatch.setattr(dsn_mod, "_reachable", unreachable)
    monkeypatch.setattr(embedded, "start_embedded", fake_start)
    with caplog.at_level(logging.INFO, logger="hotmesh_temporal"):
        assert (
            await resolve_target("localhost:7233")
            == "postgresql://postgres@/postgres?host=/tmp/fake"
        )
    assert "embedded" in caplog.text
    [record] = [r for r in caplog.records if "embedded" in r.getMessage()]
    assert record.levelno == logging.WARNING  # data would land in a throwaway server
    assert "/tmp/fake" in record.getMessage()  # it names the database


@pytest.mark.parametrize(
    "target",
    ["my-ns.a1b2c.tmprl.cloud:7233", "temporal:7233", "10.0.0.5:7233", "[2001:db8::1]:7233"],
)
async def test_a_non_local_address_without_hotmesh_dsn_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    from hotmesh_temporal.client import Client

    monkeypatch.delenv("HOTMESH_DSN", raising=False)
    with pytest.raises(dsn_mod.NonLocalTargetError, match="HOTMESH_DSN") as caught:
        await resolve_target(target)
    assert target in str(caught.value)
    with pytest.raises(RuntimeError, match="not a local address"):
        await Client.connect(target)


async def test_a_non_local_address_uses_hotmesh_dsn_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOTMESH_DSN", "postgresql://u@db.example:5432/app")
    assert await resolve_target("my-ns.tmprl.cloud:7233") == "postgresql://u@db.example:5432/app"


@pytest.mark.parametrize(
    "target, local",
    [
        ("localhost:7233", True),
        ("127.0.0.1:7233", True),
        ("[::1]:7233", True),
        ("app.localhost:7233", True),
        ("example.com:7233", False),
        ("192.168.1.2:7233", False),
    ],
)
def test_local_addresses(target: str, local: bool) -> None:
    assert dsn_mod.is_local_address(target) is local


async def test_probe_is_quick_on_a_closed_port() -> None:
    import time

    start = time.monotonic()
    assert not await dsn_mod._reachable("postgresql://postgres@127.0.0.1:1/postgres")
    assert time.monotonic() - start < 3


async def test_probe_real_local_server(pg_dsn: str) -> None:
    # whichever server the tests use answers the probe
    assert await dsn_mod._reachable(pg_dsn)
