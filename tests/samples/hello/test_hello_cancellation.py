import asyncio
import uuid

import pytest

from hotmesh_temporal import activity
from hotmesh_temporal.client import Client, WorkflowFailureError
from hotmesh_temporal.exceptions import CancelledError
from hotmesh_temporal.worker import Worker
from samples.hello.hello_cancellation import KitchenWorkflow, watch_the_kettle


async def test_cancelled_workflow_runs_its_cleanup(client: Client):
    cleaned_up = asyncio.Event()

    @activity.defn(name="turn_off_the_stove")
    async def turn_off_the_stove_mocked() -> str:
        cleaned_up.set()
        return "stove off"

    task_queue = str(uuid.uuid4())
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[KitchenWorkflow],
        activities=[watch_the_kettle, turn_off_the_stove_mocked],
    ):
        handle = await client.start_workflow(
            KitchenWorkflow.run, id=str(uuid.uuid4()), task_queue=task_queue
        )
        await asyncio.sleep(0.3)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    assert cleaned_up.is_set()
