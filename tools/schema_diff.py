"""Show how the schema another folder of schema files builds differs from the one the
current schema files build: install each in a fresh Postgres schema and compare their
catalogs. Nothing printed but ``identical`` means a reorganisation of the schema files
(moving a function, merging or renumbering files) changed nothing a database can see.

Compared: every function's definition (``pg_get_functiondef``, body text included) and
privileges; every relation (tables, partitions and their bounds, sequences) with its
columns in order, types, defaults and nullability; indexes; constraints; triggers; and
the rows the schema files insert. Run from the repository root, e.g. against main:

    git archive main hotmesh_temporal/_engine/sql/schema | tar -x -C /tmp/old
    .venv/bin/python tools/schema_diff.py /tmp/old/hotmesh_temporal/_engine/sql/schema

``--dsn`` names the server (default: the tests' local one); the two schemas are dropped
afterwards. Exit status 1 when the catalogs differ.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import secrets
import sys
from pathlib import Path

import asyncpg

from hotmesh_temporal._engine.store.dsn import quote_ident
from hotmesh_temporal._engine.store.migrate import SCHEMA_DIR, migrate

_CATALOG = """
SELECT 'column', c.relname || '.' || a.attname,
       a.attnum || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
       || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
       || ' generated=' || a.attgenerated::text || ' identity=' || a.attidentity::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = $1
UNION ALL
SELECT 'relation', c.relname, c.relkind::text || ' ' || c.relpersistence::text
       || ' options=' || coalesce(array_to_string(c.reloptions, ','), '')
       || ' partition_key=' || coalesce(pg_get_partkeydef(c.oid), '')
       || ' bound=' || coalesce(pg_get_expr(c.relpartbound, c.oid), '')
       || ' acl=' || coalesce(c.relacl::text, '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1
UNION ALL
SELECT 'index', indexname, tablename || ': ' || indexdef FROM pg_indexes WHERE schemaname = $1
UNION ALL
SELECT 'constraint', cl.relname || '.' || co.conname, pg_get_constraintdef(co.oid)
FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
JOIN pg_namespace n ON n.oid = co.connamespace WHERE n.nspname = $1
UNION ALL
SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_functiondef(p.oid) || ' acl=' || coalesce(p.proacl::text, '')
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
UNION ALL
SELECT 'trigger', c.relname || '.' || t.tgname,
       pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND NOT t.tgisinternal
"""
# Rows that differ between any two installs: the random wake-up channel, the install time.
_UNCOMPARABLE_TABLES = {"schema_migrations", "hint_key"}

Catalog = dict[tuple[str, str], str]


async def catalog(conn: asyncpg.Connection, schema: str) -> Catalog:
    def plain(text: str | None) -> str:
        return (text or "").replace(quote_ident(schema), "<schema>").replace(schema, "<schema>")

    out = {(r[0], plain(r[1])): plain(r[2]) for r in await conn.fetch(_CATALOG, schema)}
    tables = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
        schema,
    )
    for (table,) in tables:
        if table in _UNCOMPARABLE_TABLES:
            continue
        rows = await conn.fetch(f"SELECT * FROM {quote_ident(schema)}.{quote_ident(table)}")
        out[("rows", table)] = "\n".join(sorted(str(dict(r)) for r in rows))
    return out


def differences(old: Catalog, new: Catalog) -> list[str]:
    lines: list[str] = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        kind, name = key
        if before is None:
            lines.append(f"only in the current files: {kind} {name}")
        elif after is None:
            lines.append(f"only in the other files: {kind} {name}")
        else:
            diff = difflib.unified_diff(
                before.splitlines(), after.splitlines(), "other", "current", n=0, lineterm=""
            )
            lines.append(f"{kind} {name} differs:\n" + "\n".join(diff))
    return lines


async def compare(dsn: str, other: Path, current: Path) -> list[str]:
    conn = await asyncpg.connect(dsn)
    made = [f"hm_diff_{secrets.token_hex(5)}" for _ in range(2)]
    try:
        await migrate(conn, made[0], directory=other)
        await migrate(conn, made[1], directory=current)
        return differences(await catalog(conn, made[0]), await catalog(conn, made[1]))
    finally:
        for schema in made:
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="a folder of NNNN_name.sql schema files")
    parser.add_argument("--current", type=Path, default=SCHEMA_DIR)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    found = asyncio.run(compare(args.dsn, args.other, args.current))
    print("\n".join(found) if found else "identical")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
