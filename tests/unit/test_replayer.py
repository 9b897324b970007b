"""Replayer on hand-written Temporal-server histories (tests/fixtures/histories, in the
JSON form ``temporal workflow show --output json`` prints), without a database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import WorkflowHistory
from hotmesh_temporal.worker import Replayer, WorkflowReplayResult

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "histories"


def load(name: str, **changes: str) -> WorkflowHistory:
    text = (FIXTURES / name).read_text()
    for old, new in changes.items():
        text = text.replace(old, new)
    return WorkflowHistory.from_json("fixture-wf", text)


@workflow.defn(name="FixtureGreeting")
class FixtureGreeting:
    @workflow.run
    async def run(self, name: str) -> str:
        greeting = await workflow.execute_activity(
            "compose_greeting", name, start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.sleep(timedelta(seconds=5))
        return greeting


@workflow.defn(name="FixtureGreeting")
class GreetingWithoutTimer:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            "compose_greeting", name, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn(name="FixtureGreeting")
class GreetingOtherActivity:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            "other_greeting", name, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn(name="FixturePatch")
class PatchedWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        step = "new_step" if workflow.patched("use-new-step") else "old_step"
        return await workflow.execute_activity(
            step, value, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn(name="FixturePatch")
class UnpatchedWorkflow:
    """The patch removed before it was deprecated: new code only."""

    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            "new_step", value, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn(name="FixtureLocal")
class FixtureLocal:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_local_activity(
            "compose_greeting", name, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn(name="FixtureSignal")
class FixtureSignal:
    def __init__(self) -> None:
        self.answer = ""

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: bool(self.answer))
        return f"approved: {self.answer}"

    @workflow.signal
    def approve(self, answer: str) -> None:
        self.answer = answer


ALL = [FixtureGreeting, PatchedWorkflow, FixtureLocal, FixtureSignal]


@pytest.mark.parametrize(
    "name",
    [
        "activity_timer.json",
        "patch_before.json",
        "patch_after.json",
        "local_activity.json",
        "signal_legacy_format.json",
        "workflow_task_failed_then_fixed.json",
    ],
)
async def test_server_histories_replay(name):
    history = load(name)
    result = await Replayer(workflows=ALL).replay_workflow(history)
    assert isinstance(result, WorkflowReplayResult)
    assert result.replay_failure is None and result.history is history


def test_from_json_reads_server_and_legacy_exports():
    history = load("activity_timer.json")
    assert history.run_id == "0e4b5c0e-6a8e-4d1b-9b1f-3a2f1c9d7e11"
    first = history.events[0]
    assert first.event_id == 1 and first.WhichOneof("attributes") == (
        "workflow_execution_started_event_attributes"
    )
    assert first.workflow_execution_started_event_attributes.workflow_type.name == "FixtureGreeting"
    legacy = load("signal_legacy_format.json")
    exported = legacy.to_json_dict()
    assert exported["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    attrs = exported["events"][0]["workflowExecutionStartedEventAttributes"]
    assert attrs["taskQueue"]["kind"] == "TASK_QUEUE_KIND_NORMAL"
    signaled = legacy.events[4].workflow_execution_signaled_event_attributes
    assert signaled.signal_name == "approve"


def test_json_round_trip_is_unchanged():
    for path in FIXTURES.glob("*.json"):
        history = WorkflowHistory.from_json("fixture-wf", path.read_text())
        again = WorkflowHistory.from_json("fixture-wf", history.to_json())
        assert again == history, path.name
        assert json.loads(again.to_json()) == history.to_json_dict()


async def test_divergent_code_reports_nondeterminism_naming_the_event():
    with pytest.raises(workflow.NondeterminismError, match=r"event 11 is TimerStarted"):
        await Replayer(workflows=[GreetingWithoutTimer]).replay_workflow(
            load("activity_timer.json")
        )
    with pytest.raises(workflow.NondeterminismError, match="compose_greeting"):
        await Replayer(workflows=[GreetingOtherActivity]).replay_workflow(
            load("activity_timer.json")
        )


async def test_patch_marker_without_the_patch_call_is_nondeterminism():
    with pytest.raises(workflow.NondeterminismError, match="core_patch"):
        await Replayer(workflows=[UnpatchedWorkflow]).replay_workflow(load("patch_after.json"))


async def test_deprecated_patch_marker_may_be_missing_from_code():
    deprecated = load(
        "patch_after.json",
        **{
            # {"id":"use-new-step","deprecated":false} -> ...true}, base64-encoded
            "eyJpZCI6InVzZS1uZXctc3RlcCIsImRlcHJlY2F0ZWQiOmZhbHNlfQ==": (
                "eyJpZCI6InVzZS1uZXctc3RlcCIsImRlcHJlY2F0ZWQiOnRydWV9"
            )
        },
    )
    await Replayer(workflows=[UnpatchedWorkflow]).replay_workflow(deprecated)


async def test_replay_workflows_collects_failures_by_run_id():
    async def histories():
        yield load("activity_timer.json")
        yield load("patch_after.json")

    replayer = Replayer(workflows=[GreetingWithoutTimer, UnpatchedWorkflow])
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    assert set(results.replay_failures) == {
        "0e4b5c0e-6a8e-4d1b-9b1f-3a2f1c9d7e11",
        "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
    }
    assert all(
        isinstance(err, workflow.NondeterminismError) for err in results.replay_failures.values()
    )
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflows(histories())


async def test_replay_iterator_yields_one_result_per_history():
    async def histories():
        yield load("activity_timer.json")
        yield load("local_activity.json")

    replayer = Replayer(workflows=ALL)
    async with replayer.workflow_replay_iterator(histories()) as results:
        seen = [result async for result in results]
    assert [r.replay_failure for r in seen] == [None, None]
    assert [r.history.run_id for r in seen] == [
        "0e4b5c0e-6a8e-4d1b-9b1f-3a2f1c9d7e11",
        "9c8b7a6d-5e4f-4d3c-9b2a-1f0e9d8c7b6a",
    ]


async def test_unregistered_workflow_type_is_a_replay_failure():
    result = await Replayer(workflows=[FixtureSignal]).replay_workflow(
        load("activity_timer.json"), raise_on_replay_failure=False
    )
    assert isinstance(result.replay_failure, RuntimeError)
    assert "FixtureGreeting" in str(result.replay_failure)


async def test_history_without_a_start_event_is_a_replay_failure():
    history = load("activity_timer.json")
    broken = WorkflowHistory(history.workflow_id, history.events[1:])
    result = await Replayer(workflows=ALL).replay_workflow(broken, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, RuntimeError)
    assert "workflow start" in str(result.replay_failure)


def test_bad_json_histories_are_clear_errors():
    with pytest.raises(ValueError):
        WorkflowHistory.from_json("x", "not json")
    with pytest.raises(ValueError, match="events"):
        WorkflowHistory.from_json("x", {"history": []})
    with pytest.raises(ValueError, match="EVENT_TYPE_NO_SUCH_THING"):
        WorkflowHistory.from_json(
            "x", {"events": [{"eventId": "1", "eventType": "EVENT_TYPE_NO_SUCH_THING"}]}
        )


def test_unknown_fields_from_newer_servers_are_ignored():
    text = (FIXTURES / "activity_timer.json").read_text()
    newer = json.loads(text)
    newer["events"][0]["someFutureField"] = {"x": 1}
    newer["events"][0]["workflowExecutionStartedEventAttributes"]["futureOption"] = True
    assert WorkflowHistory.from_json("fixture-wf", newer) == load("activity_timer.json")


def test_replayer_needs_workflows_and_keeps_its_config():
    with pytest.raises(ValueError, match="At least one workflow"):
        Replayer(workflows=[])
    replayer = Replayer(workflows=[FixtureSignal], namespace="ns")
    assert replayer.config()["namespace"] == "ns"
    assert replayer.config()["workflows"] == [FixtureSignal]


async def test_plugins_configure_and_wrap_the_replayer():
    from hotmesh_temporal.worker import Plugin

    calls: list = []

    class Tracing(Plugin):
        def configure_worker(self, config):
            return config

        async def run_worker(self, worker, next):
            await next(worker)

        def configure_replayer(self, config):
            calls.append("configure")
            return {**config, "namespace": "from-plugin"}

        def run_replayer(self, replayer, histories, next):
            calls.append("run")
            return next(replayer, histories)

    replayer = Replayer(workflows=ALL, plugins=[Tracing()])
    assert replayer.config()["namespace"] == "ReplayNamespace"
    assert replayer.config(active_config=True)["namespace"] == "from-plugin"
    await replayer.replay_workflow(load("activity_timer.json"))
    assert calls == ["configure", "run"]


async def test_replay_workflows_accepts_a_plain_list_too():
    results = await Replayer(workflows=ALL).replay_workflows(
        [load("activity_timer.json"), load("signal_legacy_format.json")]
    )
    assert results.replay_failures == {}
