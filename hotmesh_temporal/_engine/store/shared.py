"""One Store per (event loop, database, schema, TLS context) in a process.

Temporal users connect clients freely (one per request handler, per test, per
worker); each used to open its own pool of up to 10 connections that nothing ever
closed, so ten clients could exhaust a default Postgres. Clients now share the Store of
their database and schema: the first one opens it, each later one only counts itself
in, and the last one to let go closes it (pool, LISTEN and wake-up connections).

asyncpg pools belong to the event loop that made them, so the loop is part of the key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hotmesh_temporal._engine.store.dsn import split_schema
from hotmesh_temporal._engine.store.store import Store

# The shared pool's bound: every client and worker of a process on one schema share
# these connections (docs/operations.md, "Connection budget").
SHARED_POOL_MAX_SIZE = 10


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    store: Store | None = None
    users: int = 0


_entries: dict[tuple, _Entry] = {}


def _key(dsn: str, ssl: Any) -> tuple:
    plain, schema = split_schema(dsn)
    # Two TLS contexts may differ in anything: only the same object shares a pool.
    return (id(asyncio.get_running_loop()), plain, schema, None if ssl is None else id(ssl))


async def acquire_store(dsn: str, *, ssl: Any = None) -> Store:
    """The process's Store for ``dsn``'s database and schema, opened on first use;
    every call must be matched by one :func:`release_store`."""
    key = _key(dsn, ssl)
    entry = _entries.setdefault(key, _Entry())
    async with entry.lock:
        if entry.store is None:
            entry.store = await Store.open(dsn, max_size=SHARED_POOL_MAX_SIZE, ssl=ssl)
        entry.users += 1
        return entry.store


async def release_store(store: Store) -> None:
    """One user of ``store`` is done; the last one closes it."""
    for key, entry in list(_entries.items()):
        if entry.store is not store:
            continue
        async with entry.lock:
            entry.users -= 1
            if entry.users > 0:
                return
            entry.store = None
            if _entries.get(key) is entry:
                del _entries[key]
        await store.close()
        return
    await store.close()  # not shared (opened directly): close it as before


def shared_store_users(store: Store) -> int:
    """How many clients hold ``store`` (0 when it is not shared); for tests and tools."""
    for entry in _entries.values():
        if entry.store is store:
            return entry.users
    return 0
