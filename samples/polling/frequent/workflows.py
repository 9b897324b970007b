"""Frequent polling, inside one long activity.

For polls a few seconds apart, retrying a whole activity per poll would fill the history.
Instead one activity loops: it asks the service, heartbeats, sleeps, asks again. The
heartbeat timeout notices a dead worker quickly and the activity is retried elsewhere.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from hotmesh_temporal import activity, workflow


class ReportService:
    """Stands in for a remote service: the report is ready after a few requests."""

    def __init__(self, ready_after: int) -> None:
        self.ready_after = ready_after
        self.requests: dict[str, int] = {}

    def fetch(self, report_id: str) -> str:
        seen = self.requests.get(report_id, 0) + 1
        self.requests[report_id] = seen
        if seen < self.ready_after:
            raise LookupError(f"report {report_id} not ready yet")
        return f"report {report_id}: 42 rows"


service = ReportService(ready_after=4)


@dataclass
class PollRequest:
    report_id: str
    interval_seconds: float


@activity.defn
async def poll_for_report(request: PollRequest) -> str:
    while True:
        try:
            return service.fetch(request.report_id)
        except LookupError:
            activity.heartbeat(service.requests[request.report_id])
            await asyncio.sleep(request.interval_seconds)


@workflow.defn
class ReportWorkflow:
    @workflow.run
    async def run(self, request: PollRequest) -> str:
        return await workflow.execute_activity(
            poll_for_report,
            request,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=request.interval_seconds * 4 + 1),
        )
