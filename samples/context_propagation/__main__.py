"""Run: ``python -m samples.context_propagation``"""

import asyncio
import os

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.context_propagation.interceptor import ContextPropagationInterceptor, user_id
from samples.context_propagation.workflows import AuditedWorkflow, audit

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "context-propagation"


async def main() -> None:
    # The worker takes the client's interceptors that are also worker interceptors.
    client = await Client.connect(DSN, interceptors=[ContextPropagationInterceptor()])
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[AuditedWorkflow], activities=[audit]
    ):
        user_id.set("ada@example.com")
        result = await client.execute_workflow(
            AuditedWorkflow.run,
            "delete the draft",
            id="context-propagation-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"Result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
