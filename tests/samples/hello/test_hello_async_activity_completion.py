import asyncio
import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_async_activity_completion import ExpenseWorkflow, request_approval


async def test_activity_completed_from_outside(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ExpenseWorkflow],
        activities=[request_approval],
    ):
        result = await asyncio.wait_for(
            client.execute_workflow(
                ExpenseWorkflow.run, "taxi", id=str(uuid.uuid4()), task_queue=task_queue
            ),
            timeout=5,
        )
    assert result == "taxi: approved"
