import asyncio
import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_activity_method import Inventory, ReserveWorkflow


async def test_bound_method_activity_uses_its_object(client: Client):
    inventory = Inventory({"kettle": 2})
    task_queue = str(uuid.uuid4())
    async with Worker(
        client, task_queue=task_queue, workflows=[ReserveWorkflow], activities=[inventory.reserve]
    ):
        result = await asyncio.wait_for(
            client.execute_workflow(
                ReserveWorkflow.run, "kettle", id=str(uuid.uuid4()), task_queue=task_queue
            ),
            timeout=5,
        )
    assert result == "reserved one kettle, 1 left"
    assert inventory.stock == {"kettle": 1}
