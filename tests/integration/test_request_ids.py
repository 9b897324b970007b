"""A client call whose connection is lost mid-statement is sent again with the same
request id and applied once: the caller sees one outcome, the history one event.

Two ways to lose it: the server process is killed while the statement runs (nothing
committed: the retry applies the call), and the connection drops after the commit,
before the reply arrives (the retry is answered from the request ledger, the run id
or the update id, and changes nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.store.dsn import quote_ident, split_schema, with_schema
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker


@workflow.defn
class Inbox:
    def __init__(self) -> None:
        self.signals: list[str] = []
        self.updates = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    def note(self, value: str) -> None:
        self.signals.append(value)

    @workflow.update
    def bump(self) -> int:
        self.updates += 1
        return self.updates


class ReplyDroppingProxy:
    """A TCP proxy in front of Postgres. Once armed with a marker, the first statement
    whose parameters carry it reaches the server and runs (and commits), but its reply
    is swallowed and the connection closed: the client cannot know it committed."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self.marker: bytes | None = None
        self.dropped = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, client_r: Any, client_w: Any) -> None:
        server_r, server_w = await asyncio.open_connection(*self._upstream)
        # Set when this connection sent the marked statement: its reply is dropped.
        hit = asyncio.Event()
        up = asyncio.ensure_future(self._pump_up(client_r, server_w, hit))
        down = asyncio.ensure_future(self._pump_down(server_r, client_w, hit))
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for pump in (up, down):
            pump.cancel()
        for writer in (client_w, server_w):
            writer.close()

    async def _pump_up(self, reader: Any, writer: Any, hit: asyncio.Event) -> None:
        while data := await reader.read(65536):
            if self.marker is not None and self.marker in data:
                self.marker = None
                hit.set()
            writer.write(data)
            await writer.drain()

    async def _pump_down(self, reader: Any, writer: Any, hit: asyncio.Event) -> None:
        while data := await reader.read(65536):
            if hit.is_set():
                # The server answers a statement after its commit (the reply is
                # flushed with ReadyForQuery): drop it and the connection.
                self.dropped += 1
                return
            writer.write(data)
            await writer.drain()


@contextlib.asynccontextmanager
async def proxied_client(migrated_dsn: str) -> AsyncIterator[tuple[Client, ReplyDroppingProxy]]:
    base, schema = split_schema(migrated_dsn)
    parts = urlsplit(base)
    proxy = ReplyDroppingProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await proxy.start()
    dsn = with_schema(base.replace(parts.netloc, f"{parts.username}@127.0.0.1:{port}"), schema)
    client = await Client.connect(dsn)
    try:
        yield client, proxy
    finally:
        await ((await client._engine()).store).close()
        await proxy.close()


async def _kill_while_running(dsn: str, marker: str) -> None:
    """Terminate the server process of the session running ``marker`` (once)."""
    conn = await asyncpg.connect(split_schema(dsn)[0])
    try:
        for _ in range(300):
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


async def killed_midway(client: Client, dsn: str, name: str, call: Awaitable[Any]) -> Any:
    """Run ``call`` with the real statement ``name`` made slow (it sleeps after its
    work, in the same transaction), kill its server process while it sleeps, and
    return what the caller gets."""
    store = (await client._engine()).store
    marker = f"slow_{name}_{uuid.uuid4().hex[:8]}"
    real = store.queries[name]
    store.queries[name] = f"{real}, pg_sleep(0.3) AS {marker}"
    try:
        running = asyncio.ensure_future(call)
        await _kill_while_running(dsn, marker)
        return await asyncio.wait_for(running, 20)
    finally:
        store.queries[name] = real


async def _events(client: Client, workflow_id: str, kind: str) -> list:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [e for e in history.events if e.HasField(kind)]


async def _repeats(dsn: str) -> int:
    """Calls answered from the request ledger instead of being applied again."""
    base, schema = split_schema(dsn)
    conn = await asyncpg.connect(base)
    try:
        return await conn.fetchval(
            f"SELECT coalesce(sum(repeats), 0) FROM {quote_ident(schema)}.applied_requests"
        )
    finally:
        await conn.close()


@pytest.mark.parametrize("lost", ["killed_midway", "reply_lost"])
async def test_a_signal_whose_connection_is_lost_is_delivered_once(
    client, migrated_dsn, task_queue, lost
):
    async with Worker(client, task_queue=task_queue, workflows=[Inbox]):
        handle = await client.start_workflow(
            Inbox.run, id=f"sig-{uuid.uuid4()}", task_queue=task_queue
        )
        async with proxied_client(migrated_dsn) as (caller, proxy):
            target = caller.get_workflow_handle(handle.id)
            repeats_before = await _repeats(migrated_dsn)
            if lost == "killed_midway":
                await killed_midway(
                    caller, migrated_dsn, "signal_workflow_once", target.signal(Inbox.note, "x")
                )
            else:
                proxy.marker = handle.id.encode()
                await asyncio.wait_for(target.signal(Inbox.note, "x"), 20)
                assert proxy.dropped == 1
                # the first attempt had committed: the retry was answered from the ledger
                assert await _repeats(migrated_dsn) == repeats_before + 1
            store = (await caller._engine()).store
            assert store.calls["signal_workflow_once"] == 1  # one call, sent twice
        signaled = await _events(client, handle.id, "workflow_execution_signaled_event_attributes")
        assert len(signaled) == 1
        assert signaled[0].workflow_execution_signaled_event_attributes.request_id
        await handle.terminate()


@pytest.mark.parametrize("lost", ["killed_midway", "reply_lost"])
async def test_a_start_whose_connection_is_lost_starts_one_run(
    client, migrated_dsn, task_queue, lost
):
    workflow_id = f"start-{uuid.uuid4()}"
    async with proxied_client(migrated_dsn) as (caller, proxy):
        start = caller.start_workflow(Inbox.run, id=workflow_id, task_queue=task_queue)
        if lost == "killed_midway":
            handle = await killed_midway(caller, migrated_dsn, "start_workflow", start)
        else:
            proxy.marker = workflow_id.encode()
            handle = await asyncio.wait_for(start, 20)
            assert proxy.dropped == 1
    # The caller got its run, not WorkflowAlreadyStartedError for its own start.
    runs = [r async for r in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    assert [r.run_id for r in runs] == [handle.result_run_id]
    started = await _events(client, workflow_id, "workflow_execution_started_event_attributes")
    assert len(started) == 1
    await client.get_workflow_handle(workflow_id).terminate()


@pytest.mark.parametrize("lost", ["killed_midway", "reply_lost"])
async def test_signal_with_start_whose_connection_is_lost_signals_once(
    client, migrated_dsn, task_queue, lost
):
    async with Worker(client, task_queue=task_queue, workflows=[Inbox]):
        handle = await client.start_workflow(
            Inbox.run, id=f"sws-{uuid.uuid4()}", task_queue=task_queue
        )
        async with proxied_client(migrated_dsn) as (caller, proxy):
            # The workflow runs: signal-with-start only signals it.
            call = caller.start_workflow(
                Inbox.run,
                id=handle.id,
                task_queue=task_queue,
                start_signal="note",
                start_signal_args=["x"],
            )
            if lost == "killed_midway":
                await killed_midway(caller, migrated_dsn, "signal_with_start", call)
            else:
                proxy.marker = handle.id.encode()
                await asyncio.wait_for(call, 20)
                assert proxy.dropped == 1
        signaled = await _events(client, handle.id, "workflow_execution_signaled_event_attributes")
        assert len(signaled) == 1
        await handle.terminate()


@pytest.mark.parametrize("lost", ["killed_midway", "reply_lost"])
async def test_an_update_whose_connection_is_lost_is_applied_once(
    client, migrated_dsn, task_queue, lost
):
    async with Worker(client, task_queue=task_queue, workflows=[Inbox]):
        handle = await client.start_workflow(
            Inbox.run, id=f"upd-{uuid.uuid4()}", task_queue=task_queue
        )
        async with proxied_client(migrated_dsn) as (caller, proxy):
            target = caller.get_workflow_handle(handle.id)
            update_id = f"bump-{uuid.uuid4()}"
            call = target.execute_update(Inbox.bump, id=update_id)
            if lost == "killed_midway":
                result = await killed_midway(caller, migrated_dsn, "request_update", call)
            else:
                proxy.marker = update_id.encode()
                result = await asyncio.wait_for(call, 20)
                assert proxy.dropped == 1
        assert result == 1
        accepted = await _events(
            client, handle.id, "workflow_execution_update_accepted_event_attributes"
        )
        assert len(accepted) == 1
        await handle.terminate()


@pytest.mark.parametrize("call", ["cancel", "terminate"])
async def test_cancel_and_terminate_whose_reply_is_lost_are_applied_once(
    client, migrated_dsn, task_queue, call
):
    handle = await client.start_workflow(Inbox.run, id=f"end-{uuid.uuid4()}", task_queue=task_queue)
    async with proxied_client(migrated_dsn) as (caller, proxy):
        target = caller.get_workflow_handle(handle.id)
        proxy.marker = handle.id.encode()
        await asyncio.wait_for(getattr(target, call)(), 20)
        assert proxy.dropped == 1
    kind = (
        "workflow_execution_cancel_requested_event_attributes"
        if call == "cancel"
        else "workflow_execution_terminated_event_attributes"
    )
    assert len(await _events(client, handle.id, kind)) == 1
    if call == "cancel":
        await handle.terminate()
