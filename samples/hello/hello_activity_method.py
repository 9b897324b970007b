"""Hello activity method: activities as methods of an object that holds their dependencies.

Register the bound methods (``activities=[inventory.reserve]``); the object is created
once per worker, so a connection pool or an HTTP session can live on it.

Run: ``python -m samples.hello.hello_activity_method``
"""

import asyncio
import os
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-activity-method"


class Inventory:
    def __init__(self, stock: dict[str, int]) -> None:
        self.stock = stock  # stands in for a database connection

    @activity.defn
    async def reserve(self, sku: str) -> int:
        self.stock[sku] -= 1
        return self.stock[sku]


@workflow.defn
class ReserveWorkflow:
    @workflow.run
    async def run(self, sku: str) -> str:
        left = await workflow.execute_activity_method(
            Inventory.reserve, sku, start_to_close_timeout=timedelta(seconds=5)
        )
        return f"reserved one {sku}, {left} left"


async def main() -> None:
    client = await Client.connect(DSN)
    inventory = Inventory({"teapot": 3})
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[ReserveWorkflow], activities=[inventory.reserve]
    ):
        result = await client.execute_workflow(
            ReserveWorkflow.run,
            "teapot",
            id="hello-activity-method-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"Result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
