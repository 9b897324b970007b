import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_query import TrafficLightWorkflow


async def test_query_while_running_and_after_close(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(client, task_queue=task_queue, workflows=[TrafficLightWorkflow]):
        handle = await client.start_workflow(
            TrafficLightWorkflow.run, 0.5, id=str(uuid.uuid4()), task_queue=task_queue
        )
        assert await handle.query(TrafficLightWorkflow.colour) == "red"
        assert await handle.result() == "the light changed"
        assert await handle.query(TrafficLightWorkflow.colour) == "green"
