"""Continue-as-new: every parameter, what the next run inherits, run chains, history
length and size, and the continue-as-new suggestion."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.runtime import driver as replay
from hotmesh_temporal._engine.store.limits import Limits
from hotmesh_temporal.client import WorkflowContinuedAsNewError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.worker import Worker


def wf_id() -> str:
    return f"can-{uuid.uuid4()}"


async def history(client, run_id: str) -> list[dict[str, Any]]:
    store = (await client._engine()).store
    return await store.fetchval("events_after", uuid.UUID(run_id), 0)


def describe_run() -> dict[str, Any]:
    info = workflow.info()
    policy = info.retry_policy
    return {
        "type": info.workflow_type,
        "run_id": info.run_id,
        "continued": info.continued_run_id,
        "first": info.first_execution_run_id,
        "task_queue": info.task_queue,
        "run_timeout": info.run_timeout and info.run_timeout.total_seconds(),
        "task_timeout": info.task_timeout.total_seconds(),
        "memo": workflow.memo(),
        "retry_max": policy and policy.maximum_attempts,
        "attempt": info.attempt,
    }


@workflow.defn
class Chain:
    @workflow.run
    async def run(self, hops: int, seen: list[str]) -> dict[str, Any]:
        seen = seen + [workflow.info().run_id]
        if hops > 0:
            workflow.continue_as_new(args=[hops - 1, seen])
        return {"seen": seen, **describe_run()}


async def test_chain_result_follows_runs_and_links_them(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Chain]):
        handle = await client.start_workflow(
            Chain.run, args=[2, []], id=wf_id(), task_queue=task_queue
        )
        result = await handle.result()
        seen = result["seen"]
        assert len(seen) == 3 and seen[0] == handle.result_run_id
        assert result["continued"] == seen[1]
        assert result["first"] == seen[0]
        with pytest.raises(WorkflowContinuedAsNewError) as info:
            await handle.result(follow_runs=False)
        assert info.value.new_execution_run_id == seen[1]
        latest = client.get_workflow_handle(handle.id)
        assert (await latest.describe()).run_id == seen[2]
    first = await history(client, seen[0])
    assert first[-1]["type"] == "WorkflowExecutionContinuedAsNew"
    assert first[-1]["attrs"]["newExecutionRunId"] == seen[1]
    second_start = (await history(client, seen[1]))[0]["attrs"]
    assert second_start["continuedExecutionRunId"] == seen[0]
    assert second_start["initiator"] == "CONTINUE_AS_NEW_INITIATOR_WORKFLOW"
    assert second_start["firstExecutionRunId"] == seen[0]


@workflow.defn
class Mover:
    @workflow.run
    async def run(self, other_queue: str) -> dict[str, Any]:
        workflow.continue_as_new(
            args=["landed"],
            workflow=Landed.run,
            task_queue=other_queue,
            run_timeout=timedelta(minutes=3),
            task_timeout=timedelta(seconds=4),
            memo={"moved": True},
            retry_policy=RetryPolicy(maximum_attempts=7),
            backoff_start_interval=timedelta(milliseconds=200),
            search_attributes={"CustomKeywordField": ["moved"]},
        )


@workflow.defn
class Landed:
    @workflow.run
    async def run(self, note: str) -> dict[str, Any]:
        return {"note": note, **describe_run()}


async def test_every_parameter_reaches_the_next_run(client, task_queue):
    other_queue = f"{task_queue}-other"
    async with (
        Worker(client, task_queue=task_queue, workflows=[Mover]),
        Worker(client, task_queue=other_queue, workflows=[Landed]),
    ):
        handle = await client.start_workflow(
            Mover.run, other_queue, id=wf_id(), task_queue=task_queue, memo={"old": 1}
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await handle.result()
        assert loop.time() - started >= 0.2  # backoff_start_interval
    assert result["note"] == "landed"
    assert result["type"] == "Landed"
    assert result["task_queue"] == other_queue
    assert result["run_timeout"] == 180
    assert result["task_timeout"] == 4
    assert result["memo"] == {"moved": True}
    assert result["retry_max"] == 7
    assert result["continued"] == handle.result_run_id
    continued = (await history(client, handle.result_run_id))[-1]["attrs"]
    assert continued["workflowType"] == {"name": "Landed"}
    assert continued["backoffStartInterval"] == "0.2s"
    assert continued["taskQueue"]["name"] == other_queue
    started_attrs = (await history(client, result["run_id"]))[0]["attrs"]
    assert started_attrs["firstWorkflowTaskBackoff"] == "0.2s"
    assert "CustomKeywordField" in started_attrs["searchAttributes"]["indexedFields"]


@workflow.defn
class Inherit:
    @workflow.run
    async def run(self, again: bool) -> dict[str, Any]:
        if again:
            workflow.continue_as_new(False)
        return describe_run()


async def test_unset_parameters_are_inherited(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Inherit]):
        result = await client.execute_workflow(
            Inherit.run,
            True,
            id=wf_id(),
            task_queue=task_queue,
            run_timeout=timedelta(minutes=2),
            task_timeout=timedelta(seconds=6),
            memo={"kept": "yes"},
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
    assert result["type"] == "Inherit"
    assert result["task_queue"] == task_queue
    assert result["run_timeout"] == 120
    assert result["task_timeout"] == 6
    assert result["memo"] == {"kept": "yes"}
    assert result["retry_max"] == 3
    assert result["attempt"] == 1


@workflow.defn
class HistoryFacts:
    def __init__(self) -> None:
        self.lengths: list[int] = []
        self.sizes: list[int] = []

    @workflow.run
    async def run(self, steps: int) -> dict[str, Any]:
        for _ in range(steps):
            self.lengths.append(workflow.info().get_current_history_length())
            self.sizes.append(workflow.info().get_current_history_size())
            await workflow.sleep(0.01)
        return {"lengths": self.lengths, "sizes": self.sizes}

    @workflow.query
    def facts(self) -> dict[str, Any]:
        return {"lengths": self.lengths, "sizes": self.sizes}


async def test_history_length_and_size_match_history_and_replay(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[HistoryFacts]):
        handle = await client.start_workflow(HistoryFacts.run, 3, id=wf_id(), task_queue=task_queue)
        result = await handle.result()
        # A closed workflow is queried by replaying its history: same values.
        assert await handle.query(HistoryFacts.facts) == result
    events = await history(client, handle.result_run_id)
    started = [e for e in events if e["type"] == "WorkflowTaskStarted"]
    assert result["lengths"] == [int(e["id"]) for e in started[:3]]
    assert result["sizes"] == [int(e["attrs"]["historySizeBytes"]) for e in started[:3]]
    assert 0 < result["sizes"][0] < result["sizes"][1] < result["sizes"][2]


@workflow.defn
class UntilSuggested:
    @workflow.run
    async def run(self, runs: int) -> int:
        while not workflow.info().is_continue_as_new_suggested():
            await workflow.sleep(0.001)
        if runs > 1:
            workflow.continue_as_new(runs - 1)
        return workflow.info().get_current_history_length()


async def test_continue_as_new_suggested_past_the_threshold(client, task_queue, monkeypatch):
    # Temporal suggests it from 4096 events or 4 MiB; a small threshold (the
    # deployment's limits, as read at connect) keeps this fast.
    store = (await client._engine()).store
    monkeypatch.setattr(store, "limits", replace(store.limits, history_count_suggest_can=20))
    async with Worker(client, task_queue=task_queue, workflows=[UntilSuggested]):
        handle = await client.start_workflow(
            UntilSuggested.run, 2, id=wf_id(), task_queue=task_queue
        )
        assert await handle.result() >= 20
    events = await history(client, handle.result_run_id)
    started = [e for e in events if e["type"] == "WorkflowTaskStarted"]
    assert started[-1]["attrs"]["suggestContinueAsNew"] is True
    assert "suggestContinueAsNew" not in started[0]["attrs"]
    assert events[-1]["type"] == "WorkflowExecutionContinuedAsNew"


def test_suggestion_thresholds_are_temporals():
    assert replay.SUGGEST_CONTINUE_AS_NEW_EVENTS == 4096
    assert replay.SUGGEST_CONTINUE_AS_NEW_BYTES == 4 * 1024 * 1024
    assert replay.continue_as_new_suggested(10, 4 * 1024 * 1024)
    assert not replay.continue_as_new_suggested(4095, 100)
    assert Limits().history_count_suggest_can == replay.SUGGEST_CONTINUE_AS_NEW_EVENTS
    assert Limits().history_size_suggest_can == replay.SUGGEST_CONTINUE_AS_NEW_BYTES
