import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.message_passing.update_with_start_lazy_initialization.workflows import (
    CartItem,
    CartWorkflow,
    Order,
    price_of,
)


async def test_first_update_creates_the_cart(client: Client):
    from samples.message_passing.update_with_start_lazy_initialization.__main__ import (
        add_to_cart,
    )

    task_queue = str(uuid.uuid4())
    cart_id = str(uuid.uuid4())
    async with Worker(
        client, task_queue=task_queue, workflows=[CartWorkflow], activities=[price_of]
    ):
        assert await add_to_cart(client, cart_id, task_queue, CartItem("tea", 2)) == "9.00"
        assert await add_to_cart(client, cart_id, task_queue, CartItem("jam", 1)) == "12.10"
        cart = client.get_workflow_handle_for(CartWorkflow.run, cart_id)
        await cart.signal(CartWorkflow.checkout)
        order = await cart.result()
    assert order == Order(items=[CartItem("tea", 2), CartItem("jam", 1)], total="12.10")
