"""Metrics from inside a workflow and an activity.

``workflow.metric_meter()`` and ``activity.metric_meter()`` hand out counters and
histograms that report through the runtime's telemetry (Prometheus, OpenTelemetry or
an in-process ``MetricBuffer``). The workflow meter stays silent while a workflow
replays, so each order is counted once.
"""

import time
from datetime import timedelta

from hotmesh_temporal import activity, workflow


@activity.defn
async def pack_parcel(items: int) -> str:
    started = time.monotonic()
    meter = activity.metric_meter()
    meter.create_counter("packing_items", "Items packed", "items").add(
        items, {"warehouse": "north"}
    )
    meter.create_histogram_timedelta("packing_duration", "Time to pack a parcel").record(
        timedelta(seconds=time.monotonic() - started)
    )
    return f"parcel with {items} items"


@workflow.defn
class PackingWorkflow:
    @workflow.run
    async def run(self, items: int) -> str:
        workflow.metric_meter().create_counter("packing_orders", "Orders received").add(1)
        return await workflow.execute_activity(
            pack_parcel, items, start_to_close_timeout=timedelta(seconds=5)
        )
