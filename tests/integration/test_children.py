"""Child workflows: start, result, failures, cancellation, parent close policies."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import WorkflowExecutionStatus, WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy, WorkflowIDReusePolicy
from hotmesh_temporal.exceptions import (
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    TerminatedError,
    WorkflowAlreadyStartedError,
)
from hotmesh_temporal.service import RPCError
from hotmesh_temporal.worker import Worker


def wf_id(prefix: str = "child") -> str:
    return f"{prefix}-{uuid.uuid4()}"


@workflow.defn
class Greeter:
    @workflow.run
    async def run(self, name: str) -> dict[str, Any]:
        info = workflow.info()
        return {
            "greeting": f"hello {name}",
            "parent": info.parent
            and [info.parent.workflow_id, info.parent.run_id, info.parent.namespace],
            "root": info.root and [info.root.workflow_id, info.root.run_id],
        }


@workflow.defn
class Failing:
    @workflow.run
    async def run(self, message: str) -> None:
        raise ApplicationError(message, "detail", type="ChildBroke", non_retryable=True)


@workflow.defn
class Waiter:
    """Runs until signalled "finish"; records cancellation."""

    def __init__(self) -> None:
        self.done = False
        self.seen: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.done)
        return self.seen

    @workflow.signal
    def note(self, value: str) -> None:
        self.seen.append(value)

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn
class ParentOfGreeter:
    @workflow.run
    async def run(self, child_id: str) -> dict[str, Any]:
        return await workflow.execute_child_workflow(Greeter.run, "kid", id=child_id)


async def test_execute_child_returns_result_and_child_knows_parent(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ParentOfGreeter, Greeter]):
        parent_id, child_id = wf_id("parent"), wf_id()
        handle = await client.start_workflow(
            ParentOfGreeter.run, child_id, id=parent_id, task_queue=task_queue
        )
        result = await handle.result()
        assert result["greeting"] == "hello kid"
        assert result["parent"] == [parent_id, handle.result_run_id, client.namespace]
        assert result["root"] == [parent_id, handle.result_run_id]
        child = await client.get_workflow_handle(child_id).result()
        assert child == result


async def history(client, run_id: str) -> list[dict[str, Any]]:
    store = (await client._engine()).store
    return await store.fetchval("events_after", uuid.UUID(run_id), 0)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def only(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [e for e in events if e["type"] == kind]
    assert len(found) == 1, types(events)
    return found[0]


async def test_parent_history_has_temporal_child_events(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ParentOfGreeter, Greeter]):
        child_id = wf_id()
        handle = await client.start_workflow(
            ParentOfGreeter.run, child_id, id=wf_id("parent"), task_queue=task_queue
        )
        await handle.result()
    events = await history(client, handle.result_run_id)
    kinds = types(events)
    initiated = only(events, "StartChildWorkflowExecutionInitiated")
    started = only(events, "ChildWorkflowExecutionStarted")
    completed = only(events, "ChildWorkflowExecutionCompleted")
    assert (
        kinds.index("StartChildWorkflowExecutionInitiated")
        < kinds.index("ChildWorkflowExecutionStarted")
        < kinds.index("ChildWorkflowExecutionCompleted")
    )
    attrs = initiated["attrs"]
    assert attrs["workflowId"] == child_id
    assert attrs["workflowType"] == {"name": "Greeter"}
    assert attrs["parentClosePolicy"] == "PARENT_CLOSE_POLICY_TERMINATE"
    assert attrs["namespace"] == client.namespace
    child_run = started["attrs"]["workflowExecution"]["runId"]
    assert started["attrs"]["initiatedEventId"] == str(initiated["id"])
    assert started["attrs"]["workflowExecution"]["workflowId"] == child_id
    assert completed["attrs"]["initiatedEventId"] == str(initiated["id"])
    assert completed["attrs"]["startedEventId"] == str(started["id"])
    assert completed["attrs"]["workflowExecution"] == {"workflowId": child_id, "runId": child_run}
    assert completed["attrs"]["result"]["payloads"]
    child_started = (await history(client, child_run))[0]["attrs"]
    assert child_started["parentWorkflowExecution"] == {
        "workflowId": handle.id,
        "runId": handle.result_run_id,
    }
    assert child_started["parentInitiatedEventId"] == str(initiated["id"])


@workflow.defn
class CatchChildFailure:
    @workflow.run
    async def run(self, child_id: str) -> dict[str, Any]:
        try:
            await workflow.execute_child_workflow(Failing.run, "boom", id=child_id)
        except ChildWorkflowError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            return {
                "message": err.message,
                "workflow_id": err.workflow_id,
                "workflow_type": err.workflow_type,
                "run_id_set": bool(err.run_id),
                "initiated": err.initiated_event_id,
                "started": err.started_event_id,
                "cause": [cause.message, cause.type, list(cause.details), cause.non_retryable],
            }
        raise AssertionError("child did not fail")


async def test_child_failure_is_child_workflow_error_with_application_cause(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CatchChildFailure, Failing]):
        child_id = wf_id()
        result = await client.execute_workflow(
            CatchChildFailure.run, child_id, id=wf_id("parent"), task_queue=task_queue
        )
    assert result["message"] == "Child Workflow execution failed"
    assert result["workflow_id"] == child_id
    assert result["workflow_type"] == "Failing"
    assert result["run_id_set"]
    assert result["initiated"] > 0 and result["started"] > result["initiated"]
    assert result["cause"] == ["boom", "ChildBroke", ["detail"], True]


@workflow.defn
class UncaughtChildFailure:
    @workflow.run
    async def run(self, child_id: str) -> None:
        await workflow.execute_child_workflow(Failing.run, "deep", id=child_id)


async def test_uncaught_child_failure_fails_parent_with_chain(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[UncaughtChildFailure, Failing]):
        with pytest.raises(WorkflowFailureError) as info:
            await client.execute_workflow(
                UncaughtChildFailure.run, wf_id(), id=wf_id("parent"), task_queue=task_queue
            )
    child_error = info.value.cause
    assert isinstance(child_error, ChildWorkflowError)
    assert isinstance(child_error.cause, ApplicationError)
    assert child_error.cause.message == "deep"


@workflow.defn
class StartTwice:
    @workflow.run
    async def run(self, child_id: str) -> list[str]:
        first = await workflow.start_child_workflow(Waiter.run, id=child_id)
        try:
            await workflow.start_child_workflow(Waiter.run, id=child_id)
        except WorkflowAlreadyStartedError as err:
            outcome = ["already started", err.workflow_id, err.workflow_type]
        else:
            outcome = ["started twice"]
        await first.signal(Waiter.finish)
        await first
        return outcome


async def test_child_id_taken_raises_already_started_in_parent(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[StartTwice, Waiter]):
        child_id = wf_id()
        handle = await client.start_workflow(
            StartTwice.run, child_id, id=wf_id("parent"), task_queue=task_queue
        )
        assert await handle.result() == ["already started", child_id, "Waiter"]
    failed = only(await history(client, handle.result_run_id), "StartChildWorkflowExecutionFailed")
    assert (
        failed["attrs"]["cause"]
        == "START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS"
    )
    assert failed["attrs"]["workflowId"] == child_id


@workflow.defn
class ReuseRejected:
    @workflow.run
    async def run(self, child_id: str) -> str:
        await workflow.execute_child_workflow(Greeter.run, "once", id=child_id)
        try:
            await workflow.execute_child_workflow(
                Greeter.run,
                "twice",
                id=child_id,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return "rejected"
        return "reused"


async def test_child_id_reuse_policy(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ReuseRejected, Greeter]):
        result = await client.execute_workflow(
            ReuseRejected.run, wf_id(), id=wf_id("parent"), task_queue=task_queue
        )
    assert result == "rejected"


@workflow.defn
class ReplaceRunning:
    @workflow.run
    async def run(self, child_id: str) -> dict[str, Any]:
        return await workflow.execute_child_workflow(
            Greeter.run,
            "replacement",
            id=child_id,
            id_reuse_policy=WorkflowIDReusePolicy.TERMINATE_IF_RUNNING,
        )


async def test_child_terminate_if_running_replaces_the_running_workflow(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ReplaceRunning, Greeter, Waiter]):
        child_id = wf_id()
        started = await client.start_workflow(Waiter.run, id=child_id, task_queue=task_queue)
        running = client.get_workflow_handle(child_id, run_id=started.result_run_id)
        await wait_idle(client, child_id)
        parent = await client.start_workflow(
            ReplaceRunning.run, child_id, id=wf_id("parent"), task_queue=task_queue
        )
        result = await parent.result()
    assert result["greeting"] == "hello replacement"
    assert result["parent"] == [parent.id, parent.result_run_id, "default"]
    assert (await running.describe()).status == WorkflowExecutionStatus.TERMINATED
    with pytest.raises(WorkflowFailureError) as info:
        await running.result(follow_runs=False)
    assert isinstance(info.value.cause, TerminatedError)
    assert "StartChildWorkflowExecutionFailed" not in types(
        await history(client, parent.result_run_id)
    )


@workflow.defn
class HandleParent:
    @workflow.run
    async def run(self, child_id: str) -> dict[str, Any]:
        handle = await workflow.start_child_workflow(
            Waiter.run,
            id=child_id,
            task_queue=workflow.info().task_queue,
            execution_timeout=timedelta(minutes=5),
            run_timeout=timedelta(minutes=4),
            task_timeout=timedelta(seconds=7),
            memo={"owner": "parent"},
            static_summary="a child",
        )
        await handle.signal(Waiter.note, "one")
        await handle.signal("note", "two")
        await handle.signal(Waiter.finish)
        seen = await handle
        return {"id": handle.id, "first_run": handle.first_execution_run_id, "seen": seen}


async def test_child_handle_id_run_id_signal_and_options(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[HandleParent, Waiter]):
        child_id = wf_id()
        parent = await client.start_workflow(
            HandleParent.run, child_id, id=wf_id("parent"), task_queue=task_queue
        )
        result = await parent.result()
        assert result["seen"] == ["one", "two"]
        assert result["id"] == child_id
        child = client.get_workflow_handle(child_id)
        description = await child.describe()
        assert description.run_id == result["first_run"]
        assert await description.memo() == {"owner": "parent"}
        assert await description.static_summary() == "a child"
        assert await description.static_details() is None
        assert await (await parent.describe()).static_summary() is None
        assert description.parent_id == parent.id
        assert description.parent_run_id == parent.result_run_id
    started = (await history(client, result["first_run"]))[0]["attrs"]
    assert started["workflowExecutionTimeout"] == "300s"
    assert started["workflowRunTimeout"] == "240s"
    assert started["workflowTaskTimeout"] == "7s"


@workflow.defn
class Cancellable:
    """Waits forever; on cancellation returns (or re-raises) as told."""

    @workflow.run
    async def run(self, swallow: bool) -> str:
        try:
            await workflow.wait_condition(lambda: False)
        except asyncio.CancelledError:
            if swallow:
                return "cleaned up"
            raise
        return "unreachable"


@workflow.defn
class ParentWithPolicy:
    @workflow.run
    async def run(self, child_id: str, policy: int) -> str:
        await workflow.start_child_workflow(
            Cancellable.run,
            False,
            id=child_id,
            parent_close_policy=workflow.ParentClosePolicy(policy),
        )
        return "parent done"


async def wait_status(client, workflow_id: str, status: Any, timeout: float = 10.0) -> Any:
    handle = client.get_workflow_handle(workflow_id)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            description = await handle.describe()
            found = description.status
        except RPCError:  # not started yet
            description, found = None, None
        if found == status:
            return description
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{workflow_id} stayed {found}, expected {status}")
        await asyncio.sleep(0.05)


async def wait_idle(client, workflow_id: str) -> None:
    """Wait until the run is blocked in workflow code with no workflow task pending."""
    description = await wait_status(client, workflow_id, WorkflowExecutionStatus.RUNNING)
    store = (await client._engine()).store
    for _ in range(200):
        row = await store.fetchrow("run_row", uuid.UUID(description.run_id))
        if row["wft_state"] == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{workflow_id} never went idle")


@pytest.mark.parametrize(
    "policy, expected",
    [
        (workflow.ParentClosePolicy.TERMINATE, "TERMINATED"),
        (workflow.ParentClosePolicy.REQUEST_CANCEL, "CANCELED"),
        (workflow.ParentClosePolicy.ABANDON, "RUNNING"),
    ],
)
async def test_parent_close_policy(client, task_queue, policy, expected):

    async with Worker(client, task_queue=task_queue, workflows=[ParentWithPolicy, Cancellable]):
        child_id = wf_id()
        assert (
            await client.execute_workflow(
                ParentWithPolicy.run,
                args=[child_id, int(policy)],
                id=wf_id("parent"),
                task_queue=task_queue,
            )
            == "parent done"
        )
        await wait_status(client, child_id, WorkflowExecutionStatus[expected])
        child = client.get_workflow_handle(child_id)
        if expected == "TERMINATED":
            with pytest.raises(WorkflowFailureError) as info:
                await child.result()
            assert isinstance(info.value.cause, TerminatedError)
            assert info.value.cause.message == "by parent close policy"
        elif expected == "RUNNING":
            await child.terminate("test cleanup")


@workflow.defn
class CancelChild:
    @workflow.run
    async def run(self, child_id: str, cancellation_type: int, swallow: bool) -> list[Any]:
        handle = await workflow.start_child_workflow(
            Cancellable.run,
            swallow,
            id=child_id,
            cancellation_type=workflow.ChildWorkflowCancellationType(cancellation_type),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )
        await workflow.sleep(0.05)
        handle.cancel()
        try:
            return ["result", await handle]
        except ChildWorkflowError as err:
            assert isinstance(err.cause, CancelledError)
            return ["cancelled", err.message]


@pytest.mark.parametrize(
    "cancellation_type, swallow, expected_parent, expected_child",
    [
        # The parent waits until the child closed: a child that swallows the
        # cancellation completes, and its result is what the parent gets.
        (
            workflow.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            True,
            ["result", "cleaned up"],
            "COMPLETED",
        ),
        (
            workflow.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            False,
            ["cancelled", "Child Workflow execution cancelled"],
            "CANCELED",
        ),
        (
            workflow.ChildWorkflowCancellationType.WAIT_CANCELLATION_REQUESTED,
            True,
            ["cancelled", "Child Workflow execution cancelled"],
            "COMPLETED",
        ),
        (
            workflow.ChildWorkflowCancellationType.TRY_CANCEL,
            False,
            ["cancelled", "Child Workflow execution cancelled"],
            "CANCELED",
        ),
        # ABANDON: the parent stops waiting and the child is never told.
        (
            workflow.ChildWorkflowCancellationType.ABANDON,
            False,
            ["cancelled", "Child Workflow execution cancelled"],
            "RUNNING",
        ),
    ],
)
async def test_child_cancellation_types(
    client, task_queue, cancellation_type, swallow, expected_parent, expected_child
):

    async with Worker(client, task_queue=task_queue, workflows=[CancelChild, Cancellable]):
        child_id = wf_id()
        handle = await client.start_workflow(
            CancelChild.run,
            args=[child_id, int(cancellation_type), swallow],
            id=wf_id("parent"),
            task_queue=task_queue,
        )
        assert await handle.result() == expected_parent
        await wait_status(client, child_id, WorkflowExecutionStatus[expected_child])
        if expected_child == "RUNNING":
            await asyncio.sleep(0.2)
            await wait_status(client, child_id, WorkflowExecutionStatus.RUNNING)
            kinds = types(await history(client, handle.result_run_id))
            assert "RequestCancelExternalWorkflowExecutionInitiated" not in kinds
            await client.get_workflow_handle(child_id).terminate("cleanup")
        else:
            events = await history(client, handle.result_run_id)
            request = only(events, "RequestCancelExternalWorkflowExecutionInitiated")
            assert request["attrs"]["childWorkflowOnly"] is True
            assert request["attrs"]["workflowExecution"]["workflowId"] == child_id


@workflow.defn
class ObserveChildEnd:
    @workflow.run
    async def run(self, child_id: str, timeout: float | None) -> list[Any]:
        try:
            await workflow.execute_child_workflow(
                Cancellable.run,
                False,
                id=child_id,
                execution_timeout=timedelta(seconds=timeout) if timeout else None,
            )
        except ChildWorkflowError as err:
            cause = err.cause
            return [
                err.message,
                type(cause).__name__,
                getattr(cause, "type", None) and int(cause.type),
            ]
        return ["completed"]


async def test_child_terminated_from_outside(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ObserveChildEnd, Cancellable]):
        child_id = wf_id()
        handle = await client.start_workflow(
            ObserveChildEnd.run, args=[child_id, None], id=wf_id("parent"), task_queue=task_queue
        )

        await wait_idle(client, child_id)
        await client.get_workflow_handle(child_id).terminate("stop it")
        assert await handle.result() == [
            "Child Workflow execution terminated",
            "TerminatedError",
            None,
        ]
    assert "ChildWorkflowExecutionTerminated" in types(await history(client, handle.result_run_id))


async def test_child_timed_out(client, task_queue):
    from hotmesh_temporal.exceptions import TimeoutType

    async with Worker(client, task_queue=task_queue, workflows=[ObserveChildEnd, Cancellable]):
        handle = await client.start_workflow(
            ObserveChildEnd.run, args=[wf_id(), 0.3], id=wf_id("parent"), task_queue=task_queue
        )
        assert await handle.result() == [
            "Child Workflow execution timed out",
            "TimeoutError",
            int(TimeoutType.START_TO_CLOSE),
        ]
    timed_out = only(await history(client, handle.result_run_id), "ChildWorkflowExecutionTimedOut")
    assert timed_out["attrs"]["retryState"] == "RETRY_STATE_TIMEOUT"


@workflow.defn
class Countdown:
    @workflow.run
    async def run(self, n: int) -> dict[str, Any]:
        if n > 0:
            workflow.continue_as_new(n - 1)
        info = workflow.info()
        return {
            "parent": info.parent and info.parent.workflow_id,
            "continued": info.continued_run_id is not None,
        }


@workflow.defn
class ParentOfCountdown:
    @workflow.run
    async def run(self, child_id: str) -> dict[str, Any]:
        return await workflow.execute_child_workflow(Countdown.run, 3, id=child_id)


async def test_child_that_continues_as_new_reports_its_last_run(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ParentOfCountdown, Countdown]):
        parent_id = wf_id("parent")
        result = await client.execute_workflow(
            ParentOfCountdown.run, wf_id(), id=parent_id, task_queue=task_queue
        )
    assert result == {"parent": parent_id, "continued": True}


@workflow.defn
class FlakyChild:
    @workflow.run
    async def run(self) -> list[Any]:
        info = workflow.info()
        if info.attempt == 1:
            raise ApplicationError("first attempt fails")
        return [info.attempt, info.parent and info.parent.workflow_id]


@workflow.defn
class ParentOfFlaky:
    @workflow.run
    async def run(self, child_id: str) -> list[Any]:
        return await workflow.execute_child_workflow(
            FlakyChild.run,
            id=child_id,
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
        )


async def test_child_retried_by_its_retry_policy_reports_the_last_attempt(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ParentOfFlaky, FlakyChild]):
        parent_id = wf_id("parent")
        handle = await client.start_workflow(
            ParentOfFlaky.run, wf_id(), id=parent_id, task_queue=task_queue
        )
        assert await handle.result() == [2, parent_id]
    kinds = types(await history(client, handle.result_run_id))
    assert "ChildWorkflowExecutionFailed" not in kinds
    assert kinds.count("ChildWorkflowExecutionCompleted") == 1


@workflow.defn
class ParentAwaitingChild:
    @workflow.run
    async def run(self, child_id: str) -> str:
        await workflow.execute_child_workflow(Cancellable.run, False, id=child_id)
        return "child finished"


async def test_cancelling_the_parent_cancels_the_awaited_child(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ParentAwaitingChild, Cancellable]):
        child_id = wf_id()
        handle = await client.start_workflow(
            ParentAwaitingChild.run, child_id, id=wf_id("parent"), task_queue=task_queue
        )
        await wait_status(client, child_id, WorkflowExecutionStatus.RUNNING)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
        assert isinstance(info.value.cause, CancelledError)
        await wait_status(client, child_id, WorkflowExecutionStatus.CANCELED)
        assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED


async def test_parent_replays_children_and_externals_without_cache(client, task_queue):
    # No sticky cache: every task of the parent replays its whole history, so every
    # child and external event is matched against the commands again.
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[HandleParent, Waiter, CancelChild, Cancellable],
        max_cached_workflows=0,
    ):
        result = await client.execute_workflow(
            HandleParent.run, wf_id(), id=wf_id("parent"), task_queue=task_queue
        )
        assert result["seen"] == ["one", "two"]
        cancelled = await client.execute_workflow(
            CancelChild.run,
            args=[
                wf_id(),
                int(workflow.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED),
                False,
            ],
            id=wf_id("parent"),
            task_queue=task_queue,
        )
        assert cancelled == ["cancelled", "Child Workflow execution cancelled"]


@workflow.defn
class ParentWithAttributes:
    @workflow.run
    async def run(self, child_id: str) -> None:
        await workflow.execute_child_workflow(
            Greeter.run,
            "attrs",
            id=child_id,
            search_attributes={"CustomKeywordField": ["child"]},
            cron_schedule="",
            versioning_intent=workflow.VersioningIntent.DEFAULT,
            static_details="details",
        )


async def test_child_search_attributes_are_stored_as_given(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ParentWithAttributes, Greeter]):
        child_id = wf_id()
        await client.execute_workflow(
            ParentWithAttributes.run, child_id, id=wf_id("parent"), task_queue=task_queue
        )
        description = await client.get_workflow_handle(child_id).describe()
        assert await description.static_details() == "details"
        child_run = description.run_id
    started = (await history(client, child_run))[0]["attrs"]
    assert list(started["searchAttributes"]["indexedFields"]) == ["CustomKeywordField"]


async def test_terminating_the_parent_applies_its_close_policy(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[ParentAwaitingChild, Cancellable]):
        child_id = wf_id()
        parent = await client.start_workflow(
            ParentAwaitingChild.run, child_id, id=wf_id("parent"), task_queue=task_queue
        )
        await wait_idle(client, child_id)
        await wait_idle(client, parent.id)
        await parent.terminate("parent goes away")
        await wait_status(client, child_id, WorkflowExecutionStatus.TERMINATED)
    child_run = (await client.get_workflow_handle(child_id).describe()).run_id
    terminated = (await history(client, child_run))[-1]
    assert terminated["type"] == "WorkflowExecutionTerminated"
    assert terminated["attrs"]["reason"] == "by parent close policy"


@workflow.defn
class FanOut:
    @workflow.run
    async def run(self, count: int) -> list[str]:
        prefix = workflow.info().workflow_id
        results = await asyncio.gather(
            *(
                workflow.execute_child_workflow(Greeter.run, str(i), id=f"{prefix}-{i}")
                for i in range(count)
            )
        )
        return [r["greeting"] for r in results]


async def test_many_children_in_parallel(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[FanOut, Greeter]):
        handle = await client.start_workflow(FanOut.run, 25, id=wf_id("fan"), task_queue=task_queue)
        assert await handle.result() == [f"hello {i}" for i in range(25)]
    kinds = types(await history(client, handle.result_run_id))
    assert kinds.count("StartChildWorkflowExecutionInitiated") == 25
    assert kinds.count("ChildWorkflowExecutionStarted") == 25
    assert kinds.count("ChildWorkflowExecutionCompleted") == 25


async def test_child_close_in_the_same_task_as_its_cancel_request_is_no_news():
    # Recorded from a run that hung: with WAIT_CANCELLATION_REQUESTED the child's
    # cancel request resolved it, and its close (ChildWorkflowExecutionCompleted)
    # arrived before the parent's next task ran, in the same task. That close must be
    # ignored, as Core does, not fail every attempt of the task as nondeterminism.
    from hotmesh_temporal.client import WorkflowHistory
    from hotmesh_temporal.worker import Replayer

    path = Path(__file__).parent.parent / "fixtures" / "recorded"
    history = WorkflowHistory.from_json(
        "parent", (path / "child_close_after_cancel_requested.json").read_text()
    )
    result = await Replayer(workflows=[CancelChild, Cancellable]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is None
