"""Signals and queries against live workers and closed workflows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import (
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)
from hotmesh_temporal.common import QueryRejectCondition
from hotmesh_temporal.service import RPCError
from hotmesh_temporal.worker import Worker


@workflow.defn
class InboxWorkflow:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.done = False

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.done)
        return self.messages

    @workflow.signal
    async def add(self, message: str) -> None:
        self.messages.append(message)

    @workflow.signal(name="finish")
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def count(self) -> int:
        return len(self.messages)

    @workflow.query
    def fail(self) -> int:
        raise ValueError("query handler broke")


def wf_id() -> str:
    return f"msg-{uuid.uuid4()}"


async def test_signals_in_order_and_queries(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[InboxWorkflow]):
        handle = await client.start_workflow(InboxWorkflow.run, id=wf_id(), task_queue=task_queue)
        for i in range(5):
            await handle.signal(InboxWorkflow.add, f"m{i}")
        for _ in range(50):
            if await handle.query(InboxWorkflow.count) == 5:
                break
            await asyncio.sleep(0.05)
        assert await handle.query("count") == 5
        with pytest.raises(WorkflowQueryFailedError, match="query handler broke"):
            await handle.query(InboxWorkflow.fail)
        with pytest.raises(WorkflowQueryFailedError, match="known queries"):
            await handle.query("nope")
        await handle.signal("finish")
        assert await handle.result() == ["m0", "m1", "m2", "m3", "m4"]
        # A closed workflow is queried by replaying its history.
        assert await handle.query(InboxWorkflow.count) == 5
        with pytest.raises(WorkflowQueryRejectedError):
            await handle.query(InboxWorkflow.count, reject_condition=QueryRejectCondition.NOT_OPEN)


async def test_signal_with_start_and_unknown_workflow(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[InboxWorkflow]):
        workflow_id = wf_id()
        handle = await client.start_workflow(
            InboxWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            start_signal="add",
            start_signal_args=["first"],
        )
        again = await client.start_workflow(
            InboxWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
            start_signal="add",
            start_signal_args=["second"],
        )
        assert again.result_run_id == handle.result_run_id
        await handle.signal("finish")
        assert await handle.result() == ["first", "second"]
    with pytest.raises(RPCError):
        await client.get_workflow_handle("no-such-workflow").signal("add", "x")


async def test_signals_are_not_lost_to_a_completing_workflow(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[InboxWorkflow]):
        handles = [
            await client.start_workflow(InboxWorkflow.run, id=wf_id(), task_queue=task_queue)
            for _ in range(10)
        ]
        await asyncio.gather(*[h.signal("add", "a") for h in handles])
        await asyncio.gather(*[h.signal("finish") for h in handles])
        results = await asyncio.gather(*[h.result() for h in handles])
    assert results == [["a"]] * 10


async def test_query_times_out_without_worker(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[InboxWorkflow]):
        handle = await client.start_workflow(InboxWorkflow.run, id=wf_id(), task_queue=task_queue)
        await asyncio.sleep(0.2)
    with pytest.raises(RPCError, match="timed out"):
        await handle.query(InboxWorkflow.count, rpc_timeout=timedelta(milliseconds=300))
    await handle.terminate()
