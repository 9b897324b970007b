"""Run: ``python -m samples.batch_sliding_window``"""

import asyncio
import os

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.batch_sliding_window.workflows import (
    BatchInput,
    BatchWorkflow,
    fetch_page,
    in_flight,
    process_record,
)

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "batch-sliding-window"


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[BatchWorkflow],
        activities=[fetch_page, process_record],
    ):
        processed = await client.execute_workflow(
            BatchWorkflow.run,
            BatchInput(total_records=45, page_size=20, window_size=5),
            id="batch-sliding-window-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"Result: {processed} records processed, at most {in_flight.most} at a time")


if __name__ == "__main__":
    asyncio.run(main())
