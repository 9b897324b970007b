"""Clients of one process share one bounded pool per database and schema, released
when no client uses it (issue 20): connecting many clients no longer exhausts
Postgres's connections."""

from __future__ import annotations

import asyncio
import gc
import uuid

import asyncpg

from hotmesh_temporal._engine.store.dsn import split_schema
from hotmesh_temporal._engine.store.shared import SHARED_POOL_MAX_SIZE, shared_store_users
from hotmesh_temporal.client import Client


def _tagged(dsn: str) -> tuple[str, str]:
    """``dsn`` with an application_name only this test's connections carry."""
    tag = f"pooltest-{uuid.uuid4().hex[:8]}"
    return f"{dsn}&application_name={tag}", tag


async def _backends(dsn: str, tag: str) -> int:
    conn = await asyncpg.connect(split_schema(dsn)[0].split("?")[0])
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", tag
        )
    finally:
        await conn.close()


async def test_clients_share_one_bounded_pool_released_by_the_last(migrated_dsn):
    dsn, tag = _tagged(migrated_dsn)
    clients = [await Client.connect(dsn) for _ in range(25)]
    stores = {id((await c.service_client._engine()).store) for c in clients}
    assert len(stores) == 1
    store = (await clients[0].service_client._engine()).store
    assert shared_store_users(store) == 25

    # Every client busy at once: the process never holds more than the pool's bound
    # plus its LISTEN and wake-up connections.
    await asyncio.gather(*(c.count_workflows() for c in clients for _ in range(4)))
    assert await _backends(migrated_dsn, tag) <= SHARED_POOL_MAX_SIZE + 2

    for c in clients[:-1]:
        await c.service_client.close()
    assert shared_store_users(store) == 1
    assert (await clients[-1].count_workflows()).count >= 0  # still usable
    await clients[-1].service_client.close()
    assert shared_store_users(store) == 0
    assert await _backends(migrated_dsn, tag) == 0


async def test_a_dropped_client_lets_go_of_its_pool(migrated_dsn):
    dsn, tag = _tagged(migrated_dsn)
    client = await Client.connect(dsn)
    await client.count_workflows()
    assert await _backends(migrated_dsn, tag) >= 1
    del client
    gc.collect()
    for _ in range(50):
        await asyncio.sleep(0.05)
        if await _backends(migrated_dsn, tag) == 0:
            break
    assert await _backends(migrated_dsn, tag) == 0


async def test_other_schemas_get_their_own_pool(migrated_dsn):
    from hotmesh_temporal._engine.store.dsn import with_schema

    other = with_schema(migrated_dsn, f"hm_pool_{uuid.uuid4().hex[:8]}")
    first = await Client.connect(migrated_dsn)
    second = await Client.connect(other)
    try:
        assert (await first.service_client._engine()).store is not (
            await second.service_client._engine()
        ).store
    finally:
        await first.service_client.close()
        await second.service_client.close()
        conn = await asyncpg.connect(split_schema(other)[0])
        await conn.execute(f'DROP SCHEMA IF EXISTS "{split_schema(other)[1]}" CASCADE')
        await conn.close()


async def test_many_results_awaited_at_once_share_one_listen_connection(migrated_dsn):
    """A hundred ``handle.result()`` calls started together wait on one LISTEN
    connection: each once opened its own (a race on the first listener), and a CI run
    with 120 awaited results ran out of Postgres's 100 connections."""
    dsn, tag = _tagged(migrated_dsn)
    client = await Client.connect(dsn)
    task_queue = f"nobody-polls-{uuid.uuid4()}"
    handles = [
        await client.start_workflow("Unserved", id=f"w-{uuid.uuid4()}", task_queue=task_queue)
        for _ in range(100)
    ]
    waiting = asyncio.gather(*(h.result() for h in handles))
    try:
        await asyncio.sleep(1.0)
        assert await _backends(migrated_dsn, tag) <= SHARED_POOL_MAX_SIZE + 2
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await client.service_client.close()
