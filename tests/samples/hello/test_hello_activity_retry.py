import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_activity_retry import (
    FLAKY_ATTEMPTS,
    RetryingGreetingWorkflow,
    flaky_greeting,
)


async def test_retries_until_the_activity_succeeds(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[RetryingGreetingWorkflow],
        activities=[flaky_greeting],
    ):
        result = await client.execute_workflow(
            RetryingGreetingWorkflow.run, "World", id=str(uuid.uuid4()), task_queue=task_queue
        )
    assert result == f"Hello, World! (after {FLAKY_ATTEMPTS + 1} attempts)"
