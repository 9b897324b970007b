"""Timers of several runs due together fire in one sweep (sql fire_timers), each run's
history as if each timer had been delivered alone: a new workflow task when the run had
none, none when one is already scheduled, and two timers of one run both fired, once.
(A timer that fires while a task is in flight: test_event_times.py.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from hotmesh_temporal import workflow
from hotmesh_temporal.worker import Worker

SLEEP = 3.0


@workflow.defn
class Sleeps:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(SLEEP)
        return "woke"


@workflow.defn
class SleepsTwice:
    @workflow.run
    async def run(self) -> str:
        await asyncio.gather(workflow.sleep(SLEEP), workflow.sleep(SLEEP))
        return "woke twice"


@workflow.defn
class SleepsAndCounts:
    def __init__(self) -> None:
        self.pokes = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.sleep(SLEEP)
        return self.pokes

    @workflow.signal
    def poke(self) -> None:
        self.pokes += 1


def _kinds(history) -> list[str]:
    return [e.WhichOneof("attributes").removesuffix("_event_attributes") for e in history.events]


async def _timers_started(handle, count: int) -> None:
    while _kinds(await handle.fetch_history()).count("timer_started") < count:
        await asyncio.sleep(0.05)


async def test_timers_due_together_fire_once_each_as_if_delivered_alone(client, task_queue):
    workflows = [Sleeps, SleepsTwice, SleepsAndCounts]
    async with Worker(client, task_queue=task_queue, workflows=workflows):
        one = await client.start_workflow(
            Sleeps.run, id=f"one-{uuid.uuid4()}", task_queue=task_queue
        )
        two = await client.start_workflow(
            SleepsTwice.run, id=f"two-{uuid.uuid4()}", task_queue=task_queue
        )
        poked = await client.start_workflow(
            SleepsAndCounts.run, id=f"poked-{uuid.uuid4()}", task_queue=task_queue
        )
        for handle, count in ((one, 1), (two, 2), (poked, 1)):
            await _timers_started(handle, count)
    # No worker, so no sweeper: the timers come due together. The signal schedules a
    # workflow task that no one runs yet.
    await poked.signal(SleepsAndCounts.poke)
    await asyncio.sleep(SLEEP + 0.3)
    async with Worker(client, task_queue=task_queue, workflows=workflows):
        assert await one.result() == "woke"
        assert await two.result() == "woke twice"
        assert await poked.result() == 1

    histories = {
        name: await h.fetch_history() for name, h in (("one", one), ("two", two), ("poked", poked))
    }
    fired_times = set()
    for name, history in histories.items():
        ids = [e.event_id for e in history.events]
        assert ids == list(range(1, len(ids) + 1)), (name, ids)
        started = {
            e.event_id: e.event_time.ToDatetime()
            for e in history.events
            if e.HasField("timer_started_event_attributes")
        }
        fired = [e for e in history.events if e.HasField("timer_fired_event_attributes")]
        # Each timer fired exactly once, and not before it was due.
        assert sorted(e.timer_fired_event_attributes.started_event_id for e in fired) == sorted(
            started
        ), name
        for e in fired:
            due = started[e.timer_fired_event_attributes.started_event_id] + timedelta(
                seconds=SLEEP
            )
            assert e.event_time.ToDatetime() >= due, name
            fired_times.add(e.event_time.ToDatetime())
    # One sweep fired them all (the scenario this test is about).
    assert len(fired_times) == 1, fired_times

    kinds = {name: _kinds(history) for name, history in histories.items()}
    at = kinds["one"].index("timer_fired")
    assert kinds["one"][at : at + 3] == [
        "timer_fired",
        "workflow_task_scheduled",
        "workflow_task_started",
    ], kinds["one"]
    # Both of its timers, and one new task (their order against it is deliver()'s,
    # not pinned here).
    at = kinds["two"].index("timer_fired")
    end = kinds["two"].index("workflow_task_started", at)
    assert sorted(kinds["two"][at:end]) == [
        "timer_fired",
        "timer_fired",
        "workflow_task_scheduled",
    ], kinds["two"]
    at = kinds["poked"].index("workflow_execution_signaled")
    assert kinds["poked"][at : at + 4] == [
        "workflow_execution_signaled",
        "workflow_task_scheduled",
        "timer_fired",
        "workflow_task_started",
    ], kinds["poked"]
