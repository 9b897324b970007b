"""A query sent right after a signal sees the signal's effect, as on Temporal: the
query waits until the workflow task delivering the signal has completed, instead of
being answered from the state of the last finished task."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.worker import Worker


@workflow.defn
class Tally:
    def __init__(self) -> None:
        self.total = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.total

    @workflow.signal
    async def add(self, amount: int) -> None:
        self.total += amount

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.query
    def current(self) -> int:
        return self.total


async def test_query_right_after_signals_sees_them(client, task_queue):
    async with Worker(client, task_queue=task_queue, workflows=[Tally]):
        for _ in range(10):
            handle = await client.start_workflow(
                Tally.run, id=f"tally-{uuid.uuid4()}", task_queue=task_queue
            )
            assert await handle.query(Tally.current) == 0
            await handle.signal(Tally.add, 2)
            assert await handle.query(Tally.current) == 2
            await handle.signal(Tally.add, 3)
            await handle.signal(Tally.add, 4)
            assert await handle.query(Tally.current) == 9
            await handle.signal(Tally.finish)
            assert await handle.result() == 9


@workflow.defn
class Flaky:
    """Fails every workflow task after its first signal (a bug)."""

    def __init__(self) -> None:
        self.seen = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.seen > 0)
        raise RuntimeError("a bug after the signal")

    @workflow.signal
    def poke(self) -> None:
        self.seen += 1

    @workflow.query
    def seen_count(self) -> int:
        return self.seen


async def test_queries_still_answer_while_the_task_keeps_failing(client, task_queue):
    """A run whose workflow task fails over and over (a bug) still answers queries,
    from the last completed task's state: only the first attempt holds them back."""
    async with Worker(client, task_queue=task_queue, workflows=[Flaky]):
        handle = await client.start_workflow(
            "Flaky", id=f"flaky-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await handle.query("seen_count") == 0
        await handle.signal("poke")
        answer = await asyncio.wait_for(handle.query("seen_count"), 30)
        assert answer == 0  # the failing task's state is never kept
        await handle.terminate()


@activity.defn
async def echo(value: int) -> int:
    return value


@workflow.defn
class TwoActivities:
    @workflow.run
    async def run(self) -> int:
        first = await workflow.execute_activity(
            echo, 1, start_to_close_timeout=timedelta(seconds=10)
        )
        return first + await workflow.execute_activity(
            echo, 2, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_workers_claim_queries_only_when_one_waits(client, task_queue):
    """Holding queries back for a pending task must not cost every workflow task a
    query claim: the completing statement says whether one of the run's queries waits,
    and only then does the worker claim. (Each task used to claim: 30 claims here.)"""
    store = (await client._engine()).store
    async with Worker(client, task_queue=task_queue, workflows=[TwoActivities], activities=[echo]):
        loop = asyncio.get_running_loop()
        before, began = store.calls["claim_queries"], loop.time()
        for _ in range(10):
            result = await client.execute_workflow(
                TwoActivities.run, id=f"two-{uuid.uuid4()}", task_queue=task_queue
            )
            assert result == 3
        claims = store.calls["claim_queries"] - before
        fallback_polls = (loop.time() - began) / store.fallback_poll_seconds
    # Besides the fallback polls, the poller's first claim and a re-check or two (the
    # shared LISTEN connection reconnecting after an earlier test ended its backend
    # wakes every poller once): far from the 30 a claim per task would make.
    assert claims <= 3 + fallback_polls
