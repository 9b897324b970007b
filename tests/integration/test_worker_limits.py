"""Worker options that limit activity work: max_activities_per_second,
max_task_queue_activities_per_second and no_remote_activities."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal._engine.worker.rate_limit import TokenBucket
from hotmesh_temporal.worker import Worker

STARTS: list = []


@activity.defn
async def stamp(i: int) -> int:
    STARTS.append(time.monotonic())
    return i


@workflow.defn
class StampWorkflow:
    @workflow.run
    async def run(self, count: int) -> int:
        done = await asyncio.gather(
            *(
                workflow.execute_activity(stamp, i, start_to_close_timeout=timedelta(seconds=30))
                for i in range(count)
            )
        )
        return len(done)


async def test_max_activities_per_second_spaces_activity_starts(client, task_queue):
    STARTS.clear()
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[StampWorkflow],
        activities=[stamp],
        max_activities_per_second=5,
    ):
        assert (
            await client.execute_workflow(
                StampWorkflow.run, 10, id=f"rate-{uuid.uuid4()}", task_queue=task_queue
            )
            == 10
        )
    # A burst of 5, then one every 0.2 s: the tenth starts about 1 s after the first.
    assert len(STARTS) == 10
    assert STARTS[-1] - STARTS[0] >= 0.9


async def test_task_queue_rate_holds_across_workers(client, dsn, task_queue):
    """max_task_queue_activities_per_second limits the queue, whatever the number of
    workers (a Temporal server enforces it in matching): two workers on their own
    connection pools, each given 4/s, start 12 activities at 4/s together, not 8/s.
    The rate is a ceiling: a dev server given the same setup spread the starts over
    about 5.8 s."""
    from hotmesh_temporal.client import Client

    STARTS.clear()
    other = await Client.connect(dsn, namespace=client.namespace)
    options = dict(activities=[stamp], max_task_queue_activities_per_second=4)
    async with Worker(client, task_queue=task_queue, workflows=[StampWorkflow], **options):
        async with Worker(other, task_queue=task_queue, **options):
            assert (
                await client.execute_workflow(
                    StampWorkflow.run, 12, id=f"qrate-{uuid.uuid4()}", task_queue=task_queue
                )
                == 12
            )
    # A burst of 4, then one every 0.25 s for the queue as a whole.
    assert len(STARTS) == 12
    first = STARTS[0]
    assert STARTS[-1] - first >= 1.8
    assert sum(1 for t in STARTS if t - first < 1.0) <= 8


async def test_no_remote_activities_leaves_activity_tasks_to_others(client, task_queue):
    STARTS.clear()
    workflow_id = f"noremote-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[StampWorkflow],
        activities=[stamp],
        no_remote_activities=True,
    ):
        handle = await client.start_workflow(
            StampWorkflow.run, 2, id=workflow_id, task_queue=task_queue
        )
        await asyncio.sleep(1.0)
        assert STARTS == []  # scheduled, but this worker takes no activity tasks
        async with Worker(client, task_queue=task_queue, activities=[stamp]):
            assert await handle.result() == 2
    assert len(STARTS) == 2


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    bucket = TokenBucket(2.0, clock=lambda: now[0])
    assert bucket.available() == 2
    bucket.take(2)
    assert bucket.available() == 0
    assert bucket.seconds_until_next() == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.available() == 1
    now[0] = 10.0
    assert bucket.available() == 2  # never more than one second's burst
    with pytest.raises(ValueError):
        TokenBucket(0)
