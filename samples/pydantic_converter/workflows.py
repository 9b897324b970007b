"""Pydantic models in and out of a workflow and an activity, with validation on the way in."""

from datetime import date, datetime, timedelta
from decimal import Decimal

from hotmesh_temporal import activity, workflow

# Models are plain data: let the workflow sandbox use the real pydantic module.
with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field


class LineItem(BaseModel):
    sku: str
    quantity: int = Field(gt=0)
    unit_price: Decimal


class PurchaseOrder(BaseModel):
    number: str
    ordered_on: date
    items: list[LineItem]


class Receipt(BaseModel):
    number: str
    total: Decimal
    issued_at: datetime


@activity.defn
async def issue_receipt(order: PurchaseOrder) -> Receipt:
    total = sum((item.unit_price * item.quantity for item in order.items), Decimal("0"))
    return Receipt(number=order.number, total=total, issued_at=datetime(2024, 1, 2, 9, 30))


@workflow.defn
class PurchaseWorkflow:
    @workflow.run
    async def run(self, order: PurchaseOrder) -> Receipt:
        # The activity gets a PurchaseOrder back, not a dict: the converter rebuilds the model.
        return await workflow.execute_activity(
            issue_receipt, order, start_to_close_timeout=timedelta(seconds=5)
        )
