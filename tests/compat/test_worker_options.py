"""Worker option checks: the same options make temporalio's ``Worker(...)`` and ours
raise the same exception with the same message (or both accept them).

temporalio checks some options in Python and the rest in its Rust core when the worker
is built; that needs a connected client, so temporalio's client connects to a stand-in
frontend (``fake_frontend``) that answers every call with an empty message.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import temporalio.worker as t_worker
from temporalio import activity as t_activity
from temporalio import workflow as t_workflow
from temporalio.client import Client as TClient

from hotmesh_temporal import activity, workflow
from hotmesh_temporal import worker as o_worker
from tests.compat.fake_frontend import fake_frontend


@t_activity.defn(name="noop")
async def t_noop() -> None:
    return None


@t_workflow.defn(name="Noop", sandboxed=False)
class TNoop:
    @t_workflow.run
    async def run(self) -> None:
        return None


@activity.defn(name="noop")
async def o_noop() -> None:
    return None


@workflow.defn(name="Noop", sandboxed=False)
class ONoop:
    @workflow.run
    async def run(self) -> None:
        return None


@t_activity.defn(name="sync")
def t_sync_noop() -> None:
    return None


@activity.defn(name="sync")
def o_sync_noop() -> None:
    return None


# Each case: options built from either SDK's worker module (m), so that poller
# behaviours and tuners are that SDK's classes.
CASES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "defaults": lambda m: {},
    "no activities or workflows": lambda m: {"activities": [], "workflows": []},
    "one workflow poller with a cache": lambda m: {"max_concurrent_workflow_task_polls": 1},
    "one workflow poller without a cache": lambda m: {
        "max_concurrent_workflow_task_polls": 1,
        "max_cached_workflows": 0,
    },
    "zero workflow pollers (the default)": lambda m: {"max_concurrent_workflow_task_polls": 0},
    "negative workflow pollers": lambda m: {"max_concurrent_workflow_task_polls": -1},
    "negative activity pollers": lambda m: {"max_concurrent_activity_task_polls": -1},
    "simple maximum 0 (workflows)": lambda m: {
        "workflow_task_poller_behavior": m.PollerBehaviorSimpleMaximum(0)
    },
    "simple maximum 0 (activities)": lambda m: {
        "activity_task_poller_behavior": m.PollerBehaviorSimpleMaximum(0)
    },
    "simple maximum 1 with a cache": lambda m: {
        "workflow_task_poller_behavior": m.PollerBehaviorSimpleMaximum(1)
    },
    "autoscaling minimum 0": lambda m: {
        "workflow_task_poller_behavior": m.PollerBehaviorAutoscaling(minimum=0)
    },
    "autoscaling maximum below minimum": lambda m: {
        "activity_task_poller_behavior": m.PollerBehaviorAutoscaling(
            minimum=5, maximum=2, initial=3
        )
    },
    "autoscaling initial out of range": lambda m: {
        "workflow_task_poller_behavior": m.PollerBehaviorAutoscaling(
            minimum=1, maximum=10, initial=20
        )
    },
    "zero activities (the default)": lambda m: {"max_concurrent_activities": 0},
    "negative activities": lambda m: {"max_concurrent_activities": -1},
    "negative workflow tasks": lambda m: {"max_concurrent_workflow_tasks": -2},
    "negative local activities": lambda m: {"max_concurrent_local_activities": -1},
    "one workflow task": lambda m: {"max_concurrent_workflow_tasks": 1},
    "negative cache": lambda m: {"max_cached_workflows": -1},
    "zero activity rate": lambda m: {"max_activities_per_second": 0},
    "negative activity rate": lambda m: {"max_activities_per_second": -1.0},
    "infinite activity rate": lambda m: {"max_activities_per_second": float("inf")},
    "zero task queue rate": lambda m: {"max_task_queue_activities_per_second": 0},
    "zero eager reservations": lambda m: {"max_eager_activity_reservations_per_workflow_task": 0},
    "zero external storage concurrency": lambda m: {
        "max_workflow_task_external_storage_concurrency": 0
    },
    "tuner and max_concurrent": lambda m: {
        "tuner": m.WorkerTuner.create_fixed(workflow_slots=5),
        "max_concurrent_activities": 3,
    },
    "worker versioning without build id": lambda m: {"use_worker_versioning": True},
    "negative sticky ratio": lambda m: {"nonsticky_to_sticky_poll_ratio": -1.0},
}


def _outcome(build: Callable[[], Any]) -> tuple[str, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            build()
            result = "accepted"
        except Exception as err:
            result = f"{type(err).__name__}: {err}"
    return result, [str(w.message) for w in caught]


def _builder(
    module: Any, client: Any, queue: str, activities: list, workflows: list, options: Callable
) -> Callable[[], Any]:
    """Builds one SDK's worker for a case."""
    return lambda: module.Worker(
        client,
        **{
            "task_queue": queue,
            "activities": activities,
            "workflows": workflows,
            **options(module),
        },
    )


async def test_worker_option_errors_match_temporalio(client):
    mismatches = []
    async with fake_frontend() as target:
        t_client = await asyncio.wait_for(TClient.connect(target), 30)
        for index, (name, options) in enumerate(CASES.items()):
            queue = f"options-{index}"  # temporalio's core wants one worker per queue
            theirs = _outcome(_builder(t_worker, t_client, queue, [t_noop], [TNoop], options))
            ours = _outcome(_builder(o_worker, client, queue, [o_noop], [ONoop], options))
            if ours != theirs:
                mismatches.append(f"{name}:\n  temporalio: {theirs}\n  ours:       {ours}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("executor_workers, warned", [(2, True), (200, False)])
async def test_executor_warning_matches_temporalio(client, executor_workers, warned):
    """The activity executor smaller than the slots warns the same text."""
    import concurrent.futures

    async with fake_frontend() as target:
        t_client = await asyncio.wait_for(TClient.connect(target), 30)
        with concurrent.futures.ThreadPoolExecutor(executor_workers) as pool:
            theirs = _outcome(
                lambda: t_worker.Worker(
                    t_client,
                    task_queue=f"exec-{executor_workers}",
                    activities=[t_sync_noop],
                    activity_executor=pool,
                    max_concurrent_activities=10,
                )
            )
            ours = _outcome(
                lambda: o_worker.Worker(
                    client,
                    task_queue=f"exec-{executor_workers}",
                    activities=[o_sync_noop],
                    activity_executor=pool,
                    max_concurrent_activities=10,
                )
            )
    assert ours == theirs
    assert bool(theirs[1]) is warned
