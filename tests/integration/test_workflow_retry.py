"""Workflow-level retry policy: a failed run is retried as a new run of the same id."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import WorkflowExecutionStatus, WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ApplicationError
from hotmesh_temporal.worker import Worker

FAST = dict(initial_interval=timedelta(milliseconds=50), backoff_coefficient=1.0)


@workflow.defn
class Flaky:
    @workflow.run
    async def run(self, succeed_on: int, non_retryable: bool) -> dict[str, Any]:
        info = workflow.info()
        if info.attempt < succeed_on:
            raise ApplicationError(f"attempt {info.attempt}", non_retryable=non_retryable)
        policy = info.retry_policy
        return {
            "attempt": info.attempt,
            "continued": info.continued_run_id is not None,
            "first": info.first_execution_run_id,
            "max": policy and policy.maximum_attempts,
            "last_failure": str(workflow.get_last_failure()),
        }


def wf_id() -> str:
    return f"retry-{uuid.uuid4()}"


async def start_flaky(client, task_queue: str, succeed_on: int, non_retryable: bool, **policy):
    return await client.start_workflow(
        Flaky.run,
        args=[succeed_on, non_retryable],
        id=wf_id(),
        task_queue=task_queue,
        retry_policy=RetryPolicy(**policy, **FAST),
    )


async def run_events(client, run_id: str) -> list:
    store = (await client._engine()).store
    return await store.fetchval("events_after", uuid.UUID(run_id), 0)


async def test_failed_run_is_retried_until_it_succeeds(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Flaky]):
        handle = await start_flaky(client, task_queue, 3, False, maximum_attempts=5)
        result = await handle.result()
    assert result["attempt"] == 3
    assert result["continued"] is True
    assert result["first"] == handle.result_run_id
    assert result["max"] == 5
    assert result["last_failure"] == "attempt 2"
    events = await run_events(client, handle.result_run_id)
    failed = events[-1]
    assert failed["type"] == "WorkflowExecutionFailed"
    assert failed["attrs"]["retryState"] == "RETRY_STATE_IN_PROGRESS"
    second = await run_events(client, failed["attrs"]["newExecutionRunId"])
    started = second[0]["attrs"]
    assert started["attempt"] == 2
    assert started["initiator"] == "CONTINUE_AS_NEW_INITIATOR_RETRY"
    assert started["continuedExecutionRunId"] == handle.result_run_id
    assert started["continuedFailure"]["message"] == "attempt 1"
    assert started["firstWorkflowTaskBackoff"] == "0.05s"


async def test_retries_stop_at_maximum_attempts(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Flaky]):
        handle = await start_flaky(client, task_queue, 10, False, maximum_attempts=2)
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
        assert str(info.value.cause) == "attempt 2"
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result(follow_runs=False)
        assert str(info.value.cause) == "attempt 1"
    last = await client.get_workflow_handle(handle.id).describe()
    events = await run_events(client, last.run_id)
    assert events[-1]["attrs"]["retryState"] == "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"


async def test_non_retryable_failure_is_not_retried(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Flaky]):
        handle = await start_flaky(client, task_queue, 2, True, maximum_attempts=5)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    events = await run_events(client, handle.result_run_id)
    assert events[-1]["attrs"]["retryState"] == "RETRY_STATE_NON_RETRYABLE_FAILURE"
    assert "newExecutionRunId" not in events[-1]["attrs"]


async def test_without_retry_policy_a_failure_is_final(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Flaky]):
        handle = await client.start_workflow(
            Flaky.run, args=[2, False], id=wf_id(), task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    events = await run_events(client, handle.result_run_id)
    assert events[-1]["attrs"]["retryState"] == "RETRY_STATE_RETRY_POLICY_NOT_SET"


@workflow.defn
class FlakyCron:
    @workflow.run
    async def run(self) -> int:
        if workflow.info().attempt == 1:
            raise ApplicationError("cron run fails once")
        return workflow.info().attempt


async def test_cron_run_retries_before_the_next_cron_run(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[FlakyCron]):
        handle = await client.start_workflow(
            FlakyCron.run,
            id=wf_id(),
            task_queue=task_queue,
            cron_schedule="@every 1s",
            retry_policy=RetryPolicy(maximum_attempts=3, **FAST),
        )
        first_run = client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        for _ in range(200):  # the first run waits for the first cron time
            if (await first_run.describe()).status != WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.05)
        first = await run_events(client, handle.result_run_id)
        failed = first[-1]
        assert failed["type"] == "WorkflowExecutionFailed"
        assert failed["attrs"]["retryState"] == "RETRY_STATE_IN_PROGRESS"
        retry_run = failed["attrs"]["newExecutionRunId"]
        retry = client.get_workflow_handle(handle.id, run_id=retry_run)
        assert await retry.result(follow_runs=False) == 2
        retry_events = await run_events(client, retry_run)
        assert retry_events[0]["attrs"]["initiator"] == "CONTINUE_AS_NEW_INITIATOR_RETRY"
        next_cron = retry_events[-1]["attrs"]["newExecutionRunId"]
        cron_start = (await run_events(client, next_cron))[0]["attrs"]
        assert cron_start["initiator"] == "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE"
        assert cron_start["attempt"] == 1
        await client.get_workflow_handle(handle.id).terminate("end of test")


@workflow.defn
class HangsUntil:
    """Waits forever on the attempts before ``finish_on``, so its run timeout ends them."""

    @workflow.run
    async def run(self, finish_on: int) -> dict[str, Any]:
        info = workflow.info()
        if info.attempt < finish_on:
            await workflow.wait_condition(lambda: False)
        return {"attempt": info.attempt, "last_failure": str(workflow.get_last_failure())}


async def start_hanging(client, task_queue: str, finish_on: int, **options):
    return await client.start_workflow(
        HangsUntil.run,
        finish_on,
        id=wf_id(),
        task_queue=task_queue,
        run_timeout=options.pop("run_timeout", timedelta(seconds=1)),
        **options,
    )


async def test_run_timeout_is_retried_by_the_retry_policy(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[HangsUntil]):
        handle = await start_hanging(
            client, task_queue, 2, retry_policy=RetryPolicy(maximum_attempts=3, **FAST)
        )
        result = await asyncio.wait_for(handle.result(), 20)
    assert result == {"attempt": 2, "last_failure": "workflow timeout"}
    first = await run_events(client, handle.result_run_id)
    timed_out = first[-1]
    assert timed_out["type"] == "WorkflowExecutionTimedOut"
    assert timed_out["attrs"]["retryState"] == "RETRY_STATE_IN_PROGRESS"
    first_run = client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    assert (await first_run.describe()).status == WorkflowExecutionStatus.TIMED_OUT
    second = (await run_events(client, timed_out["attrs"]["newExecutionRunId"]))[0]["attrs"]
    assert second["attempt"] == 2
    assert second["initiator"] == "CONTINUE_AS_NEW_INITIATOR_RETRY"
    assert second["continuedExecutionRunId"] == handle.result_run_id
    assert second["continuedFailure"]["timeoutFailureInfo"] == {
        "timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"
    }
    assert second["firstWorkflowTaskBackoff"] == "0.05s"


async def test_run_timeout_retries_stop_at_maximum_attempts(client, task_queue):
    from hotmesh_temporal.exceptions import TimeoutError as TemporalTimeoutError

    async with Worker(client, task_queue=task_queue, workflows=[HangsUntil]):
        handle = await start_hanging(
            client, task_queue, 99, retry_policy=RetryPolicy(maximum_attempts=2, **FAST)
        )
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), 20)
    assert isinstance(info.value.cause, TemporalTimeoutError)
    last = await client.get_workflow_handle(handle.id).describe()
    assert last.run_id != handle.result_run_id
    events = await run_events(client, last.run_id)
    assert events[0]["attrs"]["attempt"] == 2
    assert events[-1]["type"] == "WorkflowExecutionTimedOut"
    assert events[-1]["attrs"] == {"retryState": "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"}


async def test_run_timeout_listed_as_non_retryable_is_not_retried(client, task_queue):
    policy = RetryPolicy(
        maximum_attempts=3,
        non_retryable_error_types=["TemporalTimeout:TIMEOUT_TYPE_START_TO_CLOSE"],
        **FAST,
    )
    async with Worker(client, task_queue=task_queue, workflows=[HangsUntil]):
        handle = await start_hanging(client, task_queue, 2, retry_policy=policy)
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), 20)
    events = await run_events(client, handle.result_run_id)
    assert events[-1]["attrs"] == {"retryState": "RETRY_STATE_NON_RETRYABLE_FAILURE"}


async def test_run_timeout_without_retry_policy_is_final(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[HangsUntil]):
        handle = await start_hanging(client, task_queue, 2)
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), 20)
    events = await run_events(client, handle.result_run_id)
    assert events[-1]["type"] == "WorkflowExecutionTimedOut"
    assert events[-1]["attrs"] == {"retryState": "RETRY_STATE_RETRY_POLICY_NOT_SET"}


async def test_execution_timeout_bounds_every_retry(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[HangsUntil]):
        handle = await start_hanging(
            client,
            task_queue,
            99,
            execution_timeout=timedelta(seconds=2.5),
            retry_policy=RetryPolicy(**FAST),
        )
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), 20)
    runs = [r async for r in client.list_workflows(f"WorkflowId = '{handle.id}'")]
    # Runs of 1 s each, retried until the execution deadline 2.5 s after the first
    # start (each retry does not get an execution timeout of its own).
    assert len(runs) >= 2
    first_start = min(r.start_time for r in runs)
    last_close = max(r.close_time for r in runs)
    assert timedelta(seconds=2) <= last_close - first_start < timedelta(seconds=3.5)
    last = await run_events(client, (await client.get_workflow_handle(handle.id).describe()).run_id)
    assert last[-1]["attrs"] == {"retryState": "RETRY_STATE_TIMEOUT"}
    expiries = set()
    for run in runs:
        started = (await run_events(client, run.run_id))[0]["attrs"]
        expiries.add(started["workflowExecutionExpirationTime"])
    assert len(expiries) == 1
