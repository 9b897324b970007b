"""Run: ``python -m samples.polling.frequent``"""

import asyncio
import os

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.polling.frequent.workflows import (
    PollRequest,
    ReportWorkflow,
    poll_for_report,
    service,
)

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "polling-frequent"


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[ReportWorkflow], activities=[poll_for_report]
    ):
        result = await client.execute_workflow(
            ReportWorkflow.run,
            PollRequest(report_id="sales-q3", interval_seconds=0.5),
            id="polling-frequent-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"Result: {result} (after {service.requests['sales-q3']} requests)")


if __name__ == "__main__":
    asyncio.run(main())
