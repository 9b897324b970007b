"""Wake-ups of busy transitions are sent after their commit (hotmesh_temporal/_engine/
wakeups.py): the statement returns them instead of sending NOTIFY, and the Store's
WakeupSender sends them. A worker in another process must still be woken."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.runtime.completion import new_run_start
from hotmesh_temporal._engine.store.store import Store
from hotmesh_temporal.worker import Worker


async def _listening(store: Store) -> tuple:
    heard: list[str] = []
    conn = await asyncpg.connect(store.dsn)  # the Store keeps the DSN without its schema
    await conn.add_listener(store.channel, lambda _c, _p, _ch, payload: heard.append(payload))
    return conn, heard


async def _until_heard(heard: list[str]) -> None:
    for _ in range(100):
        if heard:
            return
        await asyncio.sleep(0.02)


def _start(task_queue: str) -> dict:
    return new_run_start(
        namespace="default",
        workflow_id=f"wake-{uuid.uuid4()}",
        run_id=str(uuid.uuid4()),
        workflow_type="Nobody",
        task_queue=task_queue,
        arguments=[],
    )


async def test_a_deferring_start_returns_its_wake_up_and_the_sender_sends_it(migrated_dsn):
    store = await Store.open(migrated_dsn)
    conn, heard = await _listening(store)
    task_queue = f"wake-{uuid.uuid4()}"
    try:
        reply, wakeups = await store.pool.fetchrow(
            store._deferring["start_workflow"], _start(task_queue)
        )
        assert reply["status"] == "started"
        await asyncio.sleep(0.2)
        assert heard == []  # committed, and nobody was woken by the transaction itself
        # The message names no queue: it is the queue's opaque hint (Store.hint).
        hint = "w|" + store.hint("w", f"default|{task_queue}")
        assert task_queue not in wakeups
        assert wakeups.splitlines() == [hint]
        store.wakeups.send(wakeups)
        await _until_heard(heard)
        assert heard == [hint]
    finally:
        await conn.close()
        await store.close()


async def test_concurrent_starts_wake_listeners_either_way(migrated_dsn):
    """Ten starts at once: the first notifies at its commit, those beside it through
    the sender; a listener hears the queue's wake-up for every batch, never none."""
    store = await Store.open(migrated_dsn)
    conn, heard = await _listening(store)
    task_queue = f"wake-{uuid.uuid4()}"
    try:
        replies = await asyncio.gather(
            *(store.fetchval("start_workflow", _start(task_queue)) for _ in range(10))
        )
        assert all(r["status"] == "started" for r in replies)
        await _until_heard(heard)
        assert heard and set(heard) == {"w|" + store.hint("w", f"default|{task_queue}")}
    finally:
        await conn.close()
        await store.close()


# ---------------------------------------------- result() of a run started while listening


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, value: str) -> str:
        return value


async def test_result_of_a_run_started_while_listening_reads_it_once(client, task_queue):
    store = (await client._engine()).store
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):  # it listens
        before = store.calls["run_outcome"]
        handle = await client.start_workflow(
            Echo.run, "hi", id=f"echo-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await handle.result() == "hi"
        # Started here while listening: no look before the close hint, one read after
        # it (the hint carries no outcome).
        assert store.calls["run_outcome"] == before + 1
        # A second result() has nothing expected any more, and reads the run.
        assert await handle.result() == "hi"
        assert store.calls["run_outcome"] == before + 2


async def test_result_after_the_listen_connection_was_lost_still_comes(client, task_queue):
    """A close announced while the LISTEN connection was down is not kept: after the
    reconnect the run is looked up instead of waited on forever."""
    store = (await client._engine()).store
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):
        listener = await store.listener()
        handle = await client.start_workflow(
            Echo.run, "again", id=f"echo-{uuid.uuid4()}", task_queue=task_queue
        )
        admin = await asyncpg.connect(store.dsn)  # the Store keeps the DSN without its schema
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1",
                listener._conn.get_server_pid(),  # type: ignore[union-attr]
            )
        finally:
            await admin.close()
        assert await asyncio.wait_for(handle.result(), 4) == "again"
