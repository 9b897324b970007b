"""Retention, as Temporal's: closed runs are deleted, with their history, once their
namespace's retention has passed; running runs never are.

Each test works in a schema of its own, since it changes the deployment's retention
settings (the minimum is lowered to a second so the test can wait for expiry).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.service import namespaces as ns
from hotmesh_temporal._engine.store.dsn import quote_ident, with_schema
from hotmesh_temporal.client import Client
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker


@workflow.defn
class QuickWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        return value


@workflow.defn
class WaitingWorkflow:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._done)
        return "done"

    @workflow.signal
    def finish(self) -> None:
        self._done = True


@pytest.fixture
async def schema_dsn(pg_dsn: str) -> AsyncIterator[tuple[str, str]]:
    schema = f"hm_ret_{uuid.uuid4().hex[:10]}"
    yield with_schema(pg_dsn, schema), schema
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
    finally:
        await conn.close()


async def _count(pg_dsn: str, schema: str, table: str, run_id: str) -> int:
    conn = await asyncpg.connect(pg_dsn)
    try:
        return await conn.fetchval(
            f"SELECT count(*) FROM {quote_ident(schema)}.{table} WHERE run_id = $1",
            uuid.UUID(run_id),
        )
    finally:
        await conn.close()


async def _gone(client: Client, workflow_id: str, run_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND
        return True
    return False


async def _wait_until(check, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_retention_deletes_exactly_the_closed_runs_past_it(
    pg_dsn: str, schema_dsn: tuple[str, str]
) -> None:
    dsn, schema = schema_dsn
    client = await Client.connect(dsn)
    other = await Client.connect(dsn, namespace="keeps-longer")
    store = (await client._engine()).store
    await ns.set_retention_limits(
        store, min_retention=timedelta(seconds=1), purge_every=timedelta(seconds=0.2)
    )
    await ns.upsert_namespace(store, "default", retention=timedelta(seconds=2))
    queue = f"ret-{uuid.uuid4().hex[:8]}"
    try:
        async with (
            Worker(client, task_queue=queue, workflows=[QuickWorkflow, WaitingWorkflow]),
            Worker(other, task_queue=queue, workflows=[QuickWorkflow]),
        ):
            closed = await client.start_workflow(
                QuickWorkflow.run, "a", id="closed", task_queue=queue
            )
            await closed.result()
            running = await client.start_workflow(
                WaitingWorkflow.run, id="running", task_queue=queue
            )
            kept = await other.start_workflow(QuickWorkflow.run, "b", id="kept", task_queue=queue)
            await kept.result()
            assert await _count(pg_dsn, schema, "history_events", closed.result_run_id) > 0

            # Past its 2 s retention the closed run goes, with its history; the running
            # one stays, and so does the run of a namespace with the default (72 h).
            await _wait_until(lambda: _gone(client, "closed", closed.result_run_id))
            assert await _count(pg_dsn, schema, "history_events", closed.result_run_id) == 0
            assert (await running.describe()).status is not None
            assert (await kept.describe()).run_id == kept.result_run_id

            # A run closed just now is not past its retention yet.
            await running.signal(WaitingWorkflow.finish)
            assert await running.result() == "done"
            await asyncio.sleep(0.5)
            assert not await _gone(client, "running", running.result_run_id)
            await _wait_until(lambda: _gone(client, "running", running.result_run_id))
            assert await _count(pg_dsn, schema, "history_events", running.result_run_id) == 0
            assert not await _gone(other, "kept", kept.result_run_id)
    finally:
        await other.service_client.close()
        await client.service_client.close()


async def test_namespace_settings_and_the_minimum_retention(schema_dsn: tuple[str, str]) -> None:
    dsn, _ = schema_dsn
    client = await Client.connect(dsn)
    store = (await client._engine()).store
    try:
        # A namespace nobody registered has the deployment's default, Temporal's 72 h.
        fresh = await ns.describe_namespace(store, "never-registered")
        assert fresh.retention == timedelta(hours=72)
        assert fresh.created_at is None
        # Temporal's minimum is a day.
        with pytest.raises(ns.RetentionTooShortError, match="shorter than the minimum"):
            await ns.upsert_namespace(store, "orders", retention=timedelta(hours=1))
        created = await ns.upsert_namespace(
            store, "orders", retention=timedelta(days=3), description="order runs"
        )
        assert (created.retention, created.description) == (timedelta(days=3), "order runs")
        # An update changes only what it names.
        updated = await ns.upsert_namespace(store, "orders", retention=timedelta(days=30))
        assert (updated.retention, updated.description) == (timedelta(days=30), "order runs")
        assert [n.namespace for n in await ns.list_namespaces(store)] == ["orders"]
    finally:
        await client.service_client.close()


async def test_delete_runs_never_deletes_a_running_run(schema_dsn: tuple[str, str]) -> None:
    dsn, _ = schema_dsn
    client = await Client.connect(dsn)
    store = (await client._engine()).store
    queue = f"del-{uuid.uuid4().hex[:8]}"
    try:
        async with Worker(client, task_queue=queue, workflows=[QuickWorkflow, WaitingWorkflow]):
            done = await client.start_workflow(QuickWorkflow.run, "x", id="done", task_queue=queue)
            await done.result()
            running = await client.start_workflow(WaitingWorkflow.run, id="busy", task_queue=queue)
            deleted = await ns.delete_runs(
                store, [done.result_run_id, running.first_execution_run_id]
            )
            assert deleted == 1
            assert await _gone(client, "done", done.result_run_id)
            await running.signal(WaitingWorkflow.finish)
            assert await running.result() == "done"
    finally:
        await client.service_client.close()
