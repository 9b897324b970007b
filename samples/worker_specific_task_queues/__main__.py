"""Run: ``python -m samples.worker_specific_task_queues``"""

import asyncio
import os
import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.worker_specific_task_queues.activities import host_activities
from samples.worker_specific_task_queues.workflows import FileProcessingWorkflow

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "worker-specific-task-queues"


async def main() -> None:
    client = await Client.connect(DSN)
    own_queue = f"{TASK_QUEUE}-host-{uuid.uuid4().hex[:8]}"
    get_queue, *on_host = host_activities(own_queue)
    async with (
        Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[FileProcessingWorkflow],
            activities=[get_queue],
        ),
        Worker(client, task_queue=own_queue, activities=on_host),
    ):
        report = await client.execute_workflow(
            FileProcessingWorkflow.run,
            "https://example.com/data/report.csv",
            id="worker-specific-task-queues-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"Result: {report}")
        print(f"All file steps ran on this host's queue: {report.worker_queue == own_queue}")


if __name__ == "__main__":
    asyncio.run(main())
