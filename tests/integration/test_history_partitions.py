"""History partitioned by day of run start: partitions are made ahead, dropped once
every run in them has expired, and events of a day without a partition wait in the
default partition until that day's is made.

Each test has a schema of its own and moves that schema's clock (the engine's time is
``now()`` plus the clock table's offset, as in the time-skipping environment) to see
days pass.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.service import namespaces as ns
from hotmesh_temporal._engine.store.dsn import quote_ident, with_schema
from hotmesh_temporal._engine.store.store import Store
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


async def _rows_in(conn: asyncpg.Connection, schema: str, partition: str, run: uuid.UUID) -> int:
    return await conn.fetchval(
        f"SELECT count(*) FROM {quote_ident(schema)}.{quote_ident(partition)} WHERE run_id = $1",
        run,
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
        # Today's partition and three days ahead, and the default: nothing else.
        assert f"history_events_p{today}" in parts
        assert len([p for p in parts if p.startswith("history_events_p")]) == 4
        assert "history_events_default" in parts
        assert len(parts) == 5

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


async def test_a_day_without_a_partition_waits_in_the_default_one_and_moves_out(
    pg_dsn: str, schema: str
) -> None:
    # A client alone (no worker, so no sweeper keeps the partitions meanwhile).
    client = await Client.connect(with_schema(pg_dsn, schema))
    store = (await client._engine()).store
    conn = await asyncpg.connect(pg_dsn)
    queue = f"late-{uuid.uuid4().hex[:8]}"
    try:
        # Ten days on, past the days made ahead: a fleet that was down, a skipped clock.
        await _days_later(conn, schema, 10)
        day = await conn.fetchval(
            f"SELECT to_char(({quote_ident(schema)}.now() AT TIME ZONE 'UTC')::date, 'YYYYMMDD')"
        )
        assert f"history_events_p{day}" not in await _partitions(conn, schema)
        late = await client.start_workflow(ShortWorkflow.run, "late", id="late", task_queue=queue)
        run = uuid.UUID(late.first_execution_run_id)
        started = [e.event_type for e in (await late.fetch_history()).events]
        assert await _rows_in(conn, schema, "history_events_default", run) == len(started) > 0

        changes = await ns.maintain_partitions(store)
        assert changes.made == 4  # that day and the three after it
        assert changes.dropped == 4  # the days made at install, all past and empty
        assert await _rows_in(conn, schema, "history_events_default", run) == 0
        assert await _rows_in(conn, schema, f"history_events_p{day}", run) == len(started)
        assert [e.event_type for e in (await late.fetch_history()).events] == started

        # The run goes on in its day's partition.
        async with Worker(client, task_queue=queue, workflows=[ShortWorkflow]):
            assert await late.result() == "late"
        total = await _history_rows(conn, schema, late.first_execution_run_id)
        assert total > len(started)
        assert await _rows_in(conn, schema, f"history_events_p{day}", run) == total
    finally:
        await conn.close()
        await client.service_client.close()


async def test_starts_that_race_the_making_of_their_days_partition_all_land(
    pg_dsn: str, schema: str
) -> None:
    # A day's partition is made while runs of that day are being started (a fleet back
    # after downtime, a time-skipping test that jumps weeks): every start must succeed
    # and every event must end up in that day's partition, none left in the default.
    client = await Client.connect(with_schema(pg_dsn, schema))
    store = (await client._engine()).store
    conn = await asyncpg.connect(pg_dsn)
    queue = f"race-{uuid.uuid4().hex[:8]}"
    try:
        runs: list[uuid.UUID] = []
        for round_no in range(6):
            await _days_later(conn, schema, 10)
            starts = [
                client.start_workflow(
                    ShortWorkflow.run, "x", id=f"race-{round_no}-{i}", task_queue=queue
                )
                for i in range(40)
            ]
            # The partitions are made while the starts are in flight.
            *handles, _ = await asyncio.gather(*starts, _maintain_soon(store))
            runs += [uuid.UUID(h.first_execution_run_id) for h in handles]
            await ns.maintain_partitions(store)
        for run in runs:
            assert await _rows_in(conn, schema, "history_events_default", run) == 0
        in_default = await conn.fetchval(
            f"SELECT count(*) FROM {quote_ident(schema)}.history_events_default"
        )
        assert in_default == 0
    finally:
        await conn.close()
        await client.service_client.close()


async def _maintain_soon(store: Store) -> None:
    await asyncio.sleep(0.005)
    await ns.maintain_partitions(store)


async def test_a_long_writer_delays_a_days_partition_instead_of_stalling_history(
    pg_dsn: str, schema: str
) -> None:
    # Making a partition waits for the writers of history; a long transaction holding
    # its write lock must not make every later writer queue behind that wait: the
    # sweeper gives up after a moment and makes the day at a later turn.
    client = await Client.connect(with_schema(pg_dsn, schema))
    store = (await client._engine()).store
    conn = await asyncpg.connect(pg_dsn)
    writer = await asyncpg.connect(pg_dsn)
    try:
        await _days_later(conn, schema, 10)
        day = await conn.fetchval(
            f"SELECT to_char(({quote_ident(schema)}.now() AT TIME ZONE 'UTC')::date, 'YYYYMMDD')"
        )
        tx = writer.transaction()
        await tx.start()
        await writer.execute(
            f"LOCK TABLE {quote_ident(schema)}.history_events IN ROW EXCLUSIVE MODE"
        )
        changes = await asyncio.wait_for(ns.maintain_partitions(store), 30)
        assert changes.made == 0
        assert f"history_events_p{day}" not in await _partitions(conn, schema)
        await tx.rollback()
        changes = await ns.maintain_partitions(store)
        assert changes.made == 4  # that day and the three after it
        assert f"history_events_p{day}" in await _partitions(conn, schema)
    finally:
        await writer.close()
        await conn.close()
        await client.service_client.close()
