"""Event times: an event buffered while a workflow task is in flight keeps the time it
arrived, and a run's event times never go backwards (issue 13)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.worker import Worker

_FAILED_ONCE: set[str] = set()


# Not sandboxed: it reads the wall clock on purpose (time.perf_counter() is refused in
# sandboxed workflow code, as by temporalio's sandbox).
@workflow.defn(sandboxed=False)
class SleepsWhileBusy:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(seconds=1))
        return "woke"

    @workflow.signal
    def busy(self) -> None:
        # Holds the task past the timer's firing, then fails it the first time (the
        # task is retried; the TimerFired waits in the inbox meanwhile).
        started = time.perf_counter()
        while time.perf_counter() - started < 1.5:
            pass
        run_id = workflow.info().run_id
        if run_id not in _FAILED_ONCE:
            _FAILED_ONCE.add(run_id)
            raise RuntimeError("failing this task once")


@activity.defn
async def tick(n: int) -> int:
    return n + 1


@workflow.defn
class Ticks:
    @workflow.run
    async def run(self, n: int) -> int:
        for _ in range(n):
            n = await workflow.execute_activity(
                tick, n, start_to_close_timeout=timedelta(seconds=5)
            )
        return n


def _times(history) -> list:
    return [
        (e.event_id, e.event_time.ToDatetime(), e.WhichOneof("attributes")) for e in history.events
    ]


async def test_a_timer_fired_during_a_task_keeps_the_time_it_fired(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[SleepsWhileBusy]):
        handle = await client.start_workflow(
            SleepsWhileBusy.run, id=f"busy-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.signal(SleepsWhileBusy.busy)
        assert await handle.result() == "woke"
        history = await handle.fetch_history()
    events = _times(history)
    started = next(t for _, t, kind in events if kind == "timer_started_event_attributes")
    at = next(i for i, (_, _, kind) in enumerate(events) if kind == "timer_fired_event_attributes")
    fired, before = events[at][1], events[at - 1][1]
    # It fired one second after it started, while the busy task was in flight (1.5 s,
    # then failed): its time is when it fired, not when the retried task let it in --
    # unless an event before it is later (the task's WorkflowTaskFailed, recorded when
    # the task failed): times never go backwards, so it then takes that event's time.
    assert fired - started >= timedelta(seconds=0.9), events
    assert fired - started < timedelta(seconds=1.45) or fired == before, events
    times = [t for _, t, _ in events]
    assert times == sorted(times), events


async def test_event_times_never_go_backwards(client, task_queue):
    # Cached runs whose next task is run ahead of the activity report (predicted
    # times), completions stamped by the worker, and signals buffered meanwhile.
    async with Worker(client, task_queue=task_queue, workflows=[Ticks], activities=[tick]):
        handles = [
            await client.start_workflow(
                Ticks.run, 5, id=f"ticks-{uuid.uuid4()}", task_queue=task_queue
            )
            for _ in range(5)
        ]
        for handle in handles:
            assert await handle.result() == 10
    for handle in handles:
        events = _times(await handle.fetch_history())
        times = [t for _, t, _ in events]
        back = [
            [(n, str(t.time()), k[:30]) for n, t, k in events[i - 3 : i + 1]]
            for i in range(1, len(events))
            if times[i] < times[i - 1]
        ]
        assert not back, back
