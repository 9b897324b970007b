"""The workflows and activities the benchmark runs (one module, importable by name)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hotmesh_temporal import activity, workflow

ACTIVITY_TIMEOUT = timedelta(seconds=30)


@activity.defn
async def bench_noop(value: int) -> int:
    return value


@workflow.defn
class OneActivityWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        return await workflow.execute_activity(
            bench_noop, value, start_to_close_timeout=ACTIVITY_TIMEOUT
        )


@workflow.defn
class SequentialActivitiesWorkflow:
    """``count`` activities, one after the other."""

    @workflow.run
    async def run(self, count: int) -> int:
        total = 0
        for i in range(count):
            total += await workflow.execute_activity(
                bench_noop, i, start_to_close_timeout=ACTIVITY_TIMEOUT
            )
        return total


@workflow.defn
class ParallelActivitiesWorkflow:
    """``count`` activities at once."""

    @workflow.run
    async def run(self, count: int) -> int:
        results = await asyncio.gather(
            *(
                workflow.execute_activity(bench_noop, i, start_to_close_timeout=ACTIVITY_TIMEOUT)
                for i in range(count)
            )
        )
        return sum(results)


@workflow.defn
class TimerWorkflow:
    """Sleeps, and returns workflow time (epoch seconds) before and after the sleep.

    Workflow time is the start time of the workflow task being processed, so the
    second value is when the workflow task that delivered TimerFired started.
    """

    @workflow.run
    async def run(self, seconds: float) -> list[float]:
        before = workflow.now().timestamp()
        await workflow.sleep(seconds)
        return [before, workflow.now().timestamp()]


@workflow.defn
class SignalWorkflow:
    """Waits for ``count`` signals; returns the workflow time at which each handler ran."""

    def __init__(self) -> None:
        self._seen: list[float] = []

    @workflow.run
    async def run(self, count: int) -> list[float]:
        await workflow.wait_condition(lambda: len(self._seen) >= count)
        return self._seen

    @workflow.signal
    def ping(self, _value: int) -> None:
        self._seen.append(workflow.now().timestamp())

    @workflow.query
    def seen(self) -> int:
        return len(self._seen)

    @workflow.update
    def echo(self, value: int) -> int:
        """An update that changes nothing: its latency is the update path's own."""
        return value


WORKFLOWS = [
    OneActivityWorkflow,
    SequentialActivitiesWorkflow,
    ParallelActivitiesWorkflow,
    TimerWorkflow,
    SignalWorkflow,
]
ACTIVITIES = [bench_noop]
