"""Run: ``python -m samples.message_passing.waiting_for_handlers_and_compensation``"""

import asyncio
import os

from hotmesh_temporal.client import Client, WorkflowFailureError, WorkflowUpdateStage
from hotmesh_temporal.worker import Worker
from samples.message_passing.waiting_for_handlers_and_compensation.workflows import (
    OrderWorkflow,
    charge,
    refund,
)

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "waiting-for-handlers"


async def order_with_extras(client: Client, task_queue: str, workflow_id: str, cancel: bool):
    """Add two extras; finish or cancel while the second is still being charged."""
    handle = await client.start_workflow(OrderWorkflow.run, id=workflow_id, task_queue=task_queue)
    await handle.execute_update(OrderWorkflow.add_extra, "gift-wrap")
    await handle.start_update(
        OrderWorkflow.add_extra, "express", wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    if cancel:
        await handle.cancel()
    else:
        await handle.signal(OrderWorkflow.finish)
    try:
        return f"completed, charges {await handle.result()}"
    except WorkflowFailureError as err:
        refunds = await handle.query(OrderWorkflow.refunds)
        return f"{type(err.cause).__name__}, refunds {refunds}"


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[OrderWorkflow], activities=[charge, refund]
    ):
        for cancel in (False, True):
            outcome = await order_with_extras(
                client,
                TASK_QUEUE,
                f"waiting-for-handlers-{'cancel' if cancel else 'finish'}",
                cancel,
            )
            print(f"Result ({'cancelled' if cancel else 'finished'}): {outcome}")


if __name__ == "__main__":
    asyncio.run(main())
