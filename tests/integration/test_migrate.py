from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hotmesh_temporal._engine.store.dsn import split_schema, with_schema
from hotmesh_temporal._engine.store.migrate import (
    SchemaMismatchError,
    migrate,
    migration_files,
    render_sql,
    script,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def base_dsn(pg_dsn: str) -> str:
    return split_schema(pg_dsn)[0]


@pytest.fixture
async def fresh_schema(base_dsn: str) -> AsyncIterator[str]:
    """A schema name nobody has used, dropped after the test."""
    name = f"hm_mig_{secrets.token_hex(5)}"
    yield name
    conn = await asyncpg.connect(base_dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def three_migrations(tmp_path: Path) -> Path:
    # 0002 fails if it ever runs twice (no IF NOT EXISTS), which proves serialisation.
    (tmp_path / "0001_init.sql").write_text("CREATE SCHEMA IF NOT EXISTS {{schema}};\n")
    (tmp_path / "0002_items.sql").write_text(
        "CREATE TABLE {{schema}}.items (id bigint PRIMARY KEY, v text);\n"
        "INSERT INTO {{schema}}.items VALUES (1, 'one');\n"
    )
    (tmp_path / "0010_more.sql").write_text(
        "ALTER TABLE {{schema}}.items ADD COLUMN w int;\nSELECT pg_sleep(0.05);\n"
    )
    return tmp_path


async def _versions(conn: asyncpg.Connection, schema: str) -> list[int]:
    rows = await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations ORDER BY version')
    return [r[0] for r in rows]


def test_packaged_migrations_are_well_formed() -> None:
    files = migration_files()
    assert files, "no migration files found in hotmesh_temporal/_engine/schema"
    assert files[0][0] == 1
    versions = [v for v, _, _ in files]
    assert versions == sorted(set(versions))
    for version, name, sql in render_sql("some_schema"):
        assert "{{schema}}" not in sql
        assert sql.strip(), f"migration {version}_{name} is empty"


def test_render_sql(three_migrations: Path) -> None:
    rendered = render_sql("abc", three_migrations)
    assert [(v, n) for v, n, _ in rendered] == [(1, "init"), (2, "items"), (10, "more")]
    assert rendered[0][2] == 'CREATE SCHEMA IF NOT EXISTS "abc";\n'
    assert '"abc".items' in rendered[1][2]
    with pytest.raises(ValueError):
        render_sql("bad-name", three_migrations)


def test_bad_file_names(tmp_path: Path) -> None:
    (tmp_path / "init.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="NNNN_name"):
        migration_files(tmp_path)
    (tmp_path / "init.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="share version 1"):
        migration_files(tmp_path)


async def test_migrate_applies_in_order_then_is_idempotent(
    base_dsn: str, fresh_schema: str, three_migrations: Path
) -> None:
    conn = await asyncpg.connect(base_dsn)
    try:
        assert await migrate(conn, fresh_schema, directory=three_migrations) == [1, 2, 10]
        assert await _versions(conn, fresh_schema) == [1, 2, 10]
        assert await conn.fetchval(f'SELECT v FROM "{fresh_schema}".items WHERE id = 1') == "one"
        assert await migrate(conn, fresh_schema, directory=three_migrations) == []
        # a new file is picked up later
        (three_migrations / "0011_extra.sql").write_text(
            "CREATE INDEX items_w ON {{schema}}.items (w);\n"
        )
        assert await migrate(conn, fresh_schema, directory=three_migrations) == [11]
        applied_at = await conn.fetchval(
            f'SELECT count(*) FROM "{fresh_schema}".schema_migrations WHERE applied_at IS NOT NULL'
        )
        assert applied_at == 4
    finally:
        await conn.close()


class _CountingConnection:
    """Wraps a connection and counts the statements sent through it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._conn, name)
        if name in {"execute", "fetch", "fetchval", "fetchrow", "executemany"}:

            async def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls += 1
                return await attr(*args, **kwargs)

            return counted
        return attr


async def test_a_schema_made_by_another_build_is_refused_untouched(
    base_dsn: str, fresh_schema: str, three_migrations: Path
) -> None:
    """Until the first release migrations are edited in place: a schema whose applied
    migration has changed since gets a clear error (and is left as it is), instead of
    failing later on a function or column it does not have."""
    conn = await asyncpg.connect(base_dsn)
    try:
        await migrate(conn, fresh_schema, directory=three_migrations)
        (three_migrations / "0002_items.sql").write_text(
            "CREATE TABLE {{schema}}.items (id bigint PRIMARY KEY, v text, extra int);\n"
        )
        with pytest.raises(SchemaMismatchError, match="0002") as caught:
            await migrate(conn, fresh_schema, directory=three_migrations)
        assert f'DROP SCHEMA "{fresh_schema}" CASCADE' in str(caught.value)
        columns = await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'items'",
            fresh_schema,
        )
        assert columns == 3  # id, v and 0010's w: nothing was applied again
    finally:
        await conn.close()


async def test_a_schema_from_before_checksums_is_refused(
    base_dsn: str, fresh_schema: str, three_migrations: Path
) -> None:
    conn = await asyncpg.connect(base_dsn)
    try:
        await migrate(conn, fresh_schema, directory=three_migrations)
        await conn.execute(f'ALTER TABLE "{fresh_schema}".schema_migrations DROP COLUMN checksum')
        with pytest.raises(SchemaMismatchError, match="0001, 0002, 0010"):
            await migrate(conn, fresh_schema, directory=three_migrations)
    finally:
        await conn.close()


async def test_fast_path_is_one_query(
    base_dsn: str, fresh_schema: str, three_migrations: Path
) -> None:
    conn = await asyncpg.connect(base_dsn)
    try:
        await migrate(conn, fresh_schema, directory=three_migrations)
        counting = _CountingConnection(conn)
        assert await migrate(counting, fresh_schema, directory=three_migrations) == []  # type: ignore[arg-type]
        assert counting.calls == 1
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing(
    base_dsn: str, fresh_schema: str, three_migrations: Path
) -> None:
    (three_migrations / "0011_broken.sql").write_text(
        "CREATE TABLE {{schema}}.half_done (id int);\nSELECT no_such_function();\n"
    )
    conn = await asyncpg.connect(base_dsn)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, fresh_schema, directory=three_migrations)
        assert await _versions(conn, fresh_schema) == [1, 2, 10]
        assert await conn.fetchval(f"SELECT to_regclass('\"{fresh_schema}\".half_done')") is None
        # the advisory lock was released: another connection can migrate at once
        other = await asyncpg.connect(base_dsn)
        try:
            (three_migrations / "0011_broken.sql").write_text("SELECT 1;\n")
            assert await asyncio.wait_for(
                migrate(other, fresh_schema, directory=three_migrations), 10
            ) == [11]
        finally:
            await other.close()
    finally:
        await conn.close()


async def test_twenty_concurrent_connections(
    base_dsn: str, fresh_schema: str, three_migrations: Path
) -> None:
    conns = await asyncio.gather(*(asyncpg.connect(base_dsn) for _ in range(20)))
    try:
        results = await asyncio.gather(
            *(migrate(c, fresh_schema, directory=three_migrations) for c in conns)
        )
        applied = sorted(v for r in results for v in r)
        assert applied == [1, 2, 10]  # each applied exactly once, by someone
        assert await _versions(conns[0], fresh_schema) == [1, 2, 10]
    finally:
        await asyncio.gather(*(c.close() for c in conns))


async def test_packaged_migrations_apply_concurrently(base_dsn: str, fresh_schema: str) -> None:
    latest = migration_files()[-1][0]
    conns = await asyncio.gather(*(asyncpg.connect(base_dsn) for _ in range(20)))
    try:
        results = await asyncio.gather(*(migrate(c, fresh_schema) for c in conns))
        assert sorted(v for r in results for v in r) == [v for v, _, _ in migration_files()]
        assert (await _versions(conns[0], fresh_schema))[-1] == latest
    finally:
        await asyncio.gather(*(c.close() for c in conns))


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "hotmesh_temporal", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=str(REPO),
    )


@pytest.mark.slow
async def test_twenty_processes_start_at_once(base_dsn: str, fresh_schema: str) -> None:
    target = with_schema(base_dsn, fresh_schema)
    procs = [_cli("migrate", "--dsn", target) for _ in range(20)]
    outputs = await asyncio.gather(*(asyncio.to_thread(p.communicate, None, 120) for p in procs))
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    applied_lines = [out for out, _ in outputs if "applied migrations" in out]
    assert len(applied_lines) == 1, [o for o, _ in outputs]
    conn = await asyncpg.connect(base_dsn)
    try:
        assert await _versions(conn, fresh_schema) == [v for v, _, _ in migration_files()]
    finally:
        await conn.close()


def test_print_sql_subprocess() -> None:
    proc = _cli("migrate", "--print-sql", "--schema", "team_schema")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == script("team_schema")
    assert 'CREATE TABLE IF NOT EXISTS "team_schema".schema_migrations' in out
    for version, name, sql in render_sql("team_schema"):
        assert sql.strip() in out
        assert f"-- {version:04d}_{name}" in out
    assert "{{schema}}" not in out


def test_print_sql_takes_schema_from_dsn_without_connecting() -> None:
    # port 1 on localhost: nothing listens there, so any connection attempt would fail
    proc = _cli(
        "migrate", "--print-sql", "--dsn", "postgresql://nobody@127.0.0.1:1/x?schema=from_url"
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert '"from_url".schema_migrations' in out


def test_cli_rejects_bad_schema() -> None:
    proc = _cli("migrate", "--print-sql", "--schema", "bad-name")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "bad-name" in err


async def test_print_sql_script_applies_with_psql_semantics(
    base_dsn: str, fresh_schema: str
) -> None:
    """The printed script, run as-is, leaves the schema in the state migrate() expects."""
    conn = await asyncpg.connect(base_dsn)
    try:
        await conn.execute(script(fresh_schema))
        assert await _versions(conn, fresh_schema) == [v for v, _, _ in migration_files()]
        counting = _CountingConnection(conn)
        assert await migrate(counting, fresh_schema) == []  # type: ignore[arg-type]
        assert counting.calls == 1
    finally:
        await conn.close()


async def test_cli_migrate_against_real_db(base_dsn: str, fresh_schema: str) -> None:
    proc = _cli("migrate", "--dsn", base_dsn, "--schema", fresh_schema)
    out, err = await asyncio.to_thread(proc.communicate, None, 60)
    assert proc.returncode == 0, err
    assert f"schema {fresh_schema}: applied migrations" in out
    proc = _cli("migrate", "--dsn", with_schema(base_dsn, fresh_schema))
    out, err = await asyncio.to_thread(proc.communicate, None, 60)
    assert proc.returncode == 0, err
    assert "up to date" in out
