import asyncio
import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.worker_specific_task_queues.activities import host_activities
from samples.worker_specific_task_queues.workflows import FileProcessingWorkflow


async def test_file_steps_stay_on_one_host(client: Client):
    shared_queue = str(uuid.uuid4())
    host_a, host_b = f"{shared_queue}-a", f"{shared_queue}-b"
    get_queue_a, *on_a = host_activities(host_a)
    _, *on_b = host_activities(host_b)
    # Only host A answers on the shared queue; host B listens on its own queue only.
    async with (
        Worker(
            client,
            task_queue=shared_queue,
            workflows=[FileProcessingWorkflow],
            activities=[get_queue_a],
        ),
        Worker(client, task_queue=host_a, activities=on_a),
        Worker(client, task_queue=host_b, activities=on_b),
    ):
        report = await asyncio.wait_for(
            client.execute_workflow(
                FileProcessingWorkflow.run,
                "https://example.com/a.txt",
                id=str(uuid.uuid4()),
                task_queue=shared_queue,
            ),
            timeout=5,
        )
    assert report.worker_queue == host_a
    assert report.cleaned_up is True
    assert report.checksum == sum(b"contents of https://example.com/a.txt\n") % 65521
