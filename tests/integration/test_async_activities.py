"""Async activity completion: an activity calls ``activity.raise_complete_async()`` and a
client finishes it later through ``Client.get_async_activity_handle``, by task token or
by workflow id, run id and activity id, as in temporalio.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import (
    AsyncActivityCancelledError,
    AsyncActivityHandle,
    WorkflowFailureError,
)
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ActivityError, ApplicationError, CancelledError
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker

# Task tokens handed out by the activity, by workflow id, and how often each ran.
TOKENS: dict[str, asyncio.Queue[bytes]] = {}
RUNS: dict[str, int] = {}


def _queue(workflow_id: str) -> asyncio.Queue[bytes]:
    return TOKENS.setdefault(workflow_id, asyncio.Queue())


@activity.defn
async def external_job(name: str) -> str:
    info = activity.info()
    RUNS[info.workflow_id] = RUNS.get(info.workflow_id, 0) + 1
    _queue(info.workflow_id).put_nowait(info.task_token)
    activity.raise_complete_async()


@workflow.defn
class AsyncCompletionWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            external_job,
            name,
            activity_id="job",
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                maximum_attempts=2, initial_interval=timedelta(milliseconds=50)
            ),
        )


@workflow.defn
class CancelAsyncWorkflow:
    @workflow.run
    async def run(self) -> str:
        handle = workflow.start_activity(
            external_job,
            "cancel-me",
            activity_id="job",
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=30),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await workflow.sleep(0.2)
        handle.cancel()
        try:
            await handle
        except ActivityError as err:
            return f"cancelled: {type(err.cause).__name__}"
        return "not cancelled"


async def _start(client, task_queue, workflow=AsyncCompletionWorkflow.run, *args):
    wid = f"async-{uuid.uuid4()}"
    handle = await client.start_workflow(workflow, *args, id=wid, task_queue=task_queue)
    token = await asyncio.wait_for(_queue(wid).get(), 10)
    return handle, token


async def test_complete_by_task_token(client, task_queue):
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[AsyncCompletionWorkflow],
        activities=[external_job],
    ):
        handle, token = await _start(client, task_queue, AsyncCompletionWorkflow.run, "a")
        activity_handle = client.get_async_activity_handle(task_token=token)
        assert isinstance(activity_handle, AsyncActivityHandle)
        assert await activity_handle.heartbeat("halfway") is None
        await activity_handle.complete("done by token")
        assert await handle.result() == "done by token"
        assert RUNS[handle.id] == 1
        # The attempt is over: a second completion finds nothing.
        with pytest.raises(RPCError) as err:
            await activity_handle.complete("again")
        assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_complete_by_ids(client, task_queue):
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[AsyncCompletionWorkflow],
        activities=[external_job],
    ):
        handle, _ = await _start(client, task_queue, AsyncCompletionWorkflow.run, "b")
        by_ids = client.get_async_activity_handle(
            workflow_id=handle.id, run_id=None, activity_id="job"
        )
        await by_ids.complete("done by ids")
        assert await handle.result() == "done by ids"


async def test_fail_is_retried_then_fails_the_workflow(client, task_queue):
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[AsyncCompletionWorkflow],
        activities=[external_job],
    ):
        handle, token = await _start(client, task_queue, AsyncCompletionWorkflow.run, "c")
        await client.get_async_activity_handle(task_token=token).fail(
            ApplicationError("first try broke", type="Broken")
        )
        # The retry policy gives a second attempt, which runs the activity again.
        second = await asyncio.wait_for(_queue(handle.id).get(), 10)
        assert second != token
        await client.get_async_activity_handle(task_token=second).fail(
            ApplicationError("second try broke", type="Broken")
        )
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
        cause = err.value.cause
        assert isinstance(cause, ActivityError)
        assert isinstance(cause.cause, ApplicationError)
        assert cause.cause.message == "second try broke"
        assert RUNS[handle.id] == 2


async def test_heartbeat_reports_cancellation_and_cancel_completes(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[CancelAsyncWorkflow], activities=[external_job]
    ):
        handle, token = await _start(client, task_queue, CancelAsyncWorkflow.run)
        activity_handle = client.get_async_activity_handle(task_token=token)
        for _ in range(100):
            try:
                await activity_handle.heartbeat()
            except AsyncActivityCancelledError as err:
                assert err.details is not None and err.details.cancel_requested
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the heartbeat never reported the cancellation")
        await activity_handle.report_cancellation()
        assert await handle.result() == f"cancelled: {CancelledError.__name__}"


async def test_unknown_activity_is_not_found(client):
    with pytest.raises(RPCError) as err:
        await client.get_async_activity_handle(
            workflow_id=f"missing-{uuid.uuid4()}", run_id=None, activity_id="job"
        ).complete("x")
    assert err.value.status == RPCStatusCode.NOT_FOUND
    with pytest.raises(RPCError) as err:
        await client.get_async_activity_handle(task_token=b"not a token").heartbeat()
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT


def test_handle_needs_token_or_ids(client):
    with pytest.raises(ValueError):
        client.get_async_activity_handle()
    with pytest.raises(ValueError):
        client.get_async_activity_handle(task_token=b"1:1", activity_id="job")
