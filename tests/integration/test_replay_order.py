"""Replay after cache eviction issues the same commands in the same order (issue 20).

A worker that evicts after every task (``max_cached_workflows=0``) rebuilds the run
from history at each task, so any difference between how the first run and a replay
schedule the workflow's asyncio tasks shows as a nondeterminism failure. Hypothesis
draws workflow shapes mixing sleeps, activities, local activities, children and
wait_conditions across concurrent branches; each runs under a caching worker and an
evicting one, both must finish with the same result, no failed workflow task, and a
history that replays.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Replayer, Worker


@activity.defn
async def echo(value: str) -> str:
    return value


@workflow.defn
class ShapeChild:
    @workflow.run
    async def run(self, sleep_ms: int) -> str:
        await workflow.sleep(timedelta(milliseconds=sleep_ms))
        return "child"


@workflow.defn
class ShapeWorkflow:
    """Runs each branch of ``plan`` as its own asyncio task; ops are [kind, n]."""

    def __init__(self) -> None:
        self.log: list[str] = []

    @workflow.run
    async def run(self, plan: list[list[list]]) -> list[str]:
        tasks = [asyncio.create_task(self._branch(i, ops)) for i, ops in enumerate(plan)]
        await asyncio.gather(*tasks)
        return sorted(self.log)

    async def _branch(self, index: int, ops: list[list]) -> None:
        for position, (kind, n) in enumerate(ops):
            tag = f"{index}.{position}.{kind}"
            await self._step(kind, n, tag)
            self.log.append(tag)

    async def _step(self, kind: str, n: int, tag: str) -> None:
        timeout = timedelta(seconds=10)
        if kind == "sleep":
            await workflow.sleep(timedelta(milliseconds=n))
        elif kind == "activity":
            await workflow.execute_activity(echo, tag, start_to_close_timeout=timeout)
        elif kind == "local":
            await workflow.execute_local_activity(echo, tag, start_to_close_timeout=timeout)
        elif kind == "child":
            child_id = f"{workflow.info().workflow_id}-{tag}"
            await workflow.execute_child_workflow(ShapeChild.run, n, id=child_id)
        elif kind == "condition":
            await workflow.wait_condition(lambda: len(self.log) >= n)


_ops = st.one_of(
    st.tuples(st.just("sleep"), st.integers(0, 40)),
    st.tuples(st.just("activity"), st.just(0)),
    st.tuples(st.just("local"), st.just(0)),
    st.tuples(st.just("child"), st.integers(0, 20)),
    st.tuples(st.just("condition"), st.integers(0, 6)),
)


def _never_deadlocks(plan: list[list[tuple[str, int]]]) -> list[list[list]]:
    """Conditions wait for at most as many finished steps as can finish without any
    condition (the steps before each branch's first condition)."""
    free = sum(
        next((i for i, (kind, _) in enumerate(ops) if kind == "condition"), len(ops))
        for ops in plan
    )
    return [[[kind, min(n, free) if kind == "condition" else n] for kind, n in ops] for ops in plan]


plans = st.lists(st.lists(_ops, min_size=1, max_size=4), min_size=1, max_size=4).map(
    _never_deadlocks
)


def _expected(plan: list[list[list]]) -> list[str]:
    return sorted(
        f"{i}.{p}.{kind}" for i, ops in enumerate(plan) for p, (kind, _) in enumerate(ops)
    )


class _LoopThread:
    """An event loop in a thread: hypothesis drives examples synchronously."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def loop_client(migrated_dsn):
    runner = _LoopThread()
    client = runner.run(Client.connect(migrated_dsn))
    yield runner, client
    runner.run(client.service_client.close())
    runner.stop()


async def _run_shape(client: Client, plan: list[list[list]], max_cached: int):
    task_queue = f"shape-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ShapeWorkflow, ShapeChild],
        activities=[echo],
        max_cached_workflows=max_cached,
    ):
        handle = await client.start_workflow(
            ShapeWorkflow.run,
            plan,
            id=f"shape-{uuid.uuid4()}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=60),
        )
        result = await handle.result()
    return result, await handle.fetch_history()


def test_evicting_after_every_task_matches_an_uninterrupted_run(loop_client):
    runner, client = loop_client

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plan=plans)
    def check(plan):
        for max_cached in (1000, 0):
            result, history = runner.run(_run_shape(client, plan, max_cached))
            assert result == _expected(plan), (max_cached, plan)
            failed = [
                e for e in history.events if e.HasField("workflow_task_failed_event_attributes")
            ]
            assert not failed, (max_cached, plan, failed)
            runner.run(Replayer(workflows=[ShapeWorkflow, ShapeChild]).replay_workflow(history))

    check()


@activity.defn
async def swallows_its_cancellation() -> str:
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        return "swallowed"


@workflow.defn
class SwallowedCancelWorkflow:
    @workflow.run
    async def run(self, cancellation_type: int) -> str:
        handle = workflow.start_activity(
            swallows_its_cancellation,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=5),
            cancellation_type=workflow.ActivityCancellationType(cancellation_type),
        )
        await workflow.sleep(timedelta(milliseconds=300))
        handle.cancel()
        try:
            outcome = await handle
        except Exception as err:
            outcome = type(err).__name__
        await workflow.sleep(timedelta(milliseconds=50))
        return outcome


@pytest.mark.parametrize("cancellation_type", list(workflow.ActivityCancellationType))
async def test_replayer_accepts_a_swallowed_activity_cancellation(
    client, task_queue, cancellation_type
):
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[SwallowedCancelWorkflow],
        activities=[swallows_its_cancellation],
        max_cached_workflows=0,
    ):
        handle = await client.start_workflow(
            SwallowedCancelWorkflow.run,
            int(cancellation_type),
            id=f"swallow-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        outcome = await handle.result()
    # The activity completed instead of acknowledging the cancel: only a workflow that
    # waits for the cancellation to complete sees its result.
    waits = cancellation_type == workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
    assert outcome == ("swallowed" if waits else "ActivityError")
    history = await handle.fetch_history()
    await Replayer(workflows=[SwallowedCancelWorkflow]).replay_workflow(history)
