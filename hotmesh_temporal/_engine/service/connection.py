"""Opening the engine, and the administration of its schema: what the client's
connection, the ``migrate`` command and the test environment need, without reaching
into the store themselves."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from hotmesh_temporal._engine.service.engine import Engine
from hotmesh_temporal._engine.service.errors import RPCError, RPCStatusCode
from hotmesh_temporal._engine.service.loop_checks import check_loop_can_do_io
from hotmesh_temporal._engine.store import migrate as _migrate
from hotmesh_temporal._engine.store.dsn import (
    DEFAULT_SCHEMA,
    SCHEMA_ENV,
    quote_ident,
    resolve_target,
    split_schema,
    validate_schema,
    with_schema,
)
from hotmesh_temporal._engine.store.store import DatabaseUnavailableError
from hotmesh_temporal._engine.store.tls import tls_context

__all__ = [
    "DEFAULT_SCHEMA",
    "SCHEMA_ENV",
    "drop_schema",
    "migrate",
    "migration_script",
    "open_engine",
    "quote_ident",
    "resolve_target",
    "split_schema",
    "validate_schema",
    "with_schema",
]


async def open_engine(target_host: str, tls: Any) -> Engine:
    """The engine over the database ``target_host`` names (a DSN, HOTMESH_DSN, the
    local server or the embedded Postgres: ``docs/operations.md``). A database that
    cannot be reached is an UNAVAILABLE RPCError; a loop that cannot do socket I/O at
    all (loop_checks) a RuntimeError saying why."""
    check_loop_can_do_io(asyncio.get_running_loop())
    dsn = await resolve_target(target_host)
    try:
        return await Engine.open(dsn, ssl=tls_context(tls))
    except DatabaseUnavailableError as err:
        raise RPCError(str(err), RPCStatusCode.UNAVAILABLE, b"") from err


def migration_script(schema: str) -> str:
    """The SQL of every schema file and migration, for the user's own migration tool."""
    return _migrate.script(schema)


async def migrate(dsn: str, schema: str) -> list[int]:
    """Bring ``schema`` up to date; the versions applied (none when up to date)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await _migrate.migrate(conn, schema)
    finally:
        await conn.close()


async def drop_schema(base_dsn: str, schema: str) -> Exception | None:
    """Drop ``schema`` and everything in it. When the database cannot be reached
    (nothing is left to drop then) the connection error is returned, not raised."""
    try:
        conn = await asyncpg.connect(base_dsn)
    except Exception as err:
        return err
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
    finally:
        await conn.close()
    return None
