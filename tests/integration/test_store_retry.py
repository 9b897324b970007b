"""A transition that Postgres aborts to break a deadlock is run again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.store.dsn import quote_ident, split_schema
from hotmesh_temporal.client import WorkflowExecutionStatus


@workflow.defn
class Idle:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def test_terminate_survives_a_deadlock(client, migrated_dsn):
    # A run whose first task is an hour away, so that nothing else touches it.
    handle = await client.start_workflow(
        Idle.run, id=f"deadlock-{uuid.uuid4()}", task_queue="nobody", start_delay=timedelta(hours=1)
    )
    run_id = uuid.UUID(handle.result_run_id)
    base, schema = split_schema(migrated_dsn)
    q = quote_ident(schema)
    other = await asyncpg.connect(base)
    try:
        # The other session detects deadlocks late, so Postgres aborts the terminate.
        await other.execute("SET deadlock_timeout = '20s'")
        async with other.transaction():
            await other.execute(
                f"SELECT 1 FROM {q}.workflow_tasks WHERE run_id = $1 FOR UPDATE", run_id
            )
            # terminate_workflow locks the execution, then waits for the task row.
            terminate = asyncio.ensure_future(handle.terminate("deadlocked"))
            await asyncio.sleep(0.3)
            # Now the other session wants the execution: a lock cycle.
            await other.execute(
                f"SELECT 1 FROM {q}.executions WHERE run_id = $1 FOR UPDATE", run_id
            )
        await asyncio.wait_for(terminate, 10)
    finally:
        await other.close()
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED


async def _kill_backend_running(dsn: str, marker: str) -> None:
    """Terminate the server process of whichever session is running ``marker``."""
    conn = await asyncpg.connect(split_schema(dsn)[0])
    try:
        for _ in range(200):
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE query LIKE $1 AND pid <> pg_backend_pid()",
                f"%{marker}%",
            )
            if killed:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"no session ran {marker}")
    finally:
        await conn.close()


async def _killed_midway(store, dsn: str, name: str, value: str) -> asyncio.Future:
    """Run the named statement, with a body slow enough to kill that returns
    ``value``, and kill its server process while it runs; the call, still going."""
    marker = f"killed_{name}_marker"
    store.queries[name] = f"SELECT {value} FROM pg_sleep(0.3) AS {marker}"
    running = asyncio.ensure_future(store.fetchval(name))
    await _kill_backend_running(dsn, marker)
    return running


async def test_a_read_whose_connection_dies_is_sent_again(migrated_dsn):
    from hotmesh_temporal._engine.store.store import Store

    store = await Store.open(migrated_dsn)
    try:
        # "now" is a read, so it may run twice.
        read = await _killed_midway(store, migrated_dsn, "now", "42")
        assert await asyncio.wait_for(read, 10) == 42
    finally:
        await store.close()


async def test_a_statement_without_request_id_whose_connection_dies_is_not_sent_again(
    migrated_dsn,
):
    from hotmesh_temporal._engine.store.store import DATABASE_GONE_ERRORS, Store

    store = await Store.open(migrated_dsn)
    try:
        # The plain signal statement may have committed before the connection died:
        # sending it again could deliver it twice, so the caller hears of the loss.
        signal = await _killed_midway(store, migrated_dsn, "signal_workflow", "1")
        try:
            await asyncio.wait_for(signal, 10)
        except DATABASE_GONE_ERRORS as err:
            assert not isinstance(err, asyncpg.InterfaceError), err
        else:
            raise AssertionError("a signal on a dead connection reported success")
        assert store.calls["signal_workflow"] == 1
    finally:
        await store.close()


async def test_a_signal_with_request_id_whose_connection_dies_is_sent_again(migrated_dsn):
    from hotmesh_temporal._engine.store.store import Store

    store = await Store.open(migrated_dsn)
    try:
        # The client's signal carries a request id and is applied once per id
        # (test_request_ids.py), so a lost connection is retried with the same id.
        signal = await _killed_midway(store, migrated_dsn, "signal_workflow_once", "'ok'")
        assert await asyncio.wait_for(signal, 10) == "ok"
    finally:
        await store.close()
