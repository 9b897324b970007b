"""Worker tuners: the concurrency a tuner gives is the concurrency the worker keeps."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.worker import (
    CustomSlotSupplier,
    FixedSizeSlotSupplier,
    PollerBehaviorSimpleMaximum,
    ResourceBasedSlotConfig,
    Worker,
    WorkerTuner,
)

RUNNING = {"now": 0, "peak": 0}


@activity.defn
async def count_concurrency(n: int) -> int:
    RUNNING["now"] += 1
    RUNNING["peak"] = max(RUNNING["peak"], RUNNING["now"])
    await asyncio.sleep(0.1)
    RUNNING["now"] -= 1
    return n


@workflow.defn
class FanOutWorkflow:
    @workflow.run
    async def run(self, width: int) -> int:
        results = await asyncio.gather(
            *(
                workflow.execute_activity(
                    count_concurrency, i, start_to_close_timeout=timedelta(seconds=10)
                )
                for i in range(width)
            )
        )
        return sum(results)


async def test_fixed_tuner_caps_running_activities(client, task_queue):
    RUNNING.update(now=0, peak=0)
    tuner = WorkerTuner.create_fixed(activity_slots=2)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[FanOutWorkflow],
        activities=[count_concurrency],
        tuner=tuner,
    ):
        total = await client.execute_workflow(
            FanOutWorkflow.run, 6, id=f"tuner-{uuid.uuid4()}", task_queue=task_queue
        )
    assert total == sum(range(6))
    assert RUNNING["peak"] == 2


async def test_resource_based_tuner_uses_maximum_slots(client, task_queue):
    RUNNING.update(now=0, peak=0)
    tuner = WorkerTuner.create_resource_based(
        target_memory_usage=0.8,
        target_cpu_usage=0.9,
        activity_config=ResourceBasedSlotConfig(maximum_slots=3),
    )
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[FanOutWorkflow],
        activities=[count_concurrency],
        tuner=tuner,
    ):
        await client.execute_workflow(
            FanOutWorkflow.run, 6, id=f"tuner-{uuid.uuid4()}", task_queue=task_queue
        )
    assert RUNNING["peak"] == 3


def test_tuner_and_max_concurrent_are_exclusive(client):
    with pytest.raises(ValueError, match="tuner"):
        Worker(
            client,
            task_queue="q",
            activities=[count_concurrency],
            tuner=WorkerTuner.create_fixed(),
            max_concurrent_activities=5,
        )


def test_custom_slot_supplier_is_refused_clearly(client):
    class Mine(CustomSlotSupplier):
        async def reserve_slot(self, ctx):
            raise NotImplementedError

        def try_reserve_slot(self, ctx):
            return None

        def mark_slot_used(self, ctx):
            pass

        def release_slot(self, ctx):
            pass

    tuner = WorkerTuner.create_composite(
        workflow_supplier=FixedSizeSlotSupplier(5),
        activity_supplier=Mine(),
        local_activity_supplier=FixedSizeSlotSupplier(5),
        nexus_supplier=FixedSizeSlotSupplier(5),
    )
    with pytest.raises(ValueError, match="custom slot suppliers are not supported"):
        Worker(client, task_queue="q", activities=[count_concurrency], tuner=tuner)


def test_poller_behaviour_defaults_match_temporalio():
    import inspect

    params = inspect.signature(Worker.__init__).parameters
    for name in ("workflow_task_poller_behavior", "activity_task_poller_behavior"):
        assert params[name].default == PollerBehaviorSimpleMaximum(maximum=5)
