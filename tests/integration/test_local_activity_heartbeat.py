"""A workflow task heartbeats while its local activities run, as temporalio 1.35's core
does (issue 20): once 80% of the workflow task timeout has passed with a local
activity still running, the task is completed with what it has (markers of the local
activities already done, the other commands issued so far) and a new task is forced,
in which the workflow carries on while the activity keeps running. So a signal, a
timer that fires or a workflow cancellation that arrives meanwhile reaches the
workflow before the activity ends, and the workflow can cancel the activity in
reaction.

Recorded with temporalio's own worker on a ``temporal server start-dev`` (workflow
task timeout 2 s): ``tools/record_local_activity_heartbeat.py`` →
``tests/fixtures/recorded/local_activity_heartbeat_temporalio.json``. Here the same
workflows run on Postgres; their histories must have the recorded shape (a heartbeat
task with nothing in it aside, as their number depends on how long the activity ran),
replay in our Replayer and in temporalio's, and the recorded histories must replay in
ours.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client, WorkflowHistory
from hotmesh_temporal.worker import Replayer, Worker

ROOT = Path(__file__).resolve().parents[2]
RECORDED = json.loads(
    (ROOT / "tests/fixtures/recorded/local_activity_heartbeat_temporalio.json").read_text()
)
TASK_TIMEOUT = timedelta(seconds=RECORDED["task_timeout_seconds"])
LONG = 60.0  # a long local activity's limit: it runs until the test releases it
released: set[str] = set()  # workflow ids whose long local activity may finish
running: set[str] = set()  # workflow ids whose long local activity has started


@activity.defn(name="la_sleep")
async def la_sleep(seconds: float) -> str:
    """Short ones sleep; long ones run until released (or cancelled)."""
    if seconds < 1:
        await asyncio.sleep(seconds)
        return f"slept {seconds}"
    workflow_id = activity.info().workflow_id
    running.add(workflow_id)
    ends = time.monotonic() + seconds
    while workflow_id not in released and time.monotonic() < ends:
        await asyncio.sleep(0.05)
    return f"slept {seconds}"


def _local(seconds: float) -> Any:
    return workflow.execute_local_activity(
        "la_sleep", seconds, start_to_close_timeout=timedelta(seconds=90)
    )


@workflow.defn(name="LaSignal", sandboxed=False)
class LaSignal:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @workflow.run
    async def run(self, seconds: float) -> list[str]:
        result = await _local(seconds)
        self.seen.append(f"activity:{result}")
        await workflow.wait_condition(lambda: len(self.seen) >= 2)
        return self.seen

    @workflow.signal
    def poke(self, value: str) -> None:
        self.seen.append(f"signal:{value}")

    @workflow.query
    def seen_so_far(self) -> list[str]:
        return list(self.seen)

    @workflow.update
    def note(self, value: str) -> str:
        self.seen.append(f"update:{value}")
        return f"noted {value}"


@workflow.defn(name="LaSignalCancels", sandboxed=False)
class LaSignalCancels:
    def __init__(self) -> None:
        self.stop = False

    @workflow.run
    async def run(self, seconds: float) -> str:
        handle = workflow.start_local_activity(
            "la_sleep", seconds, start_to_close_timeout=timedelta(seconds=90)
        )
        await workflow.wait_condition(lambda: self.stop or handle.done())
        if not handle.done():
            handle.cancel()
        try:
            return f"result:{await handle}"
        except Exception as err:  # noqa: BLE001 - what the workflow sees is compared
            cause = getattr(err, "cause", None)
            return f"error:{type(err).__name__}:{err}:{type(cause).__name__}:{cause}"

    @workflow.signal
    def stop_it(self) -> None:
        self.stop = True


@workflow.defn(name="LaTimer", sandboxed=False)
class LaTimer:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @workflow.run
    async def run(self, seconds: float) -> list[str]:
        async def tick() -> None:
            await asyncio.sleep(1)
            self.seen.append("timer fired")

        ticking = asyncio.create_task(tick())
        result = await _local(seconds)
        self.seen.append(f"activity:{result}")
        await ticking
        return self.seen


@workflow.defn(name="LaCancelled", sandboxed=False)
class LaCancelled:
    @workflow.run
    async def run(self, seconds: float) -> str:
        try:
            await _local(seconds)
        except Exception as err:  # noqa: BLE001
            return f"caught:{type(err).__name__}:{err}"
        except asyncio.CancelledError:
            return "caught:asyncio.CancelledError"
        return "not cancelled"


@workflow.defn(name="LaTwo", sandboxed=False)
class LaTwo:
    @workflow.run
    async def run(self, seconds: float) -> list[str]:
        first = await _local(0.1)
        second = await _local(seconds)
        return [first, second]


WORKFLOWS = [LaSignal, LaSignalCancels, LaTimer, LaCancelled, LaTwo]

# ------------------------------------------------------------------ history shapes

_HEARTBEAT_ONLY = ["WorkflowTaskCompleted", "WorkflowTaskScheduled", "WorkflowTaskStarted"]


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["eventType"].removeprefix("EVENT_TYPE_").title().replace("_", "") for e in events]


def _shape(types: list[str]) -> list[str]:
    """Event types with heartbeat tasks that had nothing in them left out (their
    number depends on how long the activity ran): a task completed with no command
    and straight away followed by the next one."""
    out: list[str] = []
    for kind in types:
        out.append(kind)
        if out[-4:] == ["WorkflowTaskStarted", *_HEARTBEAT_ONLY]:
            del out[-3:]
    return out


async def _events(handle: Any) -> list[dict[str, Any]]:
    history = await handle.fetch_history()
    return json.loads(history.to_json())["events"]


async def _release_once(handle: Any, done: Any) -> None:
    """Poll the run's history until ``done(types)`` holds, then let its long local
    activity finish (no timing asserted: a worker that never heartbeats never gets
    there, and the test fails on its limit)."""
    for _ in range(400):
        if done(_types(await _events(handle))):
            released.add(handle.id)
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"history never got there: {_types(await _events(handle))}")


def _after(types: list[str], first: str, then: str) -> bool:
    return first in types and then in types[types.index(first) + 1 :]


async def _run(
    client: Client, task_queue: str, name: str, seconds: float, during: Any
) -> tuple[Any, list[dict[str, Any]]]:
    wid = f"{name}-{uuid.uuid4()}"
    handle = await client.start_workflow(
        name, seconds, id=wid, task_queue=task_queue, task_timeout=TASK_TIMEOUT
    )
    try:
        while wid not in running:  # what the test does happens while it runs
            await asyncio.sleep(0.05)
        await during(handle)
        result = await handle.result()
    finally:
        released.add(wid)  # (on failure: do not leave it running)
    return result, await _events(handle)


def _worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[la_sleep])


# ---------------------------------------------------------------------------- tests


async def test_signal_reaches_the_workflow_while_its_local_activity_runs(client, task_queue):
    async def poke_then_release(handle: Any) -> None:
        await handle.signal("poke", "early")
        # The task that took the signal was completed (a heartbeat): its handler ran.
        await _release_once(
            handle,
            lambda types: _after(types, "WorkflowExecutionSignaled", "WorkflowTaskCompleted"),
        )

    async with _worker(client, task_queue):
        result, events = await _run(client, task_queue, "LaSignal", LONG, poke_then_release)
    assert result == ["signal:early", f"activity:slept {LONG}"]
    assert result[0] == RECORDED["signal"]["outcome"]["result"][0]
    assert _shape(_types(events)) == _shape(_types(RECORDED["signal"]["events"]))
    await _replays(events, "LaSignal")


async def test_queries_are_answered_at_the_heartbeat_while_the_activity_runs(client, task_queue):
    """A query is answered at the next heartbeat (not when the activity ends), from
    the state the workflow has then: a signal sent before it has been handled."""
    answers: list[Any] = []

    async def query_signal_query(handle: Any) -> None:
        # (A limit only so that a worker that never answers fails instead of hanging.)
        answers.append(await asyncio.wait_for(handle.query("seen_so_far"), 60))
        await handle.signal("poke", "early")
        answers.append(await asyncio.wait_for(handle.query("seen_so_far"), 60))
        released.add(handle.id)

    async with _worker(client, task_queue):
        result, events = await _run(client, task_queue, "LaSignal", LONG, query_signal_query)
    assert answers == RECORDED["query"]["answers"] == [[], ["signal:early"]]
    assert result == ["signal:early", f"activity:slept {LONG}"]
    assert _shape(_types(events)) == _shape(_types(RECORDED["query"]["events"]))
    await _replays(events, "LaSignal")


async def test_update_completes_while_the_local_activity_runs(client, task_queue):
    """An update is handled in the task after the next heartbeat and its outcome
    recorded (and returned to the caller) when that task completes."""
    answers: list[Any] = []

    async def update(handle: Any) -> None:
        answers.append(await asyncio.wait_for(handle.execute_update("note", "early"), 60))
        released.add(handle.id)

    async with _worker(client, task_queue):
        result, events = await _run(client, task_queue, "LaSignal", LONG, update)
    assert answers == RECORDED["update"]["answers"] == ["noted early"]
    assert result == ["update:early", f"activity:slept {LONG}"]
    assert _shape(_types(events)) == _shape(_types(RECORDED["update"]["events"]))
    await _replays(events, "LaSignal")


async def test_signal_cancels_the_running_local_activity(client, task_queue):
    async def stop(handle: Any) -> None:
        await handle.signal("stop_it")

    async with _worker(client, task_queue):
        result, events = await _run(client, task_queue, "LaSignalCancels", LONG, stop)
    assert result == RECORDED["signal_cancels"]["outcome"]["result"]
    assert _shape(_types(events)) == _shape(_types(RECORDED["signal_cancels"]["events"]))
    marker = _marker_failures(events)
    assert marker == _marker_failures(RECORDED["signal_cancels"]["events"])
    await _replays(events, "LaSignalCancels")


async def test_timer_fires_while_the_local_activity_runs(client, task_queue):
    async def wait_for_timer(handle: Any) -> None:
        await _release_once(
            handle, lambda types: _after(types, "TimerFired", "WorkflowTaskCompleted")
        )

    async with _worker(client, task_queue):
        result, events = await _run(client, task_queue, "LaTimer", LONG, wait_for_timer)
    assert result == ["timer fired", f"activity:slept {LONG}"]
    assert _shape(_types(events)) == _shape(_types(RECORDED["timer"]["events"]))
    await _replays(events, "LaTimer")


async def test_workflow_cancellation_cancels_the_running_local_activity(client, task_queue):
    async def cancel(handle: Any) -> None:
        await handle.cancel()

    async with _worker(client, task_queue):
        result, events = await _run(client, task_queue, "LaCancelled", LONG, cancel)
    assert result == RECORDED["workflow_cancelled"]["outcome"]["result"]
    assert _shape(_types(events)) == _shape(_types(RECORDED["workflow_cancelled"]["events"]))
    assert _marker_failures(events) == _marker_failures(RECORDED["workflow_cancelled"]["events"])
    await _replays(events, "LaCancelled")


async def test_heartbeat_records_the_local_activities_already_done(client, task_queue):
    async def wait_for_first_marker(handle: Any) -> None:
        await _release_once(
            handle, lambda types: _after(types, "MarkerRecorded", "WorkflowTaskScheduled")
        )

    async with _worker(client, task_queue):
        result, events = await _run(client, task_queue, "LaTwo", LONG, wait_for_first_marker)
    assert result == ["slept 0.1", f"slept {LONG}"]
    assert _shape(_types(events)) == _shape(_types(RECORDED["two"]["events"]))
    forced = [
        e for e in events[: _types(events).index("MarkerRecorded") + 2]
    ]  # the heartbeat: completed, its marker, then the forced task at once
    assert _types(forced)[-3:] == [
        "WorkflowTaskCompleted",
        "MarkerRecorded",
        "WorkflowTaskScheduled",
    ]
    await _replays(events, "LaTwo")


async def test_a_heartbeat_carries_the_running_activity_over_without_a_cache(client, task_queue):
    """With no sticky cache, the task after a heartbeat replays the run: its local
    activity is still the one running (not started again)."""
    starts: list[str] = []

    @activity.defn(name="la_sleep")
    async def counted(seconds: float) -> str:
        starts.append(activity.info().workflow_id)
        return await la_sleep(seconds)

    async def poke_then_release(handle: Any) -> None:
        await handle.signal("poke", "early")
        await _release_once(
            handle,
            lambda types: _after(types, "WorkflowExecutionSignaled", "WorkflowTaskCompleted"),
        )

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[counted],
        max_cached_workflows=0,
    ):
        result, events = await _run(client, task_queue, "LaSignal", LONG, poke_then_release)
    assert result == ["signal:early", f"activity:slept {LONG}"]
    assert len(starts) == 1
    await _replays(events, "LaSignal")


@pytest.mark.parametrize(
    "key", ["signal", "query", "update", "signal_cancels", "timer", "workflow_cancelled", "two"]
)
async def test_temporalios_recorded_histories_replay_here(key):
    history = WorkflowHistory.from_json(f"recorded-{key}", RECORDED[key]["history"])
    result = await Replayer(workflows=WORKFLOWS).replay_workflow(history)
    assert result.replay_failure is None


# -------------------------------------------------------------------------- helpers


def _marker_failures(events: list[dict[str, Any]]) -> list[Any]:
    return [
        e["markerRecordedEventAttributes"].get("failure")
        for e in events
        if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
    ]


def _temporalio_workflows() -> list[Any]:
    """The recorder's workflows, on temporalio (same names, same commands)."""
    name = "record_local_activity_heartbeat"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return [getattr(module, cls.__name__) for cls in WORKFLOWS]


async def _replays(events: list[dict[str, Any]], workflow_id: str) -> None:
    """Our history replays deterministically, here and in temporalio's Replayer."""
    ours = WorkflowHistory.from_json(workflow_id, {"events": events})
    result = await Replayer(workflows=WORKFLOWS).replay_workflow(ours)
    assert result.replay_failure is None
    from temporalio.client import WorkflowHistory as TWorkflowHistory
    from temporalio.worker import Replayer as TReplayer
    from temporalio.worker import UnsandboxedWorkflowRunner

    theirs = TWorkflowHistory.from_json(workflow_id, {"events": events})
    replayer = TReplayer(
        workflows=_temporalio_workflows(), workflow_runner=UnsandboxedWorkflowRunner()
    )
    t_result = await replayer.replay_workflow(theirs, raise_on_replay_failure=False)
    assert t_result.replay_failure is None


cancellations: dict[str, list[Any]] = {}


@activity.defn(name="la_until_cancelled")
async def la_until_cancelled(seconds: float) -> str:
    workflow_id = activity.info().workflow_id
    running.add(workflow_id)
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError as err:
        details = activity.cancellation_details()
        cancelled = details.cancel_requested if details else None
        cancellations.setdefault(workflow_id, []).append((type(err).__name__, str(err), cancelled))
        raise
    return "finished"


@workflow.defn(name="LaTerminated", sandboxed=False)
class LaTerminated:
    @workflow.run
    async def run(self, seconds: float) -> str:
        return await workflow.execute_local_activity(
            "la_until_cancelled", seconds, start_to_close_timeout=timedelta(seconds=90)
        )


async def test_terminated_run_cancels_its_running_local_activity_at_the_heartbeat(
    client, task_queue
):
    """Terminated while its local activity runs: the heartbeat's completion finds no
    task, and the activity is cancelled there ("Activity cancelled", cancel_requested),
    as temporalio 1.35's core does it (seen on a dev server: at 1.6 s of a 2 s task
    timeout, core's 'Task not found when completing')."""
    wid = f"LaTerminated-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[LaTerminated],
        activities=[la_until_cancelled],
    ):
        handle = await client.start_workflow(
            "LaTerminated", LONG, id=wid, task_queue=task_queue, task_timeout=TASK_TIMEOUT
        )
        while wid not in running:
            await asyncio.sleep(0.05)
        await handle.terminate("bye")
        for _ in range(400):  # (a limit only: without the heartbeat it runs 60 s)
            if wid in cancellations:
                break
            await asyncio.sleep(0.1)
        # (Checked with the worker still running: its shutdown cancels it too.)
        assert cancellations.get(wid) == [("CancelledError", "Activity cancelled", True)]
