"""Run: ``python -m samples.message_passing.update_with_start_lazy_initialization``"""

import asyncio
import os

from hotmesh_temporal.client import Client, WithStartWorkflowOperation
from hotmesh_temporal.common import WorkflowIDConflictPolicy
from hotmesh_temporal.worker import Worker
from samples.message_passing.update_with_start_lazy_initialization.workflows import (
    CartItem,
    CartWorkflow,
    price_of,
)

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "update-with-start"


async def add_to_cart(client: Client, cart_id: str, task_queue: str, item: CartItem) -> str:
    """Start the cart if it does not exist yet, add the item, return the subtotal."""
    start_cart = WithStartWorkflowOperation(
        CartWorkflow.run,
        id=cart_id,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        task_queue=task_queue,
    )
    return await client.execute_update_with_start_workflow(
        CartWorkflow.add_item, item, start_workflow_operation=start_cart
    )


async def main() -> None:
    client = await Client.connect(DSN)
    cart_id = f"cart-{os.getpid()}"
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[CartWorkflow], activities=[price_of]
    ):
        for item in [CartItem("tea", 1), CartItem("scone", 2), CartItem("jam", 1)]:
            subtotal = await add_to_cart(client, cart_id, TASK_QUEUE, item)
            print(f"added {item.quantity} x {item.sku}: subtotal {subtotal}")
        cart = client.get_workflow_handle_for(CartWorkflow.run, cart_id)
        await cart.signal(CartWorkflow.checkout)
        print(f"Result: {await cart.result()}")


if __name__ == "__main__":
    asyncio.run(main())
