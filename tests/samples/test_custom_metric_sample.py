import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.runtime import MetricBuffer, Runtime, TelemetryConfig
from hotmesh_temporal.worker import Worker
from samples.custom_metric.__main__ import packing_metrics
from samples.custom_metric.workflows import PackingWorkflow, pack_parcel


async def test_workflow_and_activity_metrics_are_recorded(dsn: str):
    buffer = MetricBuffer(1000)
    metered_client = await Client.connect(
        dsn, runtime=Runtime(telemetry=TelemetryConfig(metrics=buffer))
    )
    task_queue = str(uuid.uuid4())
    async with Worker(
        metered_client, task_queue=task_queue, workflows=[PackingWorkflow], activities=[pack_parcel]
    ):
        for items in (2, 4):
            result = await metered_client.execute_workflow(
                PackingWorkflow.run, items, id=str(uuid.uuid4()), task_queue=task_queue
            )
            assert result == f"parcel with {items} items"
    assert packing_metrics(buffer) == {
        "packing_orders": 2,
        "packing_items": 6,
        "packing_duration": 2,
    }
