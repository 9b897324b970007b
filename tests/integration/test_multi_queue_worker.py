"""One Worker serving the activity tasks of several task queues
(``Worker._also_run_activities_of``, used by the YAML front end to serve all of a
process's worker topics with one claim loop).

What a user relies on: every activity task of a served queue runs, exactly once; a
task still only ever goes to a worker that serves its own queue (a worker with the
same activity registered but not serving the queue never takes it); activities a
workflow task schedules on a served queue are handed over and reported like those of
the worker's own queue (eagerly, with run-ahead); and a wrong setup is refused clearly.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.worker import Worker

TIMEOUT = timedelta(seconds=30)
# Which worker ran which activity: (worker label, queue scheduled on, queue the task
# says), by activity id. Each test uses fresh queue names.
RAN: dict[str, list[tuple[str, str, str]]] = {}


def _tag_activity(label: str):
    @activity.defn(name="tag")
    async def tag(queue: str) -> str:
        info = activity.info()
        RAN.setdefault(f"{info.workflow_id}/{info.activity_id}", []).append(
            (label, queue, info.task_queue)
        )
        return queue

    return tag


@workflow.defn
class SpreadOverQueues:
    """Runs ``per_queue`` activities on each queue at once."""

    @workflow.run
    async def run(self, queues: list[str], per_queue: int) -> list[str]:
        return list(
            await asyncio.gather(
                *(
                    workflow.execute_activity(
                        "tag", queue, task_queue=queue, start_to_close_timeout=TIMEOUT
                    )
                    for queue in queues
                    for _ in range(per_queue)
                )
            )
        )


@workflow.defn
class ThreeStepsOn:
    """Three activities in sequence, all on ``queue``."""

    @workflow.run
    async def run(self, queue: str) -> int:
        for _ in range(3):
            await workflow.execute_activity(
                "tag", queue, task_queue=queue, start_to_close_timeout=TIMEOUT
            )
        return 3


def _queues(*names: str) -> list[str]:
    suffix = uuid.uuid4().hex[:8]
    return [f"mq-{name}-{suffix}" for name in names]


def _runs_of(workflow_id: str) -> list[tuple[str, str, str]]:
    return [r for key, runs in RAN.items() if key.startswith(workflow_id + "/") for r in runs]


async def test_one_worker_claims_the_tasks_of_every_queue_it_serves(client):
    # The workflows run on a worker without activities, so every activity task is
    # claimed (none is handed over eagerly): all through the one claim loop.
    flows, first, second, third = _queues("flows", "a", "b", "c")
    multi = Worker(client, task_queue=first, activities=[_tag_activity("multi")])
    multi._also_run_activities_of([second, third])
    wid = f"spread-{uuid.uuid4()}"
    async with Worker(client, task_queue=flows, workflows=[SpreadOverQueues]), multi:
        result = await asyncio.wait_for(
            client.execute_workflow(
                SpreadOverQueues.run, args=[[first, second, third], 20], id=wid, task_queue=flows
            ),
            60,
        )
    assert sorted(result) == sorted([first] * 20 + [second] * 20 + [third] * 20)
    runs = _runs_of(wid)
    # Sixty activities, each run once, each on the queue it was scheduled on.
    assert len(runs) == 60
    assert all(label == "multi" and scheduled == told for label, scheduled, told in runs)


async def test_a_task_goes_only_to_a_worker_of_its_own_queue(client):
    flows, first, second, elsewhere = _queues("flows", "a", "b", "elsewhere")
    multi = Worker(client, task_queue=first, activities=[_tag_activity("multi")])
    multi._also_run_activities_of([second])
    other = Worker(client, task_queue=elsewhere, activities=[_tag_activity("other")])
    wid = f"own-queue-{uuid.uuid4()}"
    async with Worker(client, task_queue=flows, workflows=[SpreadOverQueues]), multi, other:
        await asyncio.wait_for(
            client.execute_workflow(
                SpreadOverQueues.run,
                args=[[first, second, elsewhere], 10],
                id=wid,
                task_queue=flows,
            ),
            60,
        )
    runs = _runs_of(wid)
    assert len(runs) == 30
    # The multi-queue worker has "tag" too, yet never took a task of a queue it does
    # not serve; the other worker never took one of the multi-queue worker's queues.
    assert {(label, queue) for label, queue, _ in runs} == {
        ("multi", first),
        ("multi", second),
        ("other", elsewhere),
    }


async def test_activities_on_a_served_queue_are_handed_over_and_run_ahead(client):
    flows, steps = _queues("flows", "steps")
    worker = Worker(
        client, task_queue=flows, workflows=[ThreeStepsOn], activities=[_tag_activity("multi")]
    )
    worker._also_run_activities_of([steps])
    store = (await client._engine()).store
    async with worker:
        before = dict(store.calls)
        wid = f"three-on-{uuid.uuid4()}"
        assert await client.execute_workflow(ThreeStepsOn.run, steps, id=wid, task_queue=flows) == 3
        after = dict(store.calls)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    # As with activities on the worker's own queue: the first workflow task hands each
    # activity over with its completion and each activity's report carries the next
    # workflow task -- no activity report on its own, no second workflow-task report.
    assert delta.get("complete_activity_run_ahead") == 3
    assert delta.get("complete_workflow_task") == 1
    assert delta.get("complete_activity_task", 0) == 0
    # Handed over, not claimed: claiming them would take a claim each (they run one
    # after another); the poller's own start-up or fallback claim is all there may be.
    assert delta.get("claim_activity_tasks_of_queues", 0) + delta.get("claim_activity_tasks", 0) < 3
    assert [queue for _, queue, _ in _runs_of(wid)] == [steps] * 3


async def test_serving_further_queues_is_refused_where_it_cannot_hold(client):
    first, second = _queues("a", "b")
    tag = _tag_activity("multi")
    with pytest.raises(ValueError, match="rate of one task queue"):
        Worker(
            client, task_queue=first, activities=[tag], max_task_queue_activities_per_second=5
        )._also_run_activities_of([second])
    with pytest.raises(ValueError, match="without activities"):
        Worker(client, task_queue=first, workflows=[ThreeStepsOn])._also_run_activities_of([second])
    with pytest.raises(ValueError, match="must not be empty"):
        Worker(client, task_queue=first, activities=[tag])._also_run_activities_of([""])
    with pytest.raises(ValueError, match="invalid task_queue"):
        Worker(client, task_queue=first, activities=[tag])._also_run_activities_of(["a\x00b"])
    started = Worker(client, task_queue=first, activities=[tag])
    async with started:
        with pytest.raises(RuntimeError, match="fixed once it has started"):
            started._also_run_activities_of([second])
