"""Hello activity choice: the workflow picks which activity to run from its input.

Run: ``python -m samples.hello.hello_activity_choice``
"""

import asyncio
import os
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-activity-choice"


class Fruit(str, Enum):
    APPLE = "apple"
    PEAR = "pear"
    PLUM = "plum"


@dataclass
class BasketItem:
    fruit: Fruit
    count: int


@activity.defn
def pick_apples(count: int) -> str:
    return f"picked {count} apples from the orchard"


@activity.defn
def pick_pears(count: int) -> str:
    return f"picked {count} pears from the espalier"


@activity.defn
def pick_plums(count: int) -> str:
    return f"picked {count} plums from the hedge"


@workflow.defn
class FruitBasketWorkflow:
    @workflow.run
    async def run(self, basket: list[BasketItem]) -> str:
        # The choice is a plain branch on the input: deterministic, so replay takes it too.
        pickers = {Fruit.APPLE: pick_apples, Fruit.PEAR: pick_pears, Fruit.PLUM: pick_plums}
        lines = []
        for item in basket:
            lines.append(
                await workflow.execute_activity(
                    pickers[item.fruit], item.count, start_to_close_timeout=timedelta(seconds=5)
                )
            )
        return "; ".join(lines)


ACTIVITIES = [pick_apples, pick_pears, pick_plums]


async def main() -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = await Client.connect(DSN)
    basket = [BasketItem(Fruit.PEAR, 3), BasketItem(Fruit.APPLE, 5), BasketItem(Fruit.PLUM, 12)]
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[FruitBasketWorkflow],
            activities=ACTIVITIES,
            activity_executor=executor,
        ):
            result = await client.execute_workflow(
                FruitBasketWorkflow.run,
                basket,
                id="hello-activity-choice-workflow",
                task_queue=TASK_QUEUE,
            )
            print(f"Result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
