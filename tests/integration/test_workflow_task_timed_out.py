"""A workflow task whose lease expires (its worker crashed) is recorded in history as
Temporal records a workflow task timeout (issue 20): WorkflowTaskStarted,
WorkflowTaskTimedOut (START_TO_CLOSE), then the retry's WorkflowTaskScheduled
(attempt 2), which another worker runs. The history replays."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.store.dsn import quote_ident, split_schema
from hotmesh_temporal.api.enums.v1 import EventType, TimeoutType
from hotmesh_temporal.worker import Replayer, Worker


@workflow.defn
class Quick:
    @workflow.run
    async def run(self) -> str:
        return "done"


async def test_expired_lease_is_a_workflow_task_timeout(client, task_queue, migrated_dsn):
    handle = await client.start_workflow(
        Quick.run,
        id=f"wft-timeout-{uuid.uuid4()}",
        task_queue=task_queue,
        task_timeout=timedelta(seconds=1),
    )
    # A worker that leases the task and dies: its lease runs out after the task timeout.
    base, schema = split_schema(migrated_dsn)
    conn = await asyncpg.connect(base)
    try:
        leased = await conn.fetchval(
            f"SELECT {quote_ident(schema)}.lease_workflow_task($1::uuid, $2)",
            handle.first_execution_run_id,
            "crashed-worker",
        )
    finally:
        await conn.close()
    assert leased is not None
    async with Worker(client, task_queue=task_queue, workflows=[Quick]):
        assert await handle.result() == "done"

    history = await handle.fetch_history()
    assert [EventType.Name(e.event_type) for e in history.events] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT",
        "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_STARTED",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
    ]
    started = history.events[2].workflow_task_started_event_attributes
    assert started.scheduled_event_id == 2 and started.identity == "crashed-worker"
    timed_out = history.events[3].workflow_task_timed_out_event_attributes
    assert (timed_out.scheduled_event_id, timed_out.started_event_id) == (2, 3)
    assert timed_out.timeout_type == TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
    retry = history.events[4].workflow_task_scheduled_event_attributes
    assert retry.attempt == 2
    assert history.events[5].workflow_task_started_event_attributes.scheduled_event_id == 5

    result = await Replayer(workflows=[Quick]).replay_workflow(history)
    assert result.replay_failure is None
