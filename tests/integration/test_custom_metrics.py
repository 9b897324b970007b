"""Custom metrics from workflow and activity code reach the runtime's telemetry, with
the attributes temporalio attaches, and a workflow's are recorded once, not again
when it replays."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client, WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ActivityError
from hotmesh_temporal.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    MetricBuffer,
    Runtime,
    TelemetryConfig,
)
from hotmesh_temporal.worker import Replayer, SharedStateManager, Worker


@activity.defn
async def weigh(grams: int) -> int:
    meter = activity.metric_meter().with_additional_attributes({"scale": "big"})
    meter.create_counter("weighings", "Parcels weighed").add(1, {"fragile": True})
    meter.create_histogram_float("weight_kg").record(grams / 1000)
    return grams


@activity.defn
def weigh_in_thread(grams: int) -> int:
    activity.metric_meter().create_gauge("last_weight").set(grams)
    return grams


@activity.defn
def meter_in_process(grams: int) -> int:
    activity.metric_meter()  # raises: no meter across the process boundary
    return grams


@workflow.defn
class ShippingWorkflow:
    @workflow.run
    async def run(self, grams: int) -> int:
        meter = workflow.metric_meter()
        meter.create_counter("shipments", "Shipments started").add(1, {"step": "start"})
        await workflow.sleep(timedelta(milliseconds=10))  # a second task, replayed
        weighed = await workflow.execute_activity(
            weigh, grams, start_to_close_timeout=timedelta(seconds=10)
        )
        meter.create_histogram("shipment_grams").record(weighed)
        meter.create_histogram_timedelta("shipment_wait").record(timedelta(milliseconds=1500))
        meter.create_gauge_float("shipment_ratio").set(0.5)
        return weighed


def _updates(buffer: MetricBuffer, name: str) -> list:
    return [u for u in buffer.retrieve_updates() if u.metric.name == name]


async def _metered_client(dsn: str, buffer: MetricBuffer) -> Client:
    return await Client.connect(dsn, runtime=Runtime(telemetry=TelemetryConfig(metrics=buffer)))


async def test_workflow_and_activity_metrics_carry_temporal_attributes(dsn: str) -> None:
    buffer = MetricBuffer(10_000)
    client = await _metered_client(dsn, buffer)
    task_queue = f"tq-{uuid.uuid4()}"
    # No cache: every workflow task replays the run from its history first.
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ShippingWorkflow],
        activities=[weigh],
        max_cached_workflows=0,
    ):
        result = await client.execute_workflow(
            ShippingWorkflow.run, 2500, id=f"wf-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == 2500
    updates = [u for u in buffer.retrieve_updates() if not u.metric.name.startswith("temporal_")]
    by_name: dict = {}
    for update in updates:
        by_name.setdefault(update.metric.name, []).append(update)

    workflow_attrs = {
        "service_name": "temporal-core-sdk",
        "namespace": "default",
        "task_queue": task_queue,
        "workflow_type": "ShippingWorkflow",
    }
    # Recorded by three workflow tasks, each replaying the ones before: once each.
    [shipments] = by_name["shipments"]
    assert shipments.value == 1
    assert dict(shipments.attributes) == {**workflow_attrs, "step": "start"}
    assert shipments.metric.description == "Shipments started"
    assert shipments.metric.kind == BUFFERED_METRIC_KIND_COUNTER
    [grams] = by_name["shipment_grams"]
    assert (grams.value, grams.metric.kind) == (2500, BUFFERED_METRIC_KIND_HISTOGRAM)
    assert dict(grams.attributes) == workflow_attrs
    [wait] = by_name["shipment_wait"]
    assert wait.value == 1500  # milliseconds, the buffer's default duration format
    [ratio] = by_name["shipment_ratio"]
    assert (ratio.value, ratio.metric.kind) == (0.5, BUFFERED_METRIC_KIND_GAUGE)

    [weighings] = by_name["weighings"]
    assert dict(weighings.attributes) == {
        "service_name": "temporal-core-sdk",
        "namespace": "default",
        "task_queue": task_queue,
        "activity_type": "weigh",
        "scale": "big",
        "fragile": True,
    }
    [weight] = by_name["weight_kg"]
    assert weight.value == 2.5
    assert weight.attributes["activity_type"] == "weigh"


async def test_replayer_records_no_workflow_metrics(dsn: str) -> None:
    buffer = MetricBuffer(10_000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    client = await Client.connect(dsn, runtime=runtime)
    task_queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=task_queue, workflows=[ShippingWorkflow], activities=[weigh]
    ):
        handle = await client.start_workflow(
            ShippingWorkflow.run, 10, id=f"wf-{uuid.uuid4()}", task_queue=task_queue
        )
        await handle.result()
    assert len(_updates(buffer, "shipments")) == 1
    await Replayer(workflows=[ShippingWorkflow], runtime=runtime).replay_workflow(
        await handle.fetch_history()
    )
    assert _updates(buffer, "shipments") == []


@workflow.defn
class WeighInThreadWorkflow:
    @workflow.run
    async def run(self, activity_name: str) -> int:
        return await workflow.execute_activity(
            activity_name,
            300,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def test_sync_activity_in_thread_pool_records(dsn: str) -> None:
    buffer = MetricBuffer(10_000)
    client = await _metered_client(dsn, buffer)
    task_queue = f"tq-{uuid.uuid4()}"
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[WeighInThreadWorkflow],
            activities=[weigh_in_thread],
            activity_executor=executor,
        ):
            await client.execute_workflow(
                WeighInThreadWorkflow.run,
                "weigh_in_thread",
                id=f"wf-{uuid.uuid4()}",
                task_queue=task_queue,
            )
    [gauge] = _updates(buffer, "last_weight")
    assert gauge.value == 300
    assert gauge.attributes["activity_type"] == "weigh_in_thread"


async def test_process_pool_activity_has_no_meter(dsn: str) -> None:
    client = await _metered_client(dsn, MetricBuffer(100))
    task_queue = f"tq-{uuid.uuid4()}"
    with (
        multiprocessing.Manager() as manager,
        concurrent.futures.ProcessPoolExecutor(1) as executor,
    ):
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[WeighInThreadWorkflow],
            activities=[meter_in_process],
            activity_executor=executor,
            shared_state_manager=SharedStateManager.create_from_multiprocessing(manager),
        ):
            with pytest.raises(WorkflowFailureError) as failed:
                await client.execute_workflow(
                    WeighInThreadWorkflow.run,
                    "meter_in_process",
                    id=f"wf-{uuid.uuid4()}",
                    task_queue=task_queue,
                )
    activity_error = failed.value.__cause__
    assert isinstance(activity_error, ActivityError)
    assert "Metrics meter not available" in str(activity_error.__cause__)
