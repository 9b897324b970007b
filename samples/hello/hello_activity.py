"""Hello activity: a workflow calls one activity and returns its result.

Run: ``python -m samples.hello.hello_activity``
"""

import asyncio
import os
from dataclasses import dataclass
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-activity"


@dataclass
class GreetingRequest:
    salutation: str
    name: str


@activity.defn
async def build_greeting(request: GreetingRequest) -> str:
    activity.logger.info("building a greeting for %s", request.name)
    return f"{request.salutation}, {request.name}!"


@workflow.defn
class GreetingWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            build_greeting,
            GreetingRequest("Hello", name),
            start_to_close_timeout=timedelta(seconds=10),
        )


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[GreetingWorkflow], activities=[build_greeting]
    ):
        result = await client.execute_workflow(
            GreetingWorkflow.run, "World", id="hello-activity-workflow", task_queue=TASK_QUEUE
        )
        print(f"Result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
