"""Queries as temporalio answers them (issue 20): read-only handlers, logger lines
from query handlers, and the built-in queries every workflow answers."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.api.sdk.v1 import EnhancedStackTrace, WorkflowMetadata
from hotmesh_temporal.client import WorkflowQueryFailedError
from hotmesh_temporal.worker import Worker


@activity.defn
async def noop() -> None:
    return None


@workflow.defn
class QueriedWorkflow:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        workflow.set_current_details("waiting for done")
        await workflow.wait_condition(lambda: self.done)
        return "done"

    @workflow.signal(description="Finish the run")
    def finish(self) -> None:
        self.done = True

    @workflow.update(description="Echo a value")
    def echo(self, value: str) -> str:
        return value

    @workflow.query(description="Is it done?")
    def is_done(self) -> bool:
        workflow.logger.info("answering is_done")
        return self.done

    @workflow.query
    def starts_timer(self) -> None:
        asyncio.get_running_loop().call_later(5, lambda: None)

    @workflow.query
    def starts_activity(self) -> None:
        workflow.start_activity(noop, start_to_close_timeout=timedelta(seconds=5))

    @workflow.query
    def draws_randomness(self) -> float:
        return workflow.random().random()

    @workflow.query
    def makes_uuid(self) -> str:
        return str(workflow.uuid4())

    @workflow.query
    def creates_task(self) -> None:
        async def nothing() -> None:
            return None

        asyncio.get_running_loop().create_task(nothing())

    @workflow.query
    def checks_patch(self) -> bool:
        return workflow.patched("p1")

    @workflow.query
    def sets_details(self) -> None:
        workflow.set_current_details("changed")


async def _started(client, task_queue):
    handle = await client.start_workflow(
        QueriedWorkflow.run, id=f"query-{uuid.uuid4()}", task_queue=task_queue
    )
    for _ in range(100):
        if "waiting" in (await handle.query("__temporal_workflow_metadata")).current_details:
            return handle
        await asyncio.sleep(0.05)
    raise AssertionError("the run never started")


@pytest.mark.parametrize(
    ("query", "action"),
    [
        ("starts_timer", "schedule timer"),
        ("starts_activity", "start activity"),
        ("draws_randomness", "random"),
        ("makes_uuid", "random"),
        ("creates_task", "create task"),
        ("checks_patch", "patch"),
        ("sets_details", "set current details"),
    ],
)
async def test_queries_are_read_only(client, task_queue, query, action):
    async with Worker(
        client, task_queue=task_queue, workflows=[QueriedWorkflow], activities=[noop]
    ):
        handle = await _started(client, task_queue)
        with pytest.raises(WorkflowQueryFailedError) as err:
            await handle.query(query)
        assert str(err.value) == f"While in read-only function, action attempted: {action}"
        # Nothing the query tried reached the run: it still finishes normally.
        await handle.signal(QueriedWorkflow.finish)
        assert await handle.result() == "done"
    history = await handle.fetch_history()
    assert not [e for e in history.events if e.HasField("timer_started_event_attributes")]
    assert not [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")]


async def test_built_in_queries(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[QueriedWorkflow]):
        handle = await _started(client, task_queue)

        trace = await handle.query("__stack_trace")
        assert "Stack for <Task" in trace and "(most recent call last)" in trace
        assert "wait_condition" in trace

        enhanced = await handle.query("__enhanced_stack_trace")
        assert isinstance(enhanced, EnhancedStackTrace)
        assert enhanced.sdk.name == "sdk-python"
        locations = [loc for stack in enhanced.stacks for loc in stack.locations]
        here = [loc for loc in locations if loc.file_path == __file__]
        assert [loc.function_name for loc in here] == ["run"]
        assert "class QueriedWorkflow" in enhanced.sources[__file__].content

        metadata = await handle.query("__temporal_workflow_metadata")
        assert isinstance(metadata, WorkflowMetadata)
        assert metadata.definition.type == "QueriedWorkflow"
        assert metadata.current_details == "waiting for done"
        queries = {d.name: d.description for d in metadata.definition.query_definitions}
        assert queries["is_done"] == "Is it done?"
        assert {"__stack_trace", "__enhanced_stack_trace", "__temporal_workflow_metadata"} <= set(
            queries
        )
        assert [(d.name, d.description) for d in metadata.definition.signal_definitions] == [
            ("finish", "Finish the run")
        ]
        assert [(d.name, d.description) for d in metadata.definition.update_definitions] == [
            ("echo", "Echo a value")
        ]

        with pytest.raises(WorkflowQueryFailedError) as err:
            await handle.query("nope")
        assert "known queries: [__enhanced_stack_trace __stack_trace" in str(err.value)
        await handle.signal(QueriedWorkflow.finish)
        await handle.result()


async def test_query_handler_logger_lines(client, task_queue, caplog):
    async with Worker(client, task_queue=task_queue, workflows=[QueriedWorkflow]):
        handle = await _started(client, task_queue)
        with caplog.at_level(logging.INFO, logger="hotmesh_temporal.workflow"):
            assert await handle.query(QueriedWorkflow.is_done) is False
            assert await handle.query(QueriedWorkflow.is_done) is False
        lines = [r for r in caplog.records if r.getMessage().startswith("answering is_done")]
        # Every query's lines are emitted (a query is never a replay), with the
        # workflow's details attached as temporalio's logger adapter does.
        assert len(lines) == 2
        assert lines[0].temporal_workflow["workflow_type"] == "QueriedWorkflow"
        await handle.signal(QueriedWorkflow.finish)
        await handle.result()
