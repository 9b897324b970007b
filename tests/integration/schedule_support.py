"""Helpers shared by the schedule and cron tests: a client on a schema of its own (so
moving its clock cannot disturb other tests), clock moves, and polling."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from hotmesh_temporal._engine.store.dsn import quote_ident, with_schema


async def own_schema_client(pg_dsn: str) -> Any:
    """A client on a fresh schema; drop_client() removes it again."""
    from hotmesh_temporal.client import Client

    schema = f"hm_sched_{secrets.token_hex(5)}"
    return await Client.connect(with_schema(pg_dsn, schema))


async def drop_client(client: Any) -> None:
    store = (await client._engine()).store
    await client.service_client.close()
    conn = await asyncpg.connect(store.dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(store.schema)} CASCADE")
    finally:
        await conn.close()


async def sql(client: Any, statement: str, *args: Any) -> list:
    """Run a test-only statement; ``{schema}`` is the client's schema."""
    store = (await client._engine()).store
    return await store.pool.fetch(statement.replace("{schema}", quote_ident(store.schema)), *args)


async def db_now(client: Any) -> datetime:
    store = (await client._engine()).store
    return await store.fetchval("now")


async def advance_clock(client: Any, by: timedelta) -> None:
    """Move the database clock (``{schema}.now()``) forward and wake the sweepers."""
    await sql(
        client,
        "UPDATE {schema}.clock SET offset_us = offset_us + $1",
        int(by.total_seconds() * 1_000_000),
    )
    store = (await client._engine()).store
    sweeper = getattr(store, "_sweeper", None)
    if sweeper is not None:
        sweeper.wake()


async def move_clock_to(client: Any, target: datetime) -> None:
    """Move the clock forward so that now() is ``target`` (never backwards)."""
    now = await db_now(client)
    assert target >= now, "the clock only moves forward"
    await advance_clock(client, target - now)


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 15.0, interval: float = 0.1
) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)


async def scheduled_runs(client: Any, schedule_id: str) -> list:
    """Every run a schedule started (found by its TemporalScheduledById search
    attribute), oldest first: workflow id, run id, status, attributes, start time."""
    return await sql(
        client,
        "SELECT workflow_id, run_id, status, search_attributes, start_time FROM {schema}.executions"
        " WHERE convert_from(decode(search_attributes->'TemporalScheduledById'->>'data',"
        "                           'base64'), 'UTF8') = to_jsonb($1::text)::text"
        " ORDER BY start_time, workflow_id",
        schedule_id,
    )
