"""Workflow-side semantics on a real Postgres: timers, asyncio primitives, errors,
cancellation, termination, describe, replay after eviction, nondeterminism."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from hotmesh_temporal.common import WorkflowIDReusePolicy
from hotmesh_temporal.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
    WorkflowAlreadyStartedError,
)
from hotmesh_temporal.worker import Worker


def wf_id() -> str:
    return f"wf-{uuid.uuid4()}"


@activity.defn
async def echo(value: str) -> str:
    return value


@workflow.defn
class TimerWorkflow:
    @workflow.run
    async def run(self) -> list:
        start = workflow.now()
        await asyncio.sleep(0.3)
        after_asyncio = workflow.now()
        await workflow.sleep(timedelta(milliseconds=300))
        after_sleep = workflow.now()
        return [
            (after_asyncio - start).total_seconds(),
            (after_sleep - after_asyncio).total_seconds(),
        ]


async def test_timers_are_durable_and_advance_workflow_time(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[TimerWorkflow]):
        first, second = await client.execute_workflow(
            TimerWorkflow.run, id=wf_id(), task_queue=task_queue
        )
    assert 0.3 <= first < 2.0
    assert 0.3 <= second < 2.0


@workflow.defn
class GatherWorkflow:
    def __init__(self) -> None:
        self.ready = False

    @workflow.run
    async def run(self) -> list:
        results = await asyncio.gather(
            *[
                workflow.execute_activity(
                    echo, f"v{i}", start_to_close_timeout=timedelta(seconds=10)
                )
                for i in range(5)
            ]
        )
        lock = asyncio.Lock()
        event = asyncio.Event()
        queue: asyncio.Queue = asyncio.Queue()

        async def producer() -> None:
            async with lock:
                await asyncio.sleep(0.05)
                await queue.put("item")
                event.set()

        task = asyncio.create_task(producer())
        await event.wait()
        item = await queue.get()
        await task
        timed_out = (
            await workflow.wait_condition(lambda: self.ready, timeout=timedelta(milliseconds=100))
            if False
            else None
        )
        try:
            await asyncio.wait_for(asyncio.Event().wait(), 0.1)
            waited = "no timeout"
        except asyncio.TimeoutError:
            waited = "timeout"
        try:
            await workflow.wait_condition(lambda: self.ready, timeout=timedelta(milliseconds=100))
            condition = "met"
        except asyncio.TimeoutError:
            condition = "timeout"
        return list(results) + [item, waited, condition, timed_out]


async def test_asyncio_primitives_and_gather(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[GatherWorkflow], activities=[echo]):
        result = await client.execute_workflow(
            GatherWorkflow.run, id=wf_id(), task_queue=task_queue
        )
    assert result == ["v0", "v1", "v2", "v3", "v4", "item", "timeout", "timeout", None]


@workflow.defn
class InfoWorkflow:
    @workflow.run
    async def run(self, arg: str) -> dict:
        info = workflow.info()
        return {
            "arg": arg,
            "workflow_id": info.workflow_id,
            "run_id": info.run_id,
            "workflow_type": info.workflow_type,
            "task_queue": info.task_queue,
            "namespace": info.namespace,
            "attempt": info.attempt,
            "first_execution_run_id": info.first_execution_run_id,
            "random": [workflow.random().randint(0, 1000) for _ in range(3)],
            "uuid": str(workflow.uuid4()),
        }


async def test_workflow_info_and_describe(client, task_queue):
    workflow_id = wf_id()
    async with Worker(client, task_queue=task_queue, workflows=[InfoWorkflow]):
        handle = await client.start_workflow(
            InfoWorkflow.run, "x", id=workflow_id, task_queue=task_queue, memo={"owner": "alice"}
        )
        result = await handle.result()
    assert result["workflow_id"] == workflow_id
    assert handle.run_id is None  # a start handle follows the latest run, as in temporalio
    assert result["run_id"] == handle.result_run_id == handle.first_execution_run_id
    assert result["workflow_type"] == "InfoWorkflow"
    assert result["task_queue"] == task_queue
    assert result["namespace"] == "default"
    assert result["attempt"] == 1
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.COMPLETED
    assert desc.workflow_type == "InfoWorkflow"
    assert desc.task_queue == task_queue
    assert desc.id == workflow_id
    assert desc.start_time is not None and desc.close_time is not None
    assert await desc.memo() == {"owner": "alice"}
    assert await desc.memo_value("owner") == "alice"


@workflow.defn
class FailingWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("it broke", {"order": 7}, type="OrderError", non_retryable=True)


async def test_application_error_fails_the_workflow(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[FailingWorkflow]):
        with pytest.raises(WorkflowFailureError) as err:
            await client.execute_workflow(FailingWorkflow.run, id=wf_id(), task_queue=task_queue)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == "it broke"
    assert cause.type == "OrderError"
    assert cause.details == ({"order": 7},)
    assert cause.non_retryable


BUGGY_ATTEMPTS: list = []


@workflow.defn
class BuggyWorkflow:
    @workflow.run
    async def run(self) -> str:
        BUGGY_ATTEMPTS.append(1)
        if len(BUGGY_ATTEMPTS) < 3:
            raise RuntimeError("bug in workflow code")
        return "recovered"


async def test_unexpected_exception_fails_the_task_not_the_workflow(client, task_queue, caplog):
    BUGGY_ATTEMPTS.clear()
    with caplog.at_level(logging.WARNING, logger="hotmesh_temporal"):
        async with Worker(client, task_queue=task_queue, workflows=[BuggyWorkflow]):
            result = await client.execute_workflow(
                BuggyWorkflow.run, id=wf_id(), task_queue=task_queue
            )
    assert result == "recovered"
    assert len(BUGGY_ATTEMPTS) == 3
    assert any(
        "Failed activation on workflow BuggyWorkflow" in r.getMessage() for r in caplog.records
    )


@workflow.defn(failure_exception_types=[KeyError])
class KeyErrorWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise KeyError("missing")


async def test_failure_exception_types_fail_the_workflow(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[KeyErrorWorkflow]):
        with pytest.raises(WorkflowFailureError) as err:
            await client.execute_workflow(KeyErrorWorkflow.run, id=wf_id(), task_queue=task_queue)
    assert isinstance(err.value.cause, ApplicationError)
    assert err.value.cause.type == "KeyError"


@workflow.defn
class LongSleepWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.sleep(timedelta(hours=1))
        except asyncio.CancelledError:
            await workflow.execute_activity(
                echo, "cleanup", start_to_close_timeout=timedelta(seconds=5)
            )
            raise
        return "slept"


async def test_cancel_delivers_cancelled_error(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[LongSleepWorkflow], activities=[echo]
    ):
        handle = await client.start_workflow(
            LongSleepWorkflow.run, id=wf_id(), task_queue=task_queue
        )
        await asyncio.sleep(0.3)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
    assert isinstance(err.value.cause, CancelledError)
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.CANCELED


async def test_terminate(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[LongSleepWorkflow], activities=[echo]
    ):
        handle = await client.start_workflow(
            LongSleepWorkflow.run, id=wf_id(), task_queue=task_queue
        )
        await asyncio.sleep(0.2)
        await handle.terminate("detail-1", reason="operator said so")
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
    assert isinstance(err.value.cause, TerminatedError)
    assert err.value.cause.message == "operator said so"
    assert err.value.cause.details == ("detail-1",)
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED


async def test_execution_timeout(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[LongSleepWorkflow], activities=[echo]
    ):
        with pytest.raises(WorkflowFailureError) as err:
            await client.execute_workflow(
                LongSleepWorkflow.run,
                id=wf_id(),
                task_queue=task_queue,
                execution_timeout=timedelta(milliseconds=500),
            )
    assert isinstance(err.value.cause, TimeoutError)


async def test_duplicate_id_is_rejected(client, task_queue):
    workflow_id = wf_id()
    async with Worker(
        client, task_queue=task_queue, workflows=[LongSleepWorkflow], activities=[echo]
    ):
        handle = await client.start_workflow(
            LongSleepWorkflow.run, id=workflow_id, task_queue=task_queue
        )
        with pytest.raises(WorkflowAlreadyStartedError) as err:
            await client.start_workflow(
                LongSleepWorkflow.run, id=workflow_id, task_queue=task_queue
            )
        assert err.value.run_id == handle.result_run_id
        await handle.terminate()
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.start_workflow(
                LongSleepWorkflow.run,
                id=workflow_id,
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        again = await client.start_workflow(
            LongSleepWorkflow.run, id=workflow_id, task_queue=task_queue
        )
        assert again.result_run_id != handle.result_run_id
        await again.terminate()


async def test_start_delay(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[InfoWorkflow]):
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.execute_workflow(
            InfoWorkflow.run,
            "d",
            id=wf_id(),
            task_queue=task_queue,
            start_delay=timedelta(milliseconds=600),
        )
        assert loop.time() - started >= 0.6


@workflow.defn
class ContinueWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        if n < 3:
            workflow.continue_as_new(n + 1)
        return n


async def test_continue_as_new_result_follows_runs(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ContinueWorkflow]):
        handle = await client.start_workflow(
            ContinueWorkflow.run, 0, id=wf_id(), task_queue=task_queue
        )
        assert await handle.result() == 3


@workflow.defn
class StepsWorkflow:
    @workflow.run
    async def run(self, steps: int) -> list:
        out = []
        for i in range(steps):
            out.append(
                await workflow.execute_activity(
                    echo, f"s{i}", start_to_close_timeout=timedelta(seconds=5)
                )
            )
            await workflow.sleep(0.01)
        return out


async def test_replay_after_cache_eviction(client, task_queue):
    # With no sticky cache every task rebuilds the run by replaying its whole history.
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[StepsWorkflow],
        activities=[echo],
        max_cached_workflows=0,
    ):
        result = await client.execute_workflow(
            StepsWorkflow.run, 4, id=wf_id(), task_queue=task_queue
        )
    assert result == ["s0", "s1", "s2", "s3"]


@workflow.defn(name="ChangingWorkflow")
class ChangingWorkflowV1:
    @workflow.run
    async def run(self) -> str:
        await workflow.execute_activity(echo, "a", start_to_close_timeout=timedelta(seconds=5))
        await workflow.sleep(timedelta(hours=1))
        return "v1"


@workflow.defn(name="ChangingWorkflow")
class ChangingWorkflowV2:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(seconds=1))  # a different first command
        return "v2"


async def test_changed_code_raises_nondeterminism_and_keeps_running(client, task_queue, caplog):
    async with Worker(
        client, task_queue=task_queue, workflows=[ChangingWorkflowV1], activities=[echo]
    ):
        handle = await client.start_workflow("ChangingWorkflow", id=wf_id(), task_queue=task_queue)
        for _ in range(50):
            events = await _history_types(client, handle.result_run_id)
            if "TimerStarted" in events:
                break
            await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING, logger="hotmesh_temporal"):
        async with Worker(
            client, task_queue=task_queue, workflows=[ChangingWorkflowV2], activities=[echo]
        ):
            await handle.cancel()  # a new workflow task makes the new code replay history
            for _ in range(60):
                if any(
                    "Nondeterminism" in str(r.exc_info[1]) for r in caplog.records if r.exc_info
                ):
                    break
                await asyncio.sleep(0.05)
    messages = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert any("Nondeterminism" in m and "ActivityTaskScheduled" in m for m in messages), messages
    assert any(
        type(r.exc_info[1]).__name__ == "NondeterminismError" for r in caplog.records if r.exc_info
    )
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await handle.terminate()


async def _history_types(client, run_id):
    store = (await client._engine()).store
    events = await store.fetchval("events_after", uuid.UUID(run_id), 0)
    return [e["type"] for e in events]


@workflow.defn
class ClockWorkflow:
    def __init__(self) -> None:
        self.seen: list = []

    @workflow.run
    async def run(self) -> list:
        for _ in range(3):
            self.seen.append(workflow.now().isoformat())
            sum(range(200_000))  # take a little time inside the task
            await workflow.sleep(0.05)
        return self.seen

    @workflow.query
    def times(self) -> list:
        return self.seen


async def test_workflow_now_is_the_same_on_replay(client, task_queue):
    # The result holds the times of the first execution (cached instance); the query
    # on the closed run replays the history from scratch.
    async with Worker(client, task_queue=task_queue, workflows=[ClockWorkflow]):
        handle = await client.start_workflow(ClockWorkflow.run, id=wf_id(), task_queue=task_queue)
        first_run = await handle.result()
        replayed = await handle.query(ClockWorkflow.times)
    assert replayed == first_run
