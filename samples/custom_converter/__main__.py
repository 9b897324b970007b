"""Run: ``python -m samples.custom_converter``"""

import asyncio
import os
from decimal import Decimal

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.custom_converter.money import Money, money_data_converter
from samples.custom_converter.workflows import InvoiceWorkflow

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "custom-converter"


async def main() -> None:
    client = await Client.connect(DSN, data_converter=money_data_converter)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[InvoiceWorkflow]):
        gross = await client.execute_workflow(
            InvoiceWorkflow.run,
            Money(Decimal("99.95"), "EUR"),
            id="custom-converter-workflow",
            task_queue=TASK_QUEUE,
        )
        print(f"Result: {gross!r}")


if __name__ == "__main__":
    asyncio.run(main())
