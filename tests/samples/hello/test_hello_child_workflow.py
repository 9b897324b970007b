import asyncio
import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_child_workflow import InitialsWorkflow, NameBadgesWorkflow


async def test_parent_uses_child_results(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(
        client, task_queue=task_queue, workflows=[NameBadgesWorkflow, InitialsWorkflow]
    ):
        result = await asyncio.wait_for(
            client.execute_workflow(
                NameBadgesWorkflow.run,
                ["grace brewster hopper", "ken thompson"],
                id=str(uuid.uuid4()),
                task_queue=task_queue,
            ),
            timeout=5,
        )
    assert result == ["grace brewster hopper (G.B.H.)", "ken thompson (K.T.)"]
