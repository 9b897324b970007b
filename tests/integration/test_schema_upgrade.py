"""A new install and an upgrade from the previous release must give the same schema.

The previous release's schema files live in ``tests/fixtures/schema_release/`` once there
is a release (copy ``_engine/sql/schema/`` there when tagging it). Until then the
previous "release" is the schema as the schema files describe it, and the upgrade path is
the migrations folder (empty) on top of it: the test then still checks that the printed
psql script and ``migrate()`` build the same catalog, and that the catalog query sees the
whole schema.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hotmesh_temporal._engine.store.dsn import split_schema
from hotmesh_temporal._engine.store.migrate import (
    SCHEMA_DIR,
    migrate,
    migration_files,
    script,
    upgrade_files,
)

RELEASE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "schema_release"

# Tables (with their partitioning) and columns, indexes, constraints, triggers and
# functions, with the schema's name taken out so two schemas compare equal.
_CATALOG = """
SELECT 'column' AS kind, c.relname || '.' || a.attname AS name,
       format_type(a.atttypid, a.atttypmod) || ' null=' || (NOT a.attnotnull)::text
       || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS definition
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'u', 'v')
UNION ALL
SELECT 'table', c.relname, c.relkind::text || ' ' || c.relpersistence::text
       || ' ' || coalesce(array_to_string(c.reloptions, ','), '')
       || ' ' || coalesce(pg_get_partkeydef(c.oid), '')
       || ' ' || coalesce(pg_get_expr(c.relpartbound, c.oid), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'u', 'v', 'S')
UNION ALL
SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = $1
UNION ALL
SELECT 'constraint', cl.relname || '.' || co.conname, pg_get_constraintdef(co.oid)
FROM pg_constraint co
JOIN pg_class cl ON cl.oid = co.conrelid
JOIN pg_namespace n ON n.oid = co.connamespace
WHERE n.nspname = $1
UNION ALL
SELECT 'trigger', c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid)
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND NOT t.tgisinternal
UNION ALL
SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1
ORDER BY 1, 2
"""


async def _catalog(conn: asyncpg.Connection, schema: str) -> list[tuple[str, str, str]]:
    def plain(text: str | None) -> str:
        return (text or "").replace(f'"{schema}"', "<schema>").replace(schema, "<schema>")

    rows = await conn.fetch(_CATALOG, schema)
    return sorted((r["kind"], plain(r["name"]), plain(r["definition"])) for r in rows)


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(split_schema(pg_dsn)[0])
    yield connection
    await connection.close()


@pytest.fixture
async def schemas(conn: asyncpg.Connection) -> AsyncIterator[Any]:
    made: list[str] = []

    def new() -> str:
        made.append(f"hm_upg_{secrets.token_hex(5)}")
        return made[-1]

    yield new
    for name in made:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def test_new_install_and_upgrade_from_previous_release_agree(
    conn: asyncpg.Connection, schemas: Any
) -> None:
    fresh, upgraded = schemas(), schemas()
    await migrate(conn, fresh)

    previous = RELEASE_DIR if RELEASE_DIR.is_dir() else SCHEMA_DIR
    # The previous release as it was installed: its schema files, no upgrades yet.
    await migrate(conn, upgraded, directory=previous)
    applied = await migrate(conn, upgraded)  # this release: the upgrades it lacks
    expected = [v for v, _, _ in upgrade_files()] if previous == RELEASE_DIR else []
    assert applied == expected

    fresh_catalog = await _catalog(conn, fresh)
    assert {kind for kind, _, _ in fresh_catalog} == {
        "column",
        "table",
        "index",
        "constraint",
        "trigger",
        "function",
    }
    assert fresh_catalog == await _catalog(conn, upgraded)


async def test_printed_script_builds_the_same_catalog(
    conn: asyncpg.Connection, schemas: Any
) -> None:
    by_migrate, by_script = schemas(), schemas()
    await migrate(conn, by_migrate)
    await conn.execute(script(by_script))
    assert await _catalog(conn, by_script) == await _catalog(conn, by_migrate)
    assert await migrate(conn, by_script) == []


async def test_a_changed_schema_file_shows_in_the_catalog(
    conn: asyncpg.Connection, schemas: Any, tmp_path: Path
) -> None:
    """The comparison is not blind: one column more makes the catalogs differ."""
    for _version, _name, path in migration_files():
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"))
    last = sorted(tmp_path.glob("*.sql"))[-1]
    last.write_text(
        last.read_text(encoding="utf-8")
        + "\nALTER TABLE {{schema}}.executions ADD COLUMN upgrade_probe int;\n"
    )
    plain, changed = schemas(), schemas()
    await migrate(conn, plain)
    await migrate(conn, changed, directory=tmp_path)
    difference = set(await _catalog(conn, changed)) - set(await _catalog(conn, plain))
    assert any(name == "executions.upgrade_probe" for _, name, _ in difference)


async def test_upgrade_files_run_on_an_existing_schema_and_are_recorded_on_a_new_one(
    conn: asyncpg.Connection, schemas: Any, tmp_path: Path
) -> None:
    parts = tmp_path / "schema"
    ups = tmp_path / "migrations"
    parts.mkdir()
    ups.mkdir()
    (parts / "0001_init.sql").write_text(
        "CREATE SCHEMA IF NOT EXISTS {{schema}};\n"
        "CREATE TABLE {{schema}}.items (id bigint PRIMARY KEY);\n"
    )
    old, new = schemas(), schemas()
    assert await migrate(conn, old, directory=parts, upgrades=ups) == [1]
    # The next release: an upgrade file, and the schema file changed to match it.
    (ups / "0002_r2_label.sql").write_text("ALTER TABLE {{schema}}.items ADD COLUMN label text;\n")
    (parts / "0001_init.sql").write_text(
        "CREATE SCHEMA IF NOT EXISTS {{schema}};\n"
        "CREATE TABLE {{schema}}.items (id bigint PRIMARY KEY, label text);\n"
    )
    assert await migrate(conn, old, directory=parts, upgrades=ups) == [2]
    assert await migrate(conn, new, directory=parts, upgrades=ups) == [1, 2]
    assert await _catalog(conn, old) == await _catalog(conn, new)
