"""Schema names the README accepts (any plain identifier: mixed case, SQL keywords)
work end to end: their wake-ups reach the workers and clients listening for them, so
steps are woken by notifications, not found by the fallback poll."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import asyncpg
import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal._engine.store.dsn import split_schema, with_schema
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker


@activity.defn
async def twice(value: int) -> int:
    return value * 2


@workflow.defn
class Steps:
    @workflow.run
    async def run(self, value: int) -> int:
        for _ in range(3):
            value = await workflow.execute_activity(
                twice, value, start_to_close_timeout=timedelta(seconds=10)
            )
        return value


# Keyword names cannot be made unique per run: runs on one server take turns.
_KEYWORD_LOCK = 0x68_6D_6B_77


@pytest.mark.parametrize(
    "schema", ["user", "order", "MixedCase_{tag}", "select_{tag}", "Order"], ids=str
)
async def test_wake_ups_arrive_for_any_accepted_schema_name(pg_dsn: str, schema: str) -> None:
    base, _ = split_schema(pg_dsn)
    schema = schema.format(tag=secrets.token_hex(3))
    admin = await asyncpg.connect(base)
    await admin.execute("SELECT pg_advisory_lock($1)", _KEYWORD_LOCK)
    quoted = '"' + schema + '"'
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {quoted} CASCADE")
        client = await Client.connect(with_schema(base, schema))
        try:
            store = (await client._engine()).store
            listener = await store.listener()
            heard: list[str] = []
            for kind in "c":
                listener.subscribe(kind, lambda hint, kind=kind: heard.append(f"{kind}|{hint}"))
            task_queue = f"steps-{uuid.uuid4()}"
            async with Worker(client, task_queue=task_queue, workflows=[Steps], activities=[twice]):
                handle = await client.start_workflow(
                    Steps.run, 1, id=f"steps-{uuid.uuid4()}", task_queue=task_queue
                )
                assert await handle.result() == 8
            # The close was announced on the channel clients and workers listen on (a
            # lost wake-up would leave only the 5 s fallback re-check). Activities went
            # to this process's worker directly (run-ahead), so that is the one sent.
            assert "c|" + store.hint("c", handle.result_run_id or "") in heard
        finally:
            await client.service_client.close()
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {quoted} CASCADE")
        await admin.execute("SELECT pg_advisory_unlock($1)", _KEYWORD_LOCK)
        await admin.close()
