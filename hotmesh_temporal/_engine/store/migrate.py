"""Schema install and upgrades: numbered SQL files applied once, in order, under an
advisory lock.

Two folders of ``NNNN_name.sql`` files (four or more digits, then a name), one
numbering across both:

* ``_engine/sql/schema/``: the current schema, in ordered parts (one per feature). A new
  database gets these, and nothing else.
* ``_engine/sql/migrations/``: upgrades, from the first release on. Each takes a schema
  of the release before it to the next. A new database records them as applied without
  running them (the schema files already include their effect); an existing one runs
  those it lacks. ``tests/integration/test_schema_upgrade.py`` checks that both paths
  give the same catalog.

The token ``{{schema}}`` in a file stands for the quoted schema identifier. Each file is
applied in its own transaction together with its row in ``<schema>.schema_migrations``;
a file that fails leaves nothing behind.

Many processes may start at once against a fresh database: they queue on a session
advisory lock keyed on the schema name, and every one after the first finds the work
done. When everything is applied already, :func:`migrate` costs one query.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hotmesh_temporal._engine.store.dsn import quote_ident, validate_schema

if TYPE_CHECKING:
    import asyncpg

logger = logging.getLogger("hotmesh_temporal")

SCHEMA_DIR = Path(__file__).parent.parent / "sql" / "schema"
MIGRATIONS_DIR = Path(__file__).parent.parent / "sql" / "migrations"
SCHEMA_TOKEN = "{{schema}}"
SCHEMA_NAME_TOKEN = "{{schema_name}}"
_FILE_RE = re.compile(r"(\d{4,})_([A-Za-z0-9_\-]+)\.sql\Z")


def lock_key(schema: str) -> int:
    """The advisory-lock key for migrating ``schema``: a stable signed 64-bit number."""
    digest = hashlib.blake2b(f"hotmesh_temporal:migrate:{schema}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def migration_files(directory: Path | str | None = None) -> list[tuple[int, str, Path]]:
    """The schema files (or those of ``directory``) as (version, name, path), sorted by
    version."""
    folder = Path(directory) if directory is not None else SCHEMA_DIR
    found: dict[int, tuple[int, str, Path]] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(
                f"two migration files share version {version}: "
                f"{found[version][2].name} and {path.name}"
            )
        found[version] = (version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def render_sql(schema: str, directory: Path | str | None = None) -> list[tuple[int, str, str]]:
    """Every migration as (version, name, SQL text) with ``{{schema}}`` filled in (the
    quoted identifier) and ``{{schema_name}}`` (the bare name, for string literals such
    as ``format('%I', ...)`` in dynamic SQL)."""
    quoted = quote_ident(validate_schema(schema))
    literal = schema.replace("'", "''")
    return [
        (
            version,
            name,
            path.read_text(encoding="utf-8")
            .replace(SCHEMA_NAME_TOKEN, literal)
            .replace(SCHEMA_TOKEN, quoted),
        )
        for version, name, path in migration_files(directory)
    ]


def upgrade_files(directory: Path | str | None = None) -> list[tuple[int, str, Path]]:
    """The upgrade files of ``_engine/sql/migrations/`` (or ``directory``), sorted."""
    folder = Path(directory) if directory is not None else MIGRATIONS_DIR
    return migration_files(folder) if folder.is_dir() else []


class SchemaMismatchError(RuntimeError):
    """The schema was made by a different build of this package: a file it recorded has
    changed since. Upgrade files never change once released; schema files change only
    with an upgrade file that brings older schemas along, and before the first release
    (no upgrade files yet) they are edited in place, so such a schema cannot be
    upgraded. Nothing was changed."""


def checksum(sql_template: str) -> str:
    """A migration file's fingerprint (of its text before the schema is filled in)."""
    return hashlib.sha256(sql_template.encode()).hexdigest()[:16]


def migration_checksums(directory: Path | str | None = None) -> dict[int, str]:
    return {
        v: checksum(path.read_text(encoding="utf-8")) for v, _, path in migration_files(directory)
    }


def bootstrap_sql(schema: str) -> str:
    """The SQL that creates the schema and its ``schema_migrations`` table. The schema
    is created only when missing: CREATE SCHEMA (even IF NOT EXISTS) needs CREATE on
    the database, which a role that merely owns the schema does not have."""
    q = quote_ident(schema)
    literal = "'" + q.replace("'", "''") + "'"
    return (
        f"DO $bootstrap$ BEGIN IF to_regnamespace({literal}) IS NULL THEN "
        f"EXECUTE 'CREATE SCHEMA ' || {literal}; END IF; END $bootstrap$;\n"
        f"CREATE TABLE IF NOT EXISTS {q}.schema_migrations (\n"
        "    version int PRIMARY KEY,\n"
        "    name text NOT NULL,\n"
        "    applied_at timestamptz NOT NULL DEFAULT now(),\n"
        "    checksum text\n"
        ");\n"
        f"ALTER TABLE {q}.schema_migrations ADD COLUMN IF NOT EXISTS checksum text;\n"
    )


def _record_sql(schema: str) -> str:
    return (
        f"INSERT INTO {quote_ident(schema)}.schema_migrations (version, name, checksum) "
        "VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING"
    )


def script(schema: str, directory: Path | str | None = None) -> str:
    """One psql-ready script: bootstrap, then each migration and its bookkeeping row in
    a transaction of its own. For teams that apply migrations with their own tools."""
    q = quote_ident(schema)
    out = [f"-- hotmesh_temporal schema for schema {q}\n", bootstrap_sql(schema)]
    sums = migration_checksums(directory)
    for version, name, sql in render_sql(schema, directory):
        escaped = name.replace("'", "''")
        out.append(
            f"\n-- {version:04d}_{name}\nBEGIN;\n{sql.rstrip()}\n"
            f"INSERT INTO {q}.schema_migrations (version, name, checksum) "
            f"VALUES ({version}, '{escaped}', '{sums[version]}') ON CONFLICT (version) DO NOTHING;\n"
            "COMMIT;\n"
        )
    if directory is None:
        # A new schema includes every upgrade: record them, as migrate() does.
        for version, name, path in upgrade_files():
            escaped = name.replace("'", "''")
            out.append(
                f"\n-- {version:04d}_{name} (upgrade: included above)\n"
                f"INSERT INTO {q}.schema_migrations (version, name, checksum) VALUES "
                f"({version}, '{escaped}', '{checksum(path.read_text(encoding='utf-8'))}') "
                "ON CONFLICT (version) DO NOTHING;\n"
            )
    return "".join(out)


async def applied_versions(conn: asyncpg.Connection, schema: str) -> dict[int, str | None] | None:
    """The versions recorded in ``<schema>.schema_migrations`` with their checksums
    (None for a table from before checksums were kept), or None if it does not exist."""
    import asyncpg

    table = f"{quote_ident(schema)}.schema_migrations"
    try:
        rows = await conn.fetch(f"SELECT version, checksum FROM {table}")
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return None
    except asyncpg.UndefinedColumnError:
        rows = [(r[0], None) for r in await conn.fetch(f"SELECT version FROM {table}")]
    return {r[0]: r[1] for r in rows}


def _check_unchanged(schema: str, applied: dict[int, str | None], sums: dict[int, str]) -> None:
    """``sums``: the checksums that must match (see SchemaMismatchError)."""
    changed = sorted(v for v, recorded in applied.items() if v in sums and recorded != sums[v])
    if changed:
        raise SchemaMismatchError(
            f"schema {schema} was made by another build of hotmesh_temporal: migration(s) "
            f"{', '.join(f'{v:04d}' for v in changed)} changed since they were applied. Before "
            f"the first release the schema files are edited in place, so this schema cannot "
            f"be upgraded; nothing was changed. Use a new schema, or drop this one "
            f"(DROP SCHEMA {quote_ident(schema)} CASCADE) to start afresh."
        )


class MigrationPrivilegeError(RuntimeError):
    """The connecting role lacks a privilege the migration needs; the message names it."""


async def _bootstrap(conn: asyncpg.Connection, schema: str) -> None:
    import asyncpg

    try:
        await conn.execute(bootstrap_sql(schema))
    except asyncpg.InsufficientPrivilegeError as err:
        role, database = await conn.fetchrow("SELECT current_user, current_database()")
        q = quote_ident(schema)
        raise MigrationPrivilegeError(
            f"role {role!r} cannot create schema {q} in database {database!r} ({err}). "
            f"Either GRANT CREATE ON DATABASE {quote_ident_any(database)} TO "
            f"{quote_ident_any(role)}, or have an administrator create the schema for it: "
            f"CREATE SCHEMA {q} AUTHORIZATION {quote_ident_any(role)} "
            "(docs/operations.md, Security)."
        ) from err


def quote_ident_any(name: str) -> str:
    """Any Postgres identifier quoted (role and database names are not validated)."""
    return '"' + name.replace('"', '""') + '"'


def _checked_sums(part_sums: dict[int, str], upgrade_sums: dict[int, str]) -> dict[int, str]:
    """The checksums an installed schema must match: the upgrade files' always; the
    schema files' only while there is no upgrade file (after that they move on with each
    release, and an installed schema is identified by the upgrades it recorded)."""
    return upgrade_sums if upgrade_sums else part_sums


async def migrate(
    conn: asyncpg.Connection,
    schema: str,
    *,
    directory: Path | str | None = None,
    upgrades: Path | str | None = None,
    pooled: bool = False,
) -> list[int]:
    """Install or upgrade ``schema``; return the versions put in place here.

    A schema with none of the schema files recorded is new: it gets the schema files,
    and the upgrade files are recorded without running (the schema files include them).
    Otherwise the missing files run, in version order. ``directory`` replaces the schema
    folder and ``upgrades`` the migrations folder (with ``directory`` given and no
    ``upgrades``, there are none).

    Must not be called inside an open transaction. Serialised across connections and
    processes by ``pg_advisory_lock`` on a key derived from the schema name; with
    ``pooled`` (a connection through a transaction-mode pooler, where a session lock
    would outlive the transaction on a server connection that others then get) the
    whole upgrade is one transaction holding ``pg_advisory_xact_lock`` instead.
    """
    validate_schema(schema)
    parts = render_sql(schema, directory)
    if upgrades is None and directory is not None:
        deltas: list[tuple[int, str, str]] = []
        upgrade_sums: dict[int, str] = {}
    else:
        deltas = _render_upgrades(schema, upgrades)
        upgrade_sums = {
            v: checksum(path.read_text(encoding="utf-8")) for v, _, path in upgrade_files(upgrades)
        }
    part_sums = migration_checksums(directory)
    overlap = part_sums.keys() & upgrade_sums.keys()
    if overlap:
        raise ValueError(f"schema and upgrade files share versions {sorted(overlap)}")
    plan = _Plan(
        files=sorted([*parts, *deltas]),
        sums={**part_sums, **upgrade_sums},
        parts=set(part_sums),
        checked=_checked_sums(part_sums, upgrade_sums),
    )

    applied = await applied_versions(conn, schema)  # the fast path: one query
    if applied is not None:
        _check_unchanged(schema, applied, plan.checked)
        if plan.sums.keys() <= applied.keys():
            return []
    if pooled:
        async with conn.transaction():
            return await _migrate_locked(conn, schema, plan, "pg_advisory_xact_lock")
    return await _migrate_locked(conn, schema, plan, "pg_advisory_lock")


@dataclass(frozen=True)
class _Plan:
    files: list[tuple[int, str, str]]  # (version, name, SQL) of schema and upgrade files
    sums: dict[int, str]  # every file's checksum
    parts: set[int]  # the versions of the schema files
    checked: dict[int, str]  # the checksums an installed schema must match


async def _migrate_locked(
    conn: asyncpg.Connection, schema: str, plan: _Plan, lock: str
) -> list[int]:
    key = lock_key(schema)
    await conn.execute(f"SELECT {lock}($1)", key)
    try:
        await _bootstrap(conn, schema)
        applied = await applied_versions(conn, schema) or {}
        _check_unchanged(schema, applied, plan.checked)
        fresh = not (applied.keys() & plan.parts)
        done: list[int] = []
        record = _record_sql(schema)
        for version, name, sql in plan.files:
            if version in applied:
                continue
            run = version in plan.parts or not fresh
            logger.info(
                "%s %04d_%s in schema %s",
                "applying" if run else "recording (included in the schema files)",
                version,
                name,
                schema,
            )
            async with conn.transaction():
                if run:
                    await conn.execute(sql)
                await conn.execute(record, version, name, plan.sums[version])
            done.append(version)
        newer = {v for v in applied if v > max(plan.sums, default=0)}
        if newer:
            logger.warning(
                "schema %s has migrations newer than this package knows: %s",
                schema,
                sorted(newer),
            )
        return done
    finally:
        if lock == "pg_advisory_lock":  # the transaction's lock ends with it
            try:
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
            except Exception:  # the connection is gone: its lock went with it
                pass


def _render_upgrades(schema: str, directory: Path | str | None) -> list[tuple[int, str, str]]:
    folder = Path(directory) if directory is not None else MIGRATIONS_DIR
    return render_sql(schema, folder) if folder.is_dir() and upgrade_files(folder) else []
