import uuid

from hotmesh_temporal import activity
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_activity import GreetingRequest, GreetingWorkflow, build_greeting


async def test_greeting_workflow(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(
        client, task_queue=task_queue, workflows=[GreetingWorkflow], activities=[build_greeting]
    ):
        result = await client.execute_workflow(
            GreetingWorkflow.run, "World", id=str(uuid.uuid4()), task_queue=task_queue
        )
    assert result == "Hello, World!"


async def test_greeting_workflow_with_mocked_activity(client: Client):
    received = []

    @activity.defn(name="build_greeting")
    async def build_greeting_mocked(request: GreetingRequest) -> str:
        received.append(request)
        return "Hello, World from a mocked activity!"

    task_queue = str(uuid.uuid4())
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[GreetingWorkflow],
        activities=[build_greeting_mocked],
    ):
        result = await client.execute_workflow(
            GreetingWorkflow.run, "World", id=str(uuid.uuid4()), task_queue=task_queue
        )
    assert result == "Hello, World from a mocked activity!"
    assert received == [GreetingRequest("Hello", "World")]
