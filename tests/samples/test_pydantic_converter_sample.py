import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from hotmesh_temporal.client import Client
from hotmesh_temporal.contrib.pydantic import pydantic_data_converter
from hotmesh_temporal.worker import Worker
from samples.pydantic_converter.workflows import (
    LineItem,
    PurchaseOrder,
    PurchaseWorkflow,
    Receipt,
    issue_receipt,
)


async def test_models_in_and_out(client: Client):
    config = client.config()
    config["data_converter"] = pydantic_data_converter
    pydantic_client = Client(**config)
    order = PurchaseOrder(
        number="PO-7",
        ordered_on=date(2024, 5, 1),
        items=[LineItem(sku="tape", quantity=2, unit_price=Decimal("1.25"))],
    )
    task_queue = str(uuid.uuid4())
    async with Worker(
        pydantic_client,
        task_queue=task_queue,
        workflows=[PurchaseWorkflow],
        activities=[issue_receipt],
    ):
        receipt = await pydantic_client.execute_workflow(
            PurchaseWorkflow.run, order, id=str(uuid.uuid4()), task_queue=task_queue
        )
    assert receipt == Receipt(
        number="PO-7", total=Decimal("2.50"), issued_at=datetime(2024, 1, 2, 9, 30)
    )


def test_models_validate_their_fields():
    with pytest.raises(ValidationError):
        LineItem(sku="tape", quantity=0, unit_price=Decimal("1"))
