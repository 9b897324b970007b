"""Hello search attributes: index a workflow by typed attributes, update them, then find it.

Run: ``python -m samples.hello.hello_search_attributes``
"""

import asyncio
import os

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-search-attributes"

CUSTOMER = SearchAttributeKey.for_keyword("CustomKeywordField")
PRIORITY = SearchAttributeKey.for_int("CustomIntField")


@workflow.defn
class TicketWorkflow:
    @workflow.run
    async def run(self) -> int:
        # Escalate: the new value is visible to list_workflows and describe.
        priority = workflow.info().typed_search_attributes.get(PRIORITY) or 0
        workflow.upsert_search_attributes([PRIORITY.value_set(priority + 1)])
        return priority + 1


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[TicketWorkflow]):
        handle = await client.start_workflow(
            TicketWorkflow.run,
            id="hello-search-attributes-workflow",
            task_queue=TASK_QUEUE,
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(CUSTOMER, "acme"), SearchAttributePair(PRIORITY, 2)]
            ),
        )
        print(f"Result: priority raised to {await handle.result()}")
        described = (await handle.describe()).typed_search_attributes
        print(f"Described: customer={described.get(CUSTOMER)}, priority={described.get(PRIORITY)}")
        query = "CustomKeywordField = 'acme' AND CustomIntField >= 3"
        found = [wf.id async for wf in client.list_workflows(query)]
        print(f"Found by query: {handle.id in found}")


if __name__ == "__main__":
    asyncio.run(main())
