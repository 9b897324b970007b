"""Run: ``python -m samples.pydantic_converter``"""

import asyncio
import os
from datetime import date
from decimal import Decimal

from hotmesh_temporal.client import Client
from hotmesh_temporal.contrib.pydantic import pydantic_data_converter
from hotmesh_temporal.worker import Worker
from samples.pydantic_converter.workflows import (
    LineItem,
    PurchaseOrder,
    PurchaseWorkflow,
    issue_receipt,
)

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "pydantic-converter"


async def main() -> None:
    client = await Client.connect(DSN, data_converter=pydantic_data_converter)
    order = PurchaseOrder(
        number="PO-1001",
        ordered_on=date(2024, 1, 2),
        items=[
            LineItem(sku="pencil", quantity=12, unit_price=Decimal("0.45")),
            LineItem(sku="notebook", quantity=3, unit_price=Decimal("2.10")),
        ],
    )
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[PurchaseWorkflow], activities=[issue_receipt]
    ):
        receipt = await client.execute_workflow(
            PurchaseWorkflow.run, order, id="pydantic-converter-workflow", task_queue=TASK_QUEUE
        )
        print(f"Result: {receipt!r}")


if __name__ == "__main__":
    asyncio.run(main())
