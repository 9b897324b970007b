"""Hello cancellation: the client cancels a workflow; the workflow cleans up, then ends cancelled.

Run: ``python -m samples.hello.hello_cancellation``
"""

import asyncio
import os
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client, WorkflowFailureError
from hotmesh_temporal.exceptions import CancelledError
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-cancellation"


@activity.defn
async def watch_the_kettle() -> None:
    # Heartbeats are how an activity hears about cancellation.
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.2)
    except asyncio.CancelledError:
        print("  activity: cancelled while watching the kettle")
        raise


@activity.defn
async def turn_off_the_stove() -> str:
    print("  activity: stove turned off")
    return "stove off"


@workflow.defn
class KitchenWorkflow:
    @workflow.run
    async def run(self) -> None:
        try:
            await workflow.execute_activity(
                watch_the_kettle,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=1),
                # Wait for the activity to acknowledge before running the cleanup.
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        finally:
            # A cancelled workflow may still run activities while it unwinds.
            await workflow.execute_activity(
                turn_off_the_stove, start_to_close_timeout=timedelta(seconds=5)
            )


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[KitchenWorkflow],
        activities=[watch_the_kettle, turn_off_the_stove],
    ):
        handle = await client.start_workflow(
            KitchenWorkflow.run, id="hello-cancellation-workflow", task_queue=TASK_QUEUE
        )
        await asyncio.sleep(1)
        print("cancelling the workflow")
        await handle.cancel()
        try:
            await handle.result()
        except WorkflowFailureError as err:
            assert isinstance(err.cause, CancelledError)
            print(f"Result: workflow ended cancelled ({type(err.cause).__name__})")


if __name__ == "__main__":
    asyncio.run(main())
