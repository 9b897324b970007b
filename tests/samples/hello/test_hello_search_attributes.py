import asyncio
import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.common import SearchAttributePair, TypedSearchAttributes
from hotmesh_temporal.worker import Worker
from samples.hello.hello_search_attributes import CUSTOMER, PRIORITY, TicketWorkflow


async def test_upserted_attributes_are_searchable(client: Client):
    task_queue = str(uuid.uuid4())
    customer = f"customer-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[TicketWorkflow]):
        handle = await client.start_workflow(
            TicketWorkflow.run,
            id=str(uuid.uuid4()),
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(CUSTOMER, customer), SearchAttributePair(PRIORITY, 5)]
            ),
        )
        assert await asyncio.wait_for(handle.result(), timeout=5) == 6
    described = (await handle.describe()).typed_search_attributes
    assert described.get(CUSTOMER) == customer
    assert described.get(PRIORITY) == 6
    found = [wf.id async for wf in client.list_workflows(f"CustomKeywordField = '{customer}'")]
    assert found == [handle.id]
