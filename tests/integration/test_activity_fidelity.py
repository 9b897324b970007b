"""Activity behaviour temporalio's worker has (issue 20)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ActivityError, ApplicationError
from hotmesh_temporal.worker import Worker


@activity.defn
async def plain(value: str) -> str:
    return value.upper()


@workflow.defn
class OnlyStartToClose:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_local_activity(
            plain, "ok", start_to_close_timeout=timedelta(seconds=5)
        )


async def test_local_activity_with_only_start_to_close_timeout_runs(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[OnlyStartToClose], activities=[plain]
    ):
        result = await client.execute_workflow(
            OnlyStartToClose.run, id=f"la-stc-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == "OK"


class _Unserializable:
    pass


@activity.defn
async def bad_heartbeat() -> str:
    activity.heartbeat(_Unserializable())
    await asyncio.sleep(10)  # cancelled by the failed heartbeat
    return "finished anyway"


@workflow.defn
class BadHeartbeatWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            bad_heartbeat,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def test_unserializable_heartbeat_details_fail_the_attempt(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[BadHeartbeatWorkflow], activities=[bad_heartbeat]
    ):
        with pytest.raises(WorkflowFailureError) as err:
            await client.execute_workflow(
                BadHeartbeatWorkflow.run, id=f"hb-bad-{uuid.uuid4()}", task_queue=task_queue
            )
    cause = err.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "TypeError"
    assert "is not JSON serializable" in cause.cause.message
