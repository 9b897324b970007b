"""Run: ``python -m samples.custom_metric``

The metrics go to an in-process ``MetricBuffer`` and are printed at the end. To scrape
them instead, use ``TelemetryConfig(metrics=PrometheusConfig(bind_address="0.0.0.0:9000"))``.
"""

import asyncio
import os

from hotmesh_temporal.client import Client
from hotmesh_temporal.runtime import MetricBuffer, Runtime, TelemetryConfig
from hotmesh_temporal.worker import Worker
from samples.custom_metric.workflows import PackingWorkflow, pack_parcel

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "custom-metric"


def packing_metrics(buffer: MetricBuffer) -> dict:
    """Sum of each ``packing_*`` counter, and how many values each histogram got."""
    totals: dict = {}
    for update in buffer.retrieve_updates():
        name = update.metric.name
        if name.startswith("packing_"):
            step = 1 if name == "packing_duration" else update.value
            totals[name] = totals.get(name, 0) + step
    return totals


async def main() -> None:
    buffer = MetricBuffer(1000)
    client = await Client.connect(DSN, runtime=Runtime(telemetry=TelemetryConfig(metrics=buffer)))
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[PackingWorkflow], activities=[pack_parcel]
    ):
        for order, items in enumerate([3, 5]):
            await client.execute_workflow(
                PackingWorkflow.run, items, id=f"custom-metric-{order}", task_queue=TASK_QUEUE
            )
    for name, value in sorted(packing_metrics(buffer).items()):
        print(f"{name}: {value}")


if __name__ == "__main__":
    asyncio.run(main())
