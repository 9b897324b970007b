"""Hello query: read a workflow's state while it runs, and after it has closed.

Run: ``python -m samples.hello.hello_query``
"""

import asyncio
import os
from datetime import timedelta

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-query"


@workflow.defn
class TrafficLightWorkflow:
    def __init__(self) -> None:
        self._colour = "red"

    @workflow.run
    async def run(self, red_seconds: float) -> str:
        await workflow.sleep(timedelta(seconds=red_seconds))
        self._colour = "green"
        return "the light changed"

    @workflow.query
    def colour(self) -> str:
        return self._colour


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[TrafficLightWorkflow]):
        handle = await client.start_workflow(
            TrafficLightWorkflow.run,
            2.0,
            id="hello-query-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"While it runs, the light is {await handle.query(TrafficLightWorkflow.colour)}")
        print(f"Result: {await handle.result()}")
        print(f"After it closed, the light is {await handle.query(TrafficLightWorkflow.colour)}")


if __name__ == "__main__":
    asyncio.run(main())
