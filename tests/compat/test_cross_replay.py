"""Histories produced here replay in temporalio's own Replayer.

Each scenario is written twice from one template, once with ``hotmesh_temporal``'s
decorators (run here on Postgres) and once with ``temporalio``'s (replayed). The
history exported with ``WorkflowHistory.to_json()`` is loaded with temporalio's
``WorkflowHistory.from_json`` and must replay without a nondeterminism error: our
event model is Temporal's.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import types
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow as t_workflow
from temporalio.client import WorkflowHistory as TWorkflowHistory
from temporalio.worker import Replayer as TReplayer
from temporalio.worker import UnsandboxedWorkflowRunner

from hotmesh_temporal import activity
from hotmesh_temporal.client import WorkflowFailureError
from hotmesh_temporal.worker import Worker


@activity.defn(name="shout")
async def shout(value: str) -> str:
    return value.upper()


_attempts: dict = {}


@activity.defn(name="flaky")
async def flaky(key: str) -> str:
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] < 3:
        raise RuntimeError(f"attempt {_attempts[key]} fails")
    return f"ok after {_attempts[key]}"


# The scenarios, as source: executed once per SDK (module-level classes, as both SDKs
# want), with ``wf`` and ``common`` bound to that SDK's modules.
SCENARIOS = """
import asyncio
from datetime import timedelta

seconds = timedelta(seconds=10)


@wf.defn(name="XActivity", sandboxed=False)
class ActivityWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        first = await wf.execute_activity("shout", value, start_to_close_timeout=seconds)
        second = await wf.execute_activity(
            "flaky", value, start_to_close_timeout=seconds,
            retry_policy=common.RetryPolicy(initial_interval=timedelta(milliseconds=10)),
        )
        return f"{first} {second}"


@wf.defn(name="XTimer", sandboxed=False)
class TimerWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        await wf.sleep(timedelta(milliseconds=50))
        await wf.sleep(timedelta(milliseconds=20))
        return value


@wf.defn(name="XSignalQuery", sandboxed=False)
class SignalQueryWorkflow:
    def __init__(self) -> None:
        self.items = []

    @wf.run
    async def run(self, value: str) -> str:
        await wf.wait_condition(lambda: len(self.items) >= 2)
        return value + ",".join(self.items)

    @wf.signal
    def add(self, item: str) -> None:
        self.items.append(item)

    @wf.query
    def count(self) -> int:
        return len(self.items)


@wf.defn(name="XPatch", sandboxed=False)
class PatchWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        if wf.patched("new-path"):
            value = await wf.execute_activity("shout", value, start_to_close_timeout=seconds)
        wf.deprecate_patch("old-fix")
        await wf.sleep(timedelta(milliseconds=10))
        return value


@wf.defn(name="XLocal", sandboxed=False)
class LocalActivityWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        first = await wf.execute_local_activity("shout", value, start_to_close_timeout=seconds)
        await wf.sleep(timedelta(milliseconds=10))
        return await wf.execute_local_activity(
            "shout", first + "!", start_to_close_timeout=seconds
        )


@wf.defn(name="XLocalBackoff", sandboxed=False)
class LocalBackoffWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        return await wf.execute_local_activity(
            "flaky", value, start_to_close_timeout=seconds,
            retry_policy=common.RetryPolicy(initial_interval=timedelta(milliseconds=20)),
            local_retry_threshold=timedelta(milliseconds=5),
        )


@wf.defn(name="XCancelled", sandboxed=False)
class CancelledWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        await wf.execute_activity("shout", value, start_to_close_timeout=seconds)
        await wf.sleep(timedelta(seconds=30))
        return value


@wf.defn(name="XLocalGiveUp", sandboxed=False)
class LocalGiveUpWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        handle = wf.start_local_activity(
            "broken", value, start_to_close_timeout=seconds,
            retry_policy=common.RetryPolicy(initial_interval=timedelta(seconds=30)),
            local_retry_threshold=timedelta(seconds=1),
        )
        try:
            await asyncio.wait_for(handle, timeout=0.3)
        except asyncio.TimeoutError:
            return "gave up"
        return "finished"


@wf.defn(name="XLocalForgotten", sandboxed=False)
class LocalForgottenWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        wf.start_local_activity("shout", value, start_to_close_timeout=seconds)
        return value


@wf.defn(name="XLocalMixed", sandboxed=False)
class LocalMixedWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        nap = asyncio.ensure_future(wf.sleep(timedelta(milliseconds=50)))
        remote = wf.start_activity("shout", value, start_to_close_timeout=seconds)
        local = wf.start_local_activity("shout", value + "?", start_to_close_timeout=seconds)
        other = wf.start_local_activity("shout", value + "!", start_to_close_timeout=seconds)
        results = [await local, await remote, await other]
        await nap
        return " ".join(results)


@wf.defn(name="XTimerCancelled", sandboxed=False)
class TimerCancelledWorkflow:
    def __init__(self) -> None:
        self.items = []

    @wf.run
    async def run(self, value: str) -> str:
        try:
            await wf.wait_condition(lambda: False, timeout=timedelta(milliseconds=20))
        except asyncio.TimeoutError:
            pass
        await wf.wait_condition(lambda: len(self.items) >= 2, timeout=timedelta(seconds=30))
        return value + ",".join(self.items)

    @wf.signal
    def add(self, item: str) -> None:
        self.items.append(item)


@wf.defn(name="XFailed", sandboxed=False)
class FailedWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        try:
            await wf.execute_activity(
                "broken", value, start_to_close_timeout=seconds,
                retry_policy=common.RetryPolicy(
                    maximum_attempts=2, initial_interval=timedelta(milliseconds=10)
                ),
            )
        except exceptions.ActivityError as err:
            raise exceptions.ApplicationError("gave up", type="GaveUp", non_retryable=True) from err
        return value


@wf.defn(name="XContinue", sandboxed=False)
class ContinueWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        if not value.endswith("+"):
            await wf.sleep(timedelta(milliseconds=10))
            wf.continue_as_new(value + "+")
        return value


@wf.defn(name="XSummaries", sandboxed=False)
class SummariesWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        first = await wf.execute_activity(
            "shout", value, start_to_close_timeout=seconds, summary="remote shout"
        )
        second = await wf.execute_local_activity(
            "shout", first + "!", start_to_close_timeout=seconds, summary="local shout"
        )
        await wf.sleep(timedelta(milliseconds=10), summary="a nap")
        try:
            await wf.wait_condition(
                lambda: False, timeout=timedelta(milliseconds=10), timeout_summary="gave up"
            )
        except asyncio.TimeoutError:
            pass
        return await wf.execute_child_workflow(
            "XSummaryChild", second, id=wf.info().workflow_id + "-child",
            static_summary="the child", static_details="child details",
        )


@wf.defn(name="XSummaryChild", sandboxed=False)
class SummaryChildWorkflow:
    @wf.run
    async def run(self, value: str) -> str:
        return value


# Started by the scenarios, not replayed themselves.
CHILD_WORKFLOWS = [SummaryChildWorkflow]


@wf.defn(name="FixtureGreeting", sandboxed=False)
class FixtureGreeting:
    @wf.run
    async def run(self, name: str) -> str:
        greeting = await wf.execute_activity(
            "compose_greeting", name, start_to_close_timeout=seconds
        )
        await wf.sleep(timedelta(seconds=5))
        return greeting


@wf.defn(name="FixturePatch", sandboxed=False)
class FixturePatch:
    @wf.run
    async def run(self, value: str) -> str:
        step = "new_step" if wf.patched("use-new-step") else "old_step"
        return await wf.execute_activity(step, value, start_to_close_timeout=seconds)


@wf.defn(name="FixtureLocal", sandboxed=False)
class FixtureLocal:
    @wf.run
    async def run(self, name: str) -> str:
        return await wf.execute_local_activity(
            "compose_greeting", name, start_to_close_timeout=seconds
        )


@wf.defn(name="FixtureSignal", sandboxed=False)
class FixtureSignal:
    def __init__(self) -> None:
        self.answer = ""

    @wf.run
    async def run(self) -> str:
        await wf.wait_condition(lambda: bool(self.answer))
        return f"approved: {self.answer}"

    @wf.signal
    def approve(self, answer: str) -> None:
        self.answer = answer


FIXTURE_WORKFLOWS = [FixtureGreeting, FixturePatch, FixtureLocal, FixtureSignal]

ALL = {
    "activity": ActivityWorkflow,
    "timer": TimerWorkflow,
    "signal_query": SignalQueryWorkflow,
    "patch": PatchWorkflow,
    "local_activity": LocalActivityWorkflow,
    "local_activity_backoff": LocalBackoffWorkflow,
    "local_activity_cancelled_in_backoff": LocalGiveUpWorkflow,
    "local_activity_not_awaited": LocalForgottenWorkflow,
    "local_activities_mixed": LocalMixedWorkflow,
    "continue_as_new": ContinueWorkflow,
    "cancelled": CancelledWorkflow,
    "timer_cancelled": TimerCancelledWorkflow,
    "failed": FailedWorkflow,
    "summaries": SummariesWorkflow,
}
"""


@activity.defn(name="broken")
async def broken(value: str) -> str:
    raise RuntimeError("always")


def scenarios(sdk: str) -> dict:
    """The scenario workflow classes of one SDK (``hotmesh_temporal`` or ``temporalio``)."""
    name = f"tests.compat._cross_replay_{sdk}"
    module = types.ModuleType(name)
    module.wf = importlib.import_module(f"{sdk}.workflow")
    module.common = importlib.import_module(f"{sdk}.common")
    module.exceptions = importlib.import_module(f"{sdk}.exceptions")
    sys.modules[name] = module
    exec(compile(SCENARIOS, f"<scenarios for {sdk}>", "exec"), module.__dict__)
    return module


OURS_MODULE = scenarios("hotmesh_temporal")
OURS = OURS_MODULE.ALL
THEIRS_MODULE = scenarios("temporalio")
THEIRS = THEIRS_MODULE.ALL
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"


async def _run_here(client, task_queue, name: str) -> Any:  # noqa: F811
    cls = OURS[name]
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[cls, *OURS_MODULE.CHILD_WORKFLOWS],
        activities=[shout, flaky, broken],
    ):
        handle = await client.start_workflow(
            cls.run, f"v-{uuid.uuid4().hex[:6]}", id=f"x-{uuid.uuid4()}", task_queue=task_queue
        )
        if name == "timer_cancelled":  # signal once the second wait has its timer
            await _wait_for(handle, "timer_fired_event_attributes")
            await asyncio.sleep(0.2)
        if name in ("signal_query", "timer_cancelled"):
            await handle.signal("add", "a")
            await handle.signal("add", "b")
        if name == "failed":
            with pytest.raises(WorkflowFailureError):
                await handle.result()
        elif name == "cancelled":
            await _wait_for(handle, "activity_task_completed_event_attributes")
            await handle.cancel()
            with pytest.raises(WorkflowFailureError):
                await handle.result()
        else:
            await handle.result()
        if name == "signal_query":  # answered by replaying the closed run
            assert await handle.query("count") == 2
        if name == "continue_as_new":  # the first run: the one that continued
            handle = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
        return await handle.fetch_history()


async def _wait_for(handle: Any, attributes: str) -> None:
    for _ in range(200):
        history = await handle.fetch_history()
        if any(e.WhichOneof("attributes") == attributes for e in history.events):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {attributes} in history")


@pytest.mark.parametrize("name", sorted(OURS))
async def test_history_replays_in_temporalio(client, task_queue, name):  # noqa: F811
    history = await _run_here(client, task_queue, name)
    if name == "timer_cancelled":
        kinds = [e.WhichOneof("attributes") for e in history.events]
        assert "timer_canceled_event_attributes" in kinds
    theirs = TWorkflowHistory.from_json(history.workflow_id, history.to_json())
    assert len(theirs.events) == len(history.events)
    if name == "summaries":  # activity, local activity marker, 2 timers, child
        assert sum(e.HasField("user_metadata") for e in theirs.events) == 5
    replayer = TReplayer(workflows=[THEIRS[name]], workflow_runner=UnsandboxedWorkflowRunner())
    result = await replayer.replay_workflow(theirs, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}\n{history.to_json()}"


async def test_changed_code_fails_in_temporalio_too(client, task_queue):  # noqa: F811
    """Sanity check of the check: temporalio does notice a divergent workflow."""
    history = await _run_here(client, task_queue, "timer")
    theirs = TWorkflowHistory.from_json(history.workflow_id, history.to_json())
    runner = UnsandboxedWorkflowRunner()
    replayer = TReplayer(workflows=[THEIRS["activity"]], workflow_runner=runner)
    theirs_renamed = TWorkflowHistory.from_json(
        history.workflow_id, history.to_json().replace('"XTimer"', '"XActivity"')
    )
    result = await replayer.replay_workflow(theirs_renamed, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, t_workflow.NondeterminismError)
    assert theirs.events


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
async def test_hand_written_fixtures_are_authentic_temporal_histories(path):
    """The server-format fixtures the unit tests replay here replay in temporalio too,
    so they are faithful to Temporal's format, not just to our reader."""
    history = TWorkflowHistory.from_json("fixture-wf", path.read_text())
    replayer = TReplayer(
        workflows=THEIRS_MODULE.FIXTURE_WORKFLOWS, workflow_runner=UnsandboxedWorkflowRunner()
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


@pytest.mark.parametrize("name", ["local_activity_backoff", "summaries"])
async def test_exported_events_match_temporalio_messages_byte_for_byte(client, task_queue, name):  # noqa: F811
    """Our HistoryEvent messages are Temporal's: same JSON and same wire bytes (user
    metadata included)."""
    from google.protobuf import json_format
    from temporalio.api.history.v1 import History as THistory

    from hotmesh_temporal.api.history.v1 import History

    history = await _run_here(client, task_queue, name)
    ours = History(events=list(history.events))
    theirs = json_format.ParseDict(history.to_json_dict(), THistory())
    assert json_format.MessageToDict(theirs) == ours.to_json_dict()
    assert theirs.SerializeToString(deterministic=True) == ours.SerializeToString()
    assert History.FromString(theirs.SerializeToString()) == ours


@pytest.mark.parametrize("name", ["activity", "failed", "signal_query", "summaries"])
async def test_json_format_on_our_messages_gives_temporalios_output(client, task_queue, name):  # noqa: F811
    """``google.protobuf.json_format`` reads our History (from ``fetch_history()``) as
    it reads temporalio's: MessageToDict / MessageToJson give the same output under
    every printing option, and ParseDict / Parse fill our messages back."""
    from google.protobuf import json_format
    from temporalio.api.history.v1 import History as THistory

    from hotmesh_temporal.api.common.v1 import Payload
    from hotmesh_temporal.api.history.v1 import History

    history = await _run_here(client, task_queue, name)
    ours = History(events=list(history.events))
    theirs = THistory.FromString(ours.SerializeToString())
    for options in (
        {},
        {"preserving_proto_field_name": True},
        {"use_integers_for_enums": True},
        {"always_print_fields_with_no_presence": True},
    ):
        assert json_format.MessageToDict(ours, **options) == json_format.MessageToDict(
            theirs, **options
        ), options
    # Map entries print in protobuf-python's per-process hash order (see _message.py),
    # so the texts are compared with sorted keys.
    assert json_format.MessageToJson(ours, indent=1, sort_keys=True) == json_format.MessageToJson(
        theirs, indent=1, sort_keys=True
    )
    as_dict = json_format.MessageToDict(theirs)
    assert json_format.ParseDict(as_dict, History()) == ours
    assert json_format.Parse(json_format.MessageToJson(theirs), History()) == ours
    # text_format reads and writes them too (compared through parsing: map entries
    # print in protobuf-python's hash order).
    from google.protobuf import text_format

    assert text_format.Parse(text_format.MessageToString(theirs), History()) == ours
    assert text_format.Parse(text_format.MessageToString(ours), THistory()) == theirs
    # The one-payload case user codecs hit.
    payload = ours.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    their_payload = theirs.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert json_format.MessageToDict(payload) == json_format.MessageToDict(their_payload)
    assert json_format.ParseDict(json_format.MessageToDict(payload), Payload()) == payload
