"""Sync activities in a process pool: heartbeats, cancellation and worker shutdown
cross the process boundary through a SharedStateManager, as in temporalio."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import time
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ActivityError, CancelledError
from hotmesh_temporal.worker import SharedStateManager, Worker


@activity.defn
def progress_then_fail(steps: int) -> list:
    """Attempt 1 heartbeats its progress and fails; attempt 2 resumes from it."""
    info = activity.info()
    if info.attempt == 1:
        for step in range(steps):
            activity.heartbeat(step)
            time.sleep(0.05)
        time.sleep(0.3)  # let the last heartbeat reach the worker before failing
        raise RuntimeError("crash after heartbeats")
    return [info.attempt, list(info.heartbeat_details)]


@activity.defn
def wait_for_cancel() -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        activity.heartbeat()
        if activity.is_cancelled():
            return "saw cancellation"
        time.sleep(0.05)
    return "never cancelled"


@activity.defn
def wait_for_shutdown() -> str:
    activity.heartbeat()
    activity.wait_for_worker_shutdown_sync(20)
    if activity.is_worker_shutdown():
        raise RuntimeError("worker shut down")
    return "no shutdown"


@workflow.defn
class ResumeWorkflow:
    @workflow.run
    async def run(self) -> list:
        return await workflow.execute_activity(
            progress_then_fail,
            4,
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
        )


@workflow.defn
class CancelWorkflow:
    @workflow.run
    async def run(self) -> str:
        handle = workflow.start_activity(
            wait_for_cancel,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=10),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await workflow.sleep(0.5)
        handle.cancel()
        try:
            return await handle
        except ActivityError as err:
            return f"cancelled: {type(err.cause).__name__}"


@workflow.defn
class ShutdownWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            wait_for_shutdown,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


@pytest.fixture(scope="module")
def shared_state():
    with multiprocessing.Manager() as mgr:
        yield SharedStateManager.create_from_multiprocessing(mgr)


@pytest.fixture(scope="module")
def pool():
    with concurrent.futures.ProcessPoolExecutor(2) as executor:
        yield executor


async def test_heartbeat_details_reach_the_next_attempt(client, task_queue, pool, shared_state):
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ResumeWorkflow],
        activities=[progress_then_fail],
        activity_executor=pool,
        shared_state_manager=shared_state,
    ):
        attempt, details = await client.execute_workflow(
            ResumeWorkflow.run, id=f"pp-{uuid.uuid4()}", task_queue=task_queue
        )
    assert attempt == 2
    assert details == [3]


async def test_cancellation_reaches_the_child_process(client, task_queue, pool, shared_state):
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CancelWorkflow],
        activities=[wait_for_cancel],
        activity_executor=pool,
        shared_state_manager=shared_state,
    ):
        result = await client.execute_workflow(
            CancelWorkflow.run, id=f"pp-{uuid.uuid4()}", task_queue=task_queue
        )
    # The activity saw the request and returned normally: Temporal reports that a
    # cancellation-requested activity completed, so the workflow gets its result.
    assert result in ("saw cancellation", f"cancelled: {CancelledError.__name__}")


async def test_worker_shutdown_reaches_the_child_process(client, task_queue, pool, shared_state):
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[ShutdownWorkflow],
        activities=[wait_for_shutdown],
        activity_executor=pool,
        shared_state_manager=shared_state,
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    async with worker:
        handle = await client.start_workflow(
            ShutdownWorkflow.run, id=f"pp-{uuid.uuid4()}", task_queue=task_queue
        )
        await asyncio.sleep(1.0)  # the activity is waiting in the child process
        started = time.monotonic()
    assert time.monotonic() - started < 4, "shutdown waited for the graceful timeout"
    async with Worker(client, task_queue=task_queue, workflows=[ShutdownWorkflow]):
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
    assert "worker shut down" in str(err.value.cause.cause)


def test_process_pool_needs_a_shared_state_manager(client, pool):
    with pytest.raises(ValueError, match="shared_state_manager"):
        Worker(client, task_queue="q", activities=[wait_for_cancel], activity_executor=pool)
