"""Hello activity in a process pool: a CPU-bound synchronous activity runs in another process.

Run: ``python -m samples.hello.hello_activity_multiprocess``
"""

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import SharedStateManager, Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-activity-multiprocess"


@activity.defn
def sum_of_squares(limit: int) -> dict:
    # Module-level and picklable: the pool imports this module in its own process.
    return {"sum": sum(n * n for n in range(limit + 1)), "pid": os.getpid()}


@workflow.defn
class SquaresWorkflow:
    @workflow.run
    async def run(self, limit: int) -> dict:
        return await workflow.execute_activity(
            sum_of_squares, limit, start_to_close_timeout=timedelta(seconds=30)
        )


async def main() -> None:
    client = await Client.connect(DSN)
    # The manager carries heartbeats and cancellation between the pool and the worker.
    with ProcessPoolExecutor(max_workers=2) as executor, multiprocessing.Manager() as manager:
        async with Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[SquaresWorkflow],
            activities=[sum_of_squares],
            activity_executor=executor,
            shared_state_manager=SharedStateManager.create_from_multiprocessing(manager),
        ):
            result = await client.execute_workflow(
                SquaresWorkflow.run,
                1000,
                id="hello-activity-multiprocess-workflow",
                task_queue=TASK_QUEUE,
            )
            elsewhere = result["pid"] != os.getpid()
            print(
                f"Result: sum of squares up to 1000 = {result['sum']}, "
                f"computed in another process: {elsewhere}"
            )


if __name__ == "__main__":
    asyncio.run(main())
