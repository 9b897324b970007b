import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_signal import GuestBookWorkflow


async def test_signals_are_handled_in_order(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(client, task_queue=task_queue, workflows=[GuestBookWorkflow]):
        handle = await client.start_workflow(
            GuestBookWorkflow.run, id=str(uuid.uuid4()), task_queue=task_queue
        )
        await handle.signal(GuestBookWorkflow.sign, "Barbara")
        await handle.signal(GuestBookWorkflow.sign, "Ken")
        await handle.signal(GuestBookWorkflow.close_book)
        assert await handle.result() == ["Hello, Barbara!", "Hello, Ken!"]
