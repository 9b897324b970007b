import asyncio
import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_local_activity import ShoutWorkflow, shout


async def test_local_activity(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(client, task_queue=task_queue, workflows=[ShoutWorkflow], activities=[shout]):
        result = await asyncio.wait_for(
            client.execute_workflow(
                ShoutWorkflow.run, "hi there", id=str(uuid.uuid4()), task_queue=task_queue
            ),
            timeout=5,
        )
    assert result == "HI THERE!"
