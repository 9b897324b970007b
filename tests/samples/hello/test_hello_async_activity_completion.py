import asyncio
import uuid

import pytest

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_async_activity_completion import ExpenseApprover, ExpenseWorkflow


@pytest.mark.xfail(
    reason="waiting on async activity completion and activity methods on instances", strict=True
)
async def test_activity_completed_from_outside(client: Client):
    task_queue = str(uuid.uuid4())
    approver = ExpenseApprover(client)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ExpenseWorkflow],
        activities=[approver.request_approval],
    ):
        result = await asyncio.wait_for(
            client.execute_workflow(
                ExpenseWorkflow.run, "taxi", id=str(uuid.uuid4()), task_queue=task_queue
            ),
            timeout=5,
        )
    assert result == "taxi: approved"
