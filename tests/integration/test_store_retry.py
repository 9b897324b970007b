"""A transition that Postgres aborts to break a deadlock is run again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.dsn import quote_ident, split_schema
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
