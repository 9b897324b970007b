"""Child workflows: start, result, failures, cancellation, parent close policies."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any, Dict, List, Optional

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import WorkflowFailureError
from hotmesh_temporal.common import WorkflowIDReusePolicy
from hotmesh_temporal.exceptions import (
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    TerminatedError,
    TimeoutError,
    WorkflowAlreadyStartedError,
)
from hotmesh_temporal.worker import Worker


def wf_id(prefix: str = "child") -> str:
    return f"{prefix}-{uuid.uuid4()}"


@workflow.defn
class Greeter:
    @workflow.run
    async def run(self, name: str) -> Dict[str, Any]:
        info = workflow.info()
        return {
            "greeting": f"hello {name}",
            "parent": info.parent and [info.parent.workflow_id, info.parent.run_id, info.parent.namespace],
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
        self.seen: List[str] = []

    @workflow.run
    async def run(self) -> List[str]:
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
    async def run(self, child_id: str) -> Dict[str, Any]:
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
