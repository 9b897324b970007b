"""cron_schedule on start_workflow: a chain of runs, each started at the next cron time
with the same input, linked in history as Temporal links them."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import WorkflowExecutionStatus, WorkflowFailureError
from hotmesh_temporal.exceptions import ApplicationError, TerminatedError
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker

from .schedule_support import db_now, drop_client, eventually, move_clock_to, own_schema_client, sql


@workflow.defn
class CronCounter:
    @workflow.run
    async def run(self, step: int) -> list:
        previous = (
            workflow.get_last_completion_result(list)
            if workflow.has_last_completion_result()
            else [0]
        )
        return [previous[0] + step, workflow.info().cron_schedule]


@workflow.defn
class CronFailsFirst:
    @workflow.run
    async def run(self) -> str:
        failure = workflow.get_last_failure()
        if failure is None:
            raise ApplicationError("first run fails", non_retryable=True)
        return f"after: {failure}"


@workflow.defn
class CronWaits:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


def wf_id() -> str:
    return f"cron-{uuid.uuid4().hex[:8]}"


async def start_every_second(client, task_queue: str, workflow, *args, **options):
    """Start ``workflow`` with cron_schedule "@every 1s" and a fresh id: (id, handle)."""
    workflow_id = wf_id()
    handle = await client.start_workflow(
        workflow, *args, id=workflow_id, task_queue=task_queue, cron_schedule="@every 1s", **options
    )
    return workflow_id, handle


async def runs_of(client, workflow_id: str) -> list:
    return await sql(
        client,
        "SELECT run_id, status, new_run_id, execution_time, start_time FROM {schema}.executions"
        " WHERE workflow_id = $1 ORDER BY start_time",
        workflow_id,
    )


async def at_least_runs(client, workflow_id: str, n: int):
    runs = await runs_of(client, workflow_id)
    return runs if len(runs) >= n else None


async def history(client, run_id) -> list:
    store = (await client._engine()).store
    return await store.fetchval("events_after", run_id, 0)


async def test_every_second_chain_links_runs_like_temporal(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CronCounter]):
        workflow_id, handle = await start_every_second(client, task_queue, CronCounter.run, 5)
        runs = await eventually(lambda: at_least_runs(client, workflow_id, 3), timeout=15)
        await handle.terminate(reason="enough")  # the latest run, wherever the chain is
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()  # follows the chain to its end, as Temporal does
        assert isinstance(err.value.cause, TerminatedError)
    first, second = runs[0], runs[1]
    assert first["status"] == WorkflowExecutionStatus.COMPLETED
    assert first["new_run_id"] == second["run_id"]
    first_events = await history(client, first["run_id"])
    started = first_events[0]["attrs"]
    assert started["cronSchedule"] == "@every 1s"
    assert "firstWorkflowTaskBackoff" in started  # the first run waits for its cron time
    closed = first_events[-1]
    assert closed["type"] == "WorkflowExecutionCompleted"
    assert closed["attrs"]["newExecutionRunId"] == str(second["run_id"])

    next_started = (await history(client, second["run_id"]))[0]["attrs"]
    assert next_started["initiator"] == "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE"
    assert next_started["continuedExecutionRunId"] == str(first["run_id"])
    assert next_started["firstExecutionRunId"] == str(first["run_id"])
    assert next_started["input"] == started["input"]  # same input every run
    assert "lastCompletionResult" in next_started
    assert "firstWorkflowTaskBackoff" in next_started

    one = client.get_workflow_handle(workflow_id, run_id=str(first["run_id"]))
    two = client.get_workflow_handle(workflow_id, run_id=str(second["run_id"]))
    assert await one.result(follow_runs=False) == [5, "@every 1s"]
    assert await two.result(follow_runs=False) == [10, "@every 1s"]  # saw the last result


async def test_failed_run_continues_and_passes_its_failure_on(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CronFailsFirst]):
        workflow_id, _ = await start_every_second(client, task_queue, CronFailsFirst.run)
        runs = await eventually(lambda: _second_closed(client, workflow_id), timeout=15)
        await client.get_workflow_handle(workflow_id).terminate()
    assert runs[0]["status"] == WorkflowExecutionStatus.FAILED
    assert runs[0]["new_run_id"] == runs[1]["run_id"]
    assert "first run fails" in await client.get_workflow_handle(
        workflow_id, run_id=str(runs[1]["run_id"])
    ).result(follow_runs=False)
    failed = (await history(client, runs[0]["run_id"]))[-1]
    assert failed["type"] == "WorkflowExecutionFailed"
    assert failed["attrs"]["newExecutionRunId"] == str(runs[1]["run_id"])


async def _second_closed(client, workflow_id: str):
    runs = await runs_of(client, workflow_id)
    return runs if len(runs) >= 2 and runs[1]["status"] != WorkflowExecutionStatus.RUNNING else None


async def test_cancel_and_terminate_end_the_chain(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CronWaits]):
        for stop in ("cancel", "terminate"):
            workflow_id, handle = await start_every_second(client, task_queue, CronWaits.run)
            await eventually(lambda handle=handle: _started(client, handle))
            await getattr(handle, stop)()
            with pytest.raises(WorkflowFailureError):
                await handle.result()
            runs = await runs_of(client, workflow_id)
            assert len(runs) == 1 and runs[0]["new_run_id"] is None


async def _started(client, handle) -> bool:
    events = await history(client, (await handle.describe()).run_id)
    return any(e["type"] == "WorkflowTaskCompleted" for e in events)


async def test_bad_cron_and_cron_with_start_delay_are_rejected(client, task_queue):
    for cron, delay in (("61 * * * *", None), ("* * *", None), ("@every 1s", timedelta(seconds=5))):
        with pytest.raises(RPCError) as err:
            await client.start_workflow(
                CronCounter.run,
                1,
                id=wf_id(),
                task_queue=task_queue,
                cron_schedule=cron,
                start_delay=delay,
            )
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
async def moved_client(pg_dsn):
    client = await own_schema_client(pg_dsn)
    yield client
    await drop_client(client)


async def test_five_field_cron_runs_on_minute_boundaries(moved_client, task_queue):
    client = moved_client
    workflow_id = wf_id()
    async with Worker(client, task_queue=task_queue, workflows=[CronCounter]):
        now = await db_now(client)
        await client.start_workflow(
            CronCounter.run, 1, id=workflow_id, task_queue=task_queue, cron_schedule="*/2 * * * *"
        )
        first = (await runs_of(client, workflow_id))[0]
        # Temporal rounds the wait up to whole seconds from the start: the run begins
        # within a second after the cron time.
        boundary = first["execution_time"].replace(microsecond=0)
        assert boundary.second == 0 and boundary.minute % 2 == 0 and boundary > now
        assert len(await history(client, first["run_id"])) == 1  # nothing runs before its time
        await move_clock_to(client, boundary + timedelta(seconds=1))
        runs = await eventually(lambda: at_least_runs(client, workflow_id, 2))
        # The next cron time, give or take the whole-second rounding and the commit.
        next_time = boundary + timedelta(minutes=2)
        assert next_time <= runs[1]["execution_time"] < next_time + timedelta(seconds=2)
        await client.get_workflow_handle(workflow_id).terminate()


async def test_run_timeout_times_out_the_run_and_continues_the_chain(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CronWaits]):
        workflow_id, handle = await start_every_second(
            client, task_queue, CronWaits.run, run_timeout=timedelta(seconds=1)
        )
        runs = await eventually(lambda: at_least_runs(client, workflow_id, 2), timeout=15)
        await handle.terminate()
    assert runs[0]["status"] == WorkflowExecutionStatus.TIMED_OUT
    assert runs[0]["new_run_id"] == runs[1]["run_id"]
    timed_out = (await history(client, runs[0]["run_id"]))[-1]
    assert timed_out["type"] == "WorkflowExecutionTimedOut"
    assert timed_out["attrs"]["newExecutionRunId"] == str(runs[1]["run_id"])
    started = (await history(client, runs[1]["run_id"]))[0]["attrs"]
    assert started["initiator"] == "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE"
    assert (
        started["continuedFailure"]["timeoutFailureInfo"]["timeoutType"]
        == "TIMEOUT_TYPE_START_TO_CLOSE"
    )


async def test_execution_timeout_ends_the_chain(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CronWaits]):
        workflow_id, handle = await start_every_second(
            client, task_queue, CronWaits.run, execution_timeout=timedelta(seconds=2)
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    runs = await runs_of(client, workflow_id)
    assert [(r["status"], r["new_run_id"]) for r in runs] == [
        (WorkflowExecutionStatus.TIMED_OUT, None)
    ]
