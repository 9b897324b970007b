import uuid
from concurrent.futures import ThreadPoolExecutor

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_activity_choice import ACTIVITIES, BasketItem, Fruit, FruitBasketWorkflow


async def test_each_fruit_goes_to_its_own_activity(client: Client):
    task_queue = str(uuid.uuid4())
    basket = [BasketItem(Fruit.PLUM, 1), BasketItem(Fruit.APPLE, 2), BasketItem(Fruit.PEAR, 3)]
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[FruitBasketWorkflow],
            activities=ACTIVITIES,
            activity_executor=executor,
        ):
            result = await client.execute_workflow(
                FruitBasketWorkflow.run, basket, id=str(uuid.uuid4()), task_queue=task_queue
            )
    assert result == (
        "picked 1 plums from the hedge; picked 2 apples from the orchard; "
        "picked 3 pears from the espalier"
    )
