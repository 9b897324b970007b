"""Workflow updates: handlers and validators, client calls and handles, ids that
deduplicate, error paths, update-with-start and unfinished-handler warnings."""

from __future__ import annotations

import asyncio
import uuid
import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from hotmesh_temporal.common import RawValue, WorkflowIDConflictPolicy
from hotmesh_temporal.converter import default as default_converter
from hotmesh_temporal.exceptions import ApplicationError, WorkflowAlreadyStartedError
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker


@workflow.defn
class CartWorkflow:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.handled = 0
        self.checked_out = False
        self.release = False
        self.infos: list[Any] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.checked_out)
        return self.items

    @workflow.update
    async def add(self, item: str) -> int:
        self.handled += 1
        info = workflow.current_update_info()
        self.infos.append((info.id, info.name) if info else None)
        self.items.append(item)
        return len(self.items)

    @add.validator
    def check_add(self, item: str) -> None:
        if not item:
            raise ValueError("empty item")

    @workflow.update(name="slow-add")
    async def slow_add(self, item: str) -> int:
        await workflow.wait_condition(lambda: self.release)
        self.items.append(item)
        return len(self.items)

    @workflow.update
    def fail(self, message: str) -> None:
        raise ApplicationError(message, type="CartError")

    @workflow.update
    def checkout(self) -> str:
        self.checked_out = True
        return "done"

    @workflow.signal
    def open_gate(self) -> None:
        self.release = True

    @workflow.query
    def handled_count(self) -> int:
        return self.handled

    @workflow.query
    def update_infos(self) -> list[Any]:
        return self.infos


def wf_id() -> str:
    return f"upd-{uuid.uuid4()}"


async def history_types(client, workflow_id: str) -> list[str]:
    store = (await client._engine()).store
    run = await store.fetchrow("find_run", client.namespace, workflow_id, None)
    events = await store.fetchval("events_after", run["run_id"], 0)
    return [ev["type"] for ev in events]


async def test_execute_update_returns_result_and_records_accepted_and_completed(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        assert await handle.execute_update(CartWorkflow.add, "apple") == 1
        assert await handle.execute_update("add", "pear", result_type=int) == 2
        assert await handle.execute_update(CartWorkflow.checkout) == "done"
        assert await handle.result() == ["apple", "pear"]
        types = await history_types(client, handle.id)
        assert types.count("WorkflowExecutionUpdateAccepted") == 3
        assert types.count("WorkflowExecutionUpdateCompleted") == 3
        # The handler saw its own update's id and name.
        infos = await handle.query(CartWorkflow.update_infos)
        assert [name for _, name in infos] == ["add", "add"]


async def test_start_update_stages_and_handles(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        # ACCEPTED returns while the handler still waits.
        accepted = await handle.start_update(
            CartWorkflow.slow_add, "plum", wait_for_stage=WorkflowUpdateStage.ACCEPTED, id="slow-1"
        )
        assert accepted.id == "slow-1"
        assert accepted.workflow_id == handle.id
        assert accepted.workflow_run_id == handle.result_run_id
        with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
            await accepted.result(rpc_timeout=timedelta(milliseconds=200))
        # Other handles on the same update, typed and untyped.
        typed = handle.get_update_handle_for(CartWorkflow.slow_add, "slow-1")
        untyped = client.get_workflow_handle(handle.id).get_update_handle("slow-1")
        await handle.signal(CartWorkflow.open_gate)
        assert await accepted.result() == 1
        assert await typed.result() == 1
        assert await untyped.result() == 1
        completed = await handle.start_update(
            CartWorkflow.add, "fig", wait_for_stage=WorkflowUpdateStage.COMPLETED
        )
        assert await completed.result() == 2
        with pytest.raises(ValueError, match="ADMITTED"):
            await handle.start_update(
                CartWorkflow.add, "x", wait_for_stage=WorkflowUpdateStage.ADMITTED
            )
        with pytest.raises(RPCError) as err:
            await handle.get_update_handle("no-such-update").result()
        assert err.value.status == RPCStatusCode.NOT_FOUND
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == ["plum", "fig"]


async def test_same_update_id_runs_the_handler_once(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        first = await handle.execute_update(CartWorkflow.add, "kiwi", id="dup")
        second = await handle.execute_update(CartWorkflow.add, "kiwi", id="dup")
        both = await asyncio.gather(
            handle.execute_update(CartWorkflow.add, "lime", id="dup-2"),
            handle.execute_update(CartWorkflow.add, "lime", id="dup-2"),
        )
        assert first == second == 1
        assert both == [2, 2]
        assert await handle.query(CartWorkflow.handled_count) == 2
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == ["kiwi", "lime"]


async def test_rejections_and_handler_failures(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(CartWorkflow.add, "")
        assert isinstance(rejected.value.cause, ApplicationError)
        assert rejected.value.cause.type == "ValueError"
        assert rejected.value.cause.message == "empty item"
        # A rejected update started with ACCEPTED gives a handle whose result raises.
        rejected_handle = await handle.start_update(
            CartWorkflow.add, "", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await rejected_handle.result()
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await handle.execute_update("no_such_update")
        assert isinstance(unknown.value.cause, ApplicationError)
        assert unknown.value.cause.type == "RuntimeError"
        assert "expected but not found" in unknown.value.cause.message
        assert "known updates: [add checkout fail slow-add]" in unknown.value.cause.message
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update(CartWorkflow.fail, "out of stock")
        assert isinstance(failed.value.cause, ApplicationError)
        assert failed.value.cause.type == "CartError"
        assert failed.value.cause.message == "out of stock"
        # Rejections leave no trace in history (as Temporal); the failed handler does.
        types = await history_types(client, handle.id)
        assert types.count("WorkflowExecutionUpdateAccepted") == 1
        assert types.count("WorkflowExecutionUpdateCompleted") == 1
        assert await handle.query(CartWorkflow.handled_count) == 0
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == []


async def test_rejected_update_id_sent_again_runs_again(client, task_queue):
    # Temporal keeps no record of a rejection: the id is free for a new update.
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        first = await handle.start_update(
            CartWorkflow.add, "", id="retry-me", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await first.result()
        with pytest.raises(RPCError) as gone:
            await handle.get_update_handle("retry-me").result()
        assert gone.value.status == RPCStatusCode.NOT_FOUND
        # The validator runs again on the new request and lets it through this time.
        assert await handle.execute_update(CartWorkflow.add, "plum", id="retry-me") == 1
        assert await handle.get_update_handle("retry-me").result() == 1
        # The first handle keeps the rejection it got; a completed update deduplicates.
        with pytest.raises(WorkflowUpdateFailedError):
            await first.result()
        assert await handle.execute_update(CartWorkflow.add, "other", id="retry-me") == 1
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == ["plum"]


async def test_rejected_update_leaves_no_workflow_task_in_history(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        assert await handle.execute_update(CartWorkflow.add, "kiwi") == 1
        before = await history_types(client, handle.id)
        for _ in range(3):
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(CartWorkflow.add, "")
        # Temporal's speculative task: nothing of the rejected updates is written.
        assert await history_types(client, handle.id) == before
        # The run goes on from the same history, on this worker and after a replay.
        assert await handle.execute_update(CartWorkflow.add, "lime") == 2
        assert await handle.query(CartWorkflow.handled_count) == 2
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == ["kiwi", "lime"]
    after = await history_types(client, handle.id)
    assert after[: len(before)] == before
    assert after.count("WorkflowTaskScheduled") == before.count("WorkflowTaskScheduled") + 2
    replayed = await handle.fetch_history()
    ids = [event.event_id for event in replayed.events]
    assert ids == list(range(1, len(after) + 1))


async def test_update_rejected_with_a_signal_keeps_its_workflow_task(client, task_queue):
    """A speculative task that also brings a signal is an ordinary task: it stays."""
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        await handle.execute_update(CartWorkflow.add, "kiwi")
    before = await history_types(client, handle.id)
    # No worker: the update's task waits while a signal arrives behind it.
    rejected = asyncio.create_task(handle.execute_update(CartWorkflow.add, ""))
    for _ in range(100):
        if len(await history_types(client, handle.id)) > len(before):
            break
        await asyncio.sleep(0.02)
    await handle.signal(CartWorkflow.open_gate)
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        with pytest.raises(WorkflowUpdateFailedError):
            await asyncio.wait_for(rejected, 10)
        assert (await history_types(client, handle.id))[len(before) :] == [
            "WorkflowTaskScheduled",
            "WorkflowExecutionSignaled",
            "WorkflowTaskStarted",
            "WorkflowTaskCompleted",
        ]
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == ["kiwi"]


async def test_update_on_missing_or_closed_workflow(client, task_queue):
    missing = client.get_workflow_handle(wf_id())
    with pytest.raises(RPCError) as not_found:
        await missing.execute_update(CartWorkflow.add, "x")
    assert not_found.value.status == RPCStatusCode.NOT_FOUND
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        await handle.execute_update(CartWorkflow.checkout, id="last")
        await handle.result()
        with pytest.raises(RPCError) as closed:
            await handle.execute_update(CartWorkflow.add, "late")
        assert closed.value.status == RPCStatusCode.NOT_FOUND
        assert "already completed" in closed.value.message
        # A finished update is still answered after the run closed.
        assert await handle.get_update_handle("last").result() == "done"


async def test_update_waits_for_a_worker_and_rpc_timeout(client, task_queue):
    handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
    with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
        await handle.execute_update(
            CartWorkflow.add, "a", id="early", rpc_timeout=timedelta(milliseconds=300)
        )
    # Cancelling the waiting call is reported the same way.
    waiting = asyncio.ensure_future(handle.execute_update(CartWorkflow.add, "a", id="early"))
    await asyncio.sleep(0.2)
    waiting.cancel()
    with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
        await waiting
    # The update stayed admitted: the worker that comes later runs it, once.
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        assert await handle.execute_update(CartWorkflow.add, "a", id="early") == 1
        assert await handle.get_update_handle("early").result() == 1
        assert await handle.query(CartWorkflow.handled_count) == 1
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == ["a"]


async def test_concurrent_updates_each_run_once(client, task_queue):
    # Updates that arrive while a workflow task is in flight wait for the next task.
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        items = [f"item-{i}" for i in range(20)]
        counts = await asyncio.gather(*(handle.execute_update(CartWorkflow.add, i) for i in items))
        assert sorted(counts) == list(range(1, 21))
        await handle.execute_update(CartWorkflow.checkout)
        assert sorted(await handle.result()) == sorted(items)
        assert await handle.query(CartWorkflow.handled_count) == 20


async def test_waiting_update_fails_when_the_run_ends_first(client, task_queue):
    # No worker: the update stays admitted until the run is terminated.
    handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
    waiting = asyncio.ensure_future(handle.execute_update(CartWorkflow.add, "never"))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await handle.terminate("stop")
    with pytest.raises(RPCError) as err:
        await asyncio.wait_for(waiting, 10)
    assert err.value.status == RPCStatusCode.NOT_FOUND
    assert "already completed" in err.value.message


async def test_run_cannot_close_past_an_update_that_arrived_during_its_task(client, task_queue):
    # Play a worker by hand: lease the task, let an update arrive, then try to close.
    store = (await client._engine()).store
    handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
    rows = await store.fetch("claim_workflow_tasks", client.namespace, task_queue, "by-hand", 1)
    task = rows[0][0]
    assert task["updates"] == []
    update = asyncio.ensure_future(handle.execute_update(CartWorkflow.add, "late", id="racer"))
    admitted = {"status": "update_not_found"}
    while admitted["status"] != "ok":
        await asyncio.sleep(0.02)
        admitted = await store.fetchval("find_update", client.namespace, handle.id, None, "racer")
    first = int(task["next_event_id"])
    close = {
        "first_event_id": first,
        "events": [
            {"type": "WorkflowTaskStarted", "attrs": {"scheduledEventId": str(first - 1)}},
            {"type": "WorkflowTaskCompleted", "attrs": {"scheduledEventId": str(first - 1)}},
            {"type": "WorkflowExecutionCompleted", "attrs": {}},
        ],
        "close": {"status": 2},
    }
    reply = await store.fetchval(
        "complete_workflow_task", task["run_id"], task["lease_id"], "by-hand", close, False
    )
    # As Temporal (UNHANDLED_UPDATE): the close is refused and a new task carries it.
    assert reply["status"] == "rejected"
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        assert await update == 1
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == ["late"]


async def test_updates_survive_replay_without_cache(client, task_queue):
    # No sticky cache: every task replays the whole history, updates included.
    async with Worker(
        client, task_queue=task_queue, workflows=[CartWorkflow], max_cached_workflows=0
    ):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        for i, item in enumerate(["a", "b", "c"]):
            assert await handle.execute_update(CartWorkflow.add, item) == i + 1
        slow = await handle.start_update(
            CartWorkflow.slow_add, "d", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        await handle.signal(CartWorkflow.open_gate)
        assert await slow.result() == 4
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == ["a", "b", "c", "d"]
        assert await handle.query(CartWorkflow.handled_count) == 3


# ------------------------------------------------------------- runtime handlers


@workflow.defn
class RuntimeHandlersWorkflow:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.done = False

    @workflow.run
    async def run(self) -> list[str]:
        def double(value: int) -> int:
            return value * 2

        def no_negatives(value: int) -> None:
            if value < 0:
                raise ValueError("negative")

        workflow.set_update_handler("double", double, validator=no_negatives)
        assert workflow.get_update_handler("double") is double
        workflow.set_dynamic_update_handler(self.any_update)
        await workflow.wait_condition(lambda: self.done)
        return self.seen

    def any_update(self, name: str, args: Sequence[RawValue]) -> str:
        self.seen.append(name)
        if name == "stop":
            self.done = True
        return f"{name}:{len(args)}"


async def test_runtime_and_dynamic_update_handlers(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[RuntimeHandlersWorkflow]):
        handle = await client.start_workflow(
            RuntimeHandlersWorkflow.run, id=wf_id(), task_queue=task_queue
        )
        # Handlers set in run() exist once its first task ran (an update delivered with
        # that very task would find none, as with temporalio).
        while "WorkflowTaskCompleted" not in await history_types(client, handle.id):
            await asyncio.sleep(0.02)
        assert await handle.execute_update("double", 21) == 42
        with pytest.raises(WorkflowUpdateFailedError, match="update failed"):
            await handle.execute_update("double", -1)
        assert await handle.execute_update("whatever", args=[1, 2]) == "whatever:2"
        assert await handle.execute_update("stop") == "stop:0"
        assert await handle.result() == ["whatever", "stop"]


@workflow.defn
class DynamicUpdateWorkflow:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: "stop" in self.calls)
        return self.calls

    @workflow.update(dynamic=True)
    def anything(self, name: str, args: Sequence[RawValue]) -> list[Any]:
        self.calls.append(name)
        return [workflow.payload_converter().from_payload(a.payload) for a in args]

    @anything.validator
    def check_anything(self, name: str, args: Sequence[RawValue]) -> None:
        if name.startswith("bad"):
            raise ValueError(f"{name} refused")


async def test_dynamic_update_handler_with_validator(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[DynamicUpdateWorkflow]):
        handle = await client.start_workflow(
            DynamicUpdateWorkflow.run, id=wf_id(), task_queue=task_queue
        )
        assert await handle.execute_update("sum", args=[1, "two"]) == [1, "two"]
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update("bad-one")
        assert err.value.cause.message == "bad-one refused"
        await handle.execute_update("stop")
        assert await handle.result() == ["sum", "stop"]


# ---------------------------------------------------------------- update with start


async def test_update_with_start_starts_then_uses_existing(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        workflow_id = wf_id()
        start = WithStartWorkflowOperation(
            CartWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        assert (
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "first", start_workflow_operation=start
            )
            == 1
        )
        started = await start.workflow_handle()
        assert started.id == workflow_id
        again = WithStartWorkflowOperation(
            CartWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        update = await client.start_update_with_start_workflow(
            CartWorkflow.add,
            "second",
            start_workflow_operation=again,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        assert await update.result() == 2
        existing = await again.workflow_handle()
        assert existing.result_run_id == started.result_run_id
        # The run's first task had the update: Started, then the task, then the update.
        types = await history_types(client, workflow_id)
        assert types[:5] == [
            "WorkflowExecutionStarted",
            "WorkflowTaskScheduled",
            "WorkflowTaskStarted",
            "WorkflowTaskCompleted",
            "WorkflowExecutionUpdateAccepted",
        ]
        with pytest.raises(RuntimeError, match="reused"):
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "third", start_workflow_operation=again
            )
        await started.execute_update(CartWorkflow.checkout)
        assert await started.result() == ["first", "second"]


async def test_update_with_start_fail_policy_and_validation(client, task_queue):
    with pytest.raises(ValueError, match="WorkflowIDConflictPolicy is required"):
        WithStartWorkflowOperation(
            CartWorkflow.run,
            id=wf_id(),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.UNSPECIFIED,
        )
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        handle = await client.start_workflow(CartWorkflow.run, id=wf_id(), task_queue=task_queue)
        failing = WithStartWorkflowOperation(
            CartWorkflow.run,
            id=handle.id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "x", start_workflow_operation=failing
            )
        with pytest.raises(WorkflowAlreadyStartedError):
            await failing.workflow_handle()
        # Nothing was admitted to the running workflow.
        assert await handle.query(CartWorkflow.handled_count) == 0
        # A rejected update does not undo the start.
        fresh = WithStartWorkflowOperation(
            CartWorkflow.run,
            id=wf_id(),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "", start_workflow_operation=fresh
            )
        started = await fresh.workflow_handle()
        await started.execute_update(CartWorkflow.checkout)
        assert await started.result() == []
        await handle.execute_update(CartWorkflow.checkout)


async def test_update_with_start_attaches_to_the_same_update_id_whatever_the_policy(
    client, task_queue
):
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        workflow_id = wf_id()
        first = WithStartWorkflowOperation(
            CartWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        assert (
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "once", id="add-once", start_workflow_operation=first
            )
            == 1
        )
        # Same update id, a FAIL conflict policy: Temporal hands back the update it
        # already has instead of failing the start or running the update again.
        retry = WithStartWorkflowOperation(
            CartWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        assert (
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "once", id="add-once", start_workflow_operation=retry
            )
            == 1
        )
        started = await first.workflow_handle()
        assert (await retry.workflow_handle()).result_run_id == started.result_run_id
        # Another update id with FAIL still fails as before.
        other = WithStartWorkflowOperation(
            CartWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "twice", id="add-twice", start_workflow_operation=other
            )
        assert await started.query(CartWorkflow.handled_count) == 1
        await started.execute_update(CartWorkflow.checkout)
        assert await started.result() == ["once"]


async def test_update_with_start_on_a_closed_workflow(client, task_queue):
    """As Temporal: an update id the closed latest run completed answers with its
    outcome and starts nothing; a new update id starts a new run (the reuse policy
    allows it) and that run gets the update."""
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        workflow_id = wf_id()

        def operation() -> WithStartWorkflowOperation:
            return WithStartWorkflowOperation(
                CartWorkflow.run,
                id=workflow_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

        first = operation()
        assert (
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "a", id="add-a", start_workflow_operation=first
            )
            == 1
        )
        closed = await first.workflow_handle()
        await closed.execute_update(CartWorkflow.checkout)
        assert await closed.result() == ["a"]

        again = operation()
        assert (
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "a", id="add-a", start_workflow_operation=again
            )
            == 1
        )
        assert (await again.workflow_handle()).result_run_id == closed.result_run_id
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.run_id == closed.result_run_id  # no run started

        fresh = operation()
        assert (
            await client.execute_update_with_start_workflow(
                CartWorkflow.add, "b", id="add-b", start_workflow_operation=fresh
            )
            == 1
        )
        new_run = await fresh.workflow_handle()
        assert new_run.result_run_id != closed.result_run_id
        await new_run.execute_update(CartWorkflow.checkout)
        assert await new_run.result() == ["b"]


# ------------------------------------------------------ unfinished handler warnings


@workflow.defn
class UnfinishedWorkflow:
    def __init__(self) -> None:
        self.started = 0
        self.wait_for_handlers = False

    @workflow.run
    async def run(self, wait_for_handlers: bool) -> str:
        await workflow.wait_condition(lambda: self.started >= 2)
        if wait_for_handlers:
            await workflow.wait_condition(workflow.all_handlers_finished)
        return "finished"

    @workflow.update
    async def stuck_update(self, seconds: float) -> str:
        self.started += 1
        await workflow.sleep(seconds)
        return "update done"

    @workflow.update(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def quiet_update(self) -> None:
        self.started += 1
        await workflow.sleep(3600)

    @workflow.signal
    async def stuck_signal(self) -> None:
        self.started += 1
        await workflow.sleep(3600)

    @workflow.signal(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def quiet_signal(self) -> None:
        self.started += 1
        await workflow.sleep(3600)


async def run_unfinished(client, task_queue: str, kind: str, wait_for_handlers: bool = False):
    """Start UnfinishedWorkflow, leave two handlers of ``kind`` running, and return
    the workflow's result and the warnings its worker gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with Worker(client, task_queue=task_queue, workflows=[UnfinishedWorkflow]):
            handle = await client.start_workflow(
                UnfinishedWorkflow.run, wait_for_handlers, id=wf_id(), task_queue=task_queue
            )
            updates: list[Any] = []
            for i in range(2):
                if kind == "signal":
                    await handle.signal(UnfinishedWorkflow.stuck_signal)
                elif kind == "quiet" and i == 0:
                    await handle.signal(UnfinishedWorkflow.quiet_signal)
                elif kind == "quiet":
                    updates.append(
                        await handle.start_update(
                            UnfinishedWorkflow.quiet_update,
                            id=f"quiet-{i}",
                            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                        )
                    )
                else:
                    seconds = 0.5 if wait_for_handlers else 3600
                    updates.append(
                        await handle.start_update(
                            UnfinishedWorkflow.stuck_update,
                            seconds,
                            id=f"stuck-{i}",
                            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                        )
                    )
            result = await handle.result()
            outcomes: list[BaseException | None] = []
            for update in updates:
                try:
                    await update.result()
                    outcomes.append(None)
                except WorkflowUpdateFailedError as err:
                    outcomes.append(err)
    relevant = [
        w
        for w in caught
        if issubclass(
            w.category,
            (workflow.UnfinishedUpdateHandlersWarning, workflow.UnfinishedSignalHandlersWarning),
        )
    ]
    return result, relevant, outcomes


async def test_unfinished_update_handlers_warn_and_fail_their_updates(client, task_queue):
    result, caught, outcomes = await run_unfinished(client, task_queue, "update")
    assert result == "finished"
    assert len(caught) == 1
    assert caught[0].category is workflow.UnfinishedUpdateHandlersWarning
    message = str(caught[0].message)
    assert "[TMPRL1102]" in message
    assert '"name": "stuck_update", "id": "stuck-0"' in message
    assert '"id": "stuck-1"' in message
    # The clients get an error instead of a result, as with Temporal.
    for err in outcomes:
        assert isinstance(err, WorkflowUpdateFailedError)
        assert isinstance(err.cause, ApplicationError)
        assert err.cause.type == "AcceptedUpdateCompletedWorkflow"


async def test_unfinished_signal_handlers_warn_with_counts(client, task_queue):
    result, caught, _ = await run_unfinished(client, task_queue, "signal")
    assert result == "finished"
    assert [w.category for w in caught] == [workflow.UnfinishedSignalHandlersWarning]
    assert '{"name": "stuck_signal", "count": 2}' in str(caught[0].message)


async def test_abandon_policy_and_waiting_for_handlers_do_not_warn(client, task_queue):
    _, caught, outcomes = await run_unfinished(client, task_queue, "quiet")
    assert caught == []
    # Abandoned quietly, but the update's client still learns it never finished.
    assert [type(err) for err in outcomes] == [WorkflowUpdateFailedError]
    result, caught, outcomes = await run_unfinished(
        client, task_queue, "update", wait_for_handlers=True
    )
    assert result == "finished"
    assert caught == []
    assert outcomes == [None, None]


# ------------------------------------------------------------ client interceptors


class UpdateRecorder(Interceptor):
    """Records the update calls and adds a header to each update."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _UpdateRecorderOutbound(next, self)


class _UpdateRecorderOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, root: UpdateRecorder) -> None:
        super().__init__(next)
        self.root = root

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        self.root.calls.append(("start_workflow_update", input.update))
        input.headers = {**input.headers, "traced": _payload("yes")}
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> Any:
        self.root.calls.append(
            ("start_update_with_start_workflow", input.update_workflow_input.update)
        )
        return await super().start_update_with_start_workflow(input)


def _payload(value: str) -> Any:
    return default_converter().payload_converter.to_payloads([value])[0]


async def test_update_calls_go_through_client_interceptors(client, task_queue):
    recorder = UpdateRecorder()
    traced = Client(client.service_client, namespace=client.namespace, interceptors=[recorder])
    async with Worker(client, task_queue=task_queue, workflows=[CartWorkflow]):
        start = WithStartWorkflowOperation(
            CartWorkflow.run,
            id=wf_id(),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        assert (
            await traced.execute_update_with_start_workflow(
                CartWorkflow.add, "a", start_workflow_operation=start
            )
            == 1
        )
        handle = traced.get_workflow_handle(start._start_workflow_input.id)
        assert await handle.execute_update(CartWorkflow.add, "b") == 2
        assert recorder.calls == [
            ("start_update_with_start_workflow", "add"),
            ("start_workflow_update", "add"),
        ]
        # The header an interceptor added travels in the update request.
        store = (await client._engine()).store
        run = await store.fetchrow("find_run", client.namespace, handle.id, None)
        events = await store.fetchval("events_after", run["run_id"], 0)
        accepted = [e["attrs"] for e in events if e["type"] == "WorkflowExecutionUpdateAccepted"]
        assert "traced" not in (accepted[0]["acceptedRequest"]["input"].get("header") or {}).get(
            "fields", {}
        )
        assert "traced" in accepted[1]["acceptedRequest"]["input"]["header"]["fields"]
        await handle.execute_update(CartWorkflow.checkout)
        assert await handle.result() == ["a", "b"]
