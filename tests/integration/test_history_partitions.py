"""History partitioned by day of run start: partitions are made ahead, dropped once
every run in them has expired, and a schema from before partitioning keeps its rows.

Each test has a schema of its own and moves that schema's clock (the engine's time is
``now()`` plus the clock table's offset, as in the time-skipping environment) to see
days pass.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.service import namespaces as ns
from hotmesh_temporal._engine.store import migrate as migrate_mod
from hotmesh_temporal._engine.store.dsn import quote_ident, with_schema
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker


@workflow.defn
class ShortWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        await workflow.sleep(0.01)
        return value


@workflow.defn
class OpenWorkflow:
    def __init__(self) -> None:
        self._done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._done)
        return "closed"

    @workflow.signal
    def close(self) -> None:
        self._done = True


@pytest.fixture
async def schema(pg_dsn: str) -> AsyncIterator[str]:
    name = f"hm_part_{uuid.uuid4().hex[:10]}"
    yield name
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE")
    finally:
        await conn.close()


async def _partitions(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = $1::regclass",
        f"{quote_ident(schema)}.history_events",
    )
    return {r["relname"] for r in rows}


async def _days_later(conn: asyncpg.Connection, schema: str, days: int) -> None:
    await conn.execute(
        f"UPDATE {quote_ident(schema)}.clock SET offset_us = offset_us + $1",
        days * 86_400 * 1_000_000,
    )


async def _history_rows(conn: asyncpg.Connection, schema: str, run_id: str) -> int:
    return await conn.fetchval(
        f"SELECT count(*) FROM {quote_ident(schema)}.history_events WHERE run_id = $1",
        uuid.UUID(run_id),
    )


async def test_partitions_are_made_ahead_and_dropped_when_their_runs_expire(
    pg_dsn: str, schema: str
) -> None:
    client = await Client.connect(with_schema(pg_dsn, schema))
    store = (await client._engine()).store
    conn = await asyncpg.connect(pg_dsn)
    queue = f"part-{uuid.uuid4().hex[:8]}"
    try:
        today = await conn.fetchval(
            f"SELECT to_char(({quote_ident(schema)}.now() AT TIME ZONE 'UTC')::date, 'YYYYMMDD')"
        )
        parts = await _partitions(conn, schema)
        # Today's partition and three days ahead, and the default. (The migration's
        # partition for what started before it held nothing here, so it is gone.)
        assert f"history_events_p{today}" in parts
        assert len([p for p in parts if p.startswith("history_events_p")]) == 4
        assert "history_events_default" in parts
        assert not any(p.startswith("history_events_before_") for p in parts)

        await ns.set_retention_limits(store, min_retention=timedelta(seconds=1))
        await ns.upsert_namespace(store, "default", retention=timedelta(hours=1))
        async with Worker(client, task_queue=queue, workflows=[ShortWorkflow, OpenWorkflow]):
            done = await client.start_workflow(ShortWorkflow.run, "x", id="d1", task_queue=queue)
            await done.result()
            still_open = await client.start_workflow(OpenWorkflow.run, id="o1", task_queue=queue)
            await still_open.describe()
            # The events are in the partition of the day the runs started.
            in_today = await conn.fetchval(
                f"SELECT count(*) FROM {quote_ident(schema)}.history_events_p{today}"
                " WHERE run_id = $1",
                uuid.UUID(done.result_run_id),
            )
            assert in_today == await _history_rows(conn, schema, done.result_run_id) > 0

            # Two days on: today's partition is over, but a run in it is still open.
            await _days_later(conn, schema, 2)
            changes = await ns.maintain_partitions(store)
            assert changes.made == 2  # the new days ahead
            assert f"history_events_p{today}" in await _partitions(conn, schema)

            # Once that run has closed and its retention passed, the day goes at once.
            await still_open.signal(OpenWorkflow.close)
            assert await still_open.result() == "closed"
        await _days_later(conn, schema, 1)
        changes = await ns.maintain_partitions(store)
        assert changes.dropped >= 1
        assert f"history_events_p{today}" not in await _partitions(conn, schema)
        assert await _history_rows(conn, schema, done.result_run_id) == 0
        # The runs' other rows go with the row-by-row purge.
        assert await ns.purge_expired(store) == 2
    finally:
        await conn.close()
        await client.service_client.close()


async def test_a_schema_from_before_partitioning_keeps_its_history(
    pg_dsn: str, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The schema as the previous build made it: every schema file before partitioning.
    before = tmp_path / "schema"
    before.mkdir()
    files = migrate_mod.migration_files()
    partitioning = next(v for v, name, _ in files if name == "history_partitions")
    for version, _, path in files:
        if version < partitioning:
            shutil.copy(path, before / path.name)
    monkeypatch.setattr(migrate_mod, "SCHEMA_DIR", before)
    queue = f"old-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(with_schema(pg_dsn, schema))
    async with Worker(client, task_queue=queue, workflows=[ShortWorkflow]):
        old = await client.start_workflow(ShortWorkflow.run, "old", id="old", task_queue=queue)
        assert await old.result() == "old"
    old_events = [e.event_type for e in (await old.fetch_history()).events]
    await client.service_client.close()
    conn = await asyncpg.connect(pg_dsn)
    try:
        kind = await conn.fetchval(
            "SELECT relkind::text FROM pg_class WHERE oid = $1::regclass",
            f"{quote_ident(schema)}.history_events",
        )
        assert kind == "r"  # a plain table before the upgrade
    finally:
        await conn.close()

    # This build: the upgrade moves every row into the partitioned table.
    monkeypatch.undo()
    client = await Client.connect(with_schema(pg_dsn, schema))
    conn = await asyncpg.connect(pg_dsn)
    try:
        parent = await conn.fetchval(
            "SELECT relkind::text FROM pg_class WHERE oid = $1::regclass",
            f"{quote_ident(schema)}.history_events",
        )
        assert parent == "p"  # partitioned now
        same = client.get_workflow_handle("old", run_id=old.result_run_id)
        assert [e.event_type for e in (await same.fetch_history()).events] == old_events
        async with Worker(client, task_queue=queue, workflows=[ShortWorkflow]):
            assert (
                await client.execute_workflow(ShortWorkflow.run, "new", id="new", task_queue=queue)
                == "new"
            )
    finally:
        await conn.close()
        await client.service_client.close()
