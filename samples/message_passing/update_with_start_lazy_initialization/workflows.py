"""A shopping cart that exists from the first item added.

The client never asks whether the cart exists: every "add item" is an update-with-start
with ``USE_EXISTING``, which starts the cart workflow if needed and then delivers the
update, in one call. The update's reply is the cart's new subtotal.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.exceptions import ApplicationError

PRICES = {"tea": Decimal("4.50"), "scone": Decimal("2.25"), "jam": Decimal("3.10")}


@dataclass
class CartItem:
    sku: str
    quantity: int


@dataclass
class Order:
    items: list[CartItem] = field(default_factory=list)
    total: str = "0"


@activity.defn
async def price_of(sku: str) -> str:
    if sku not in PRICES:
        raise ApplicationError(f"unknown product {sku}", non_retryable=True)
    return str(PRICES[sku])


@workflow.defn
class CartWorkflow:
    def __init__(self) -> None:
        self.order = Order()
        self.checked_out = False

    @workflow.run
    async def run(self) -> Order:
        await workflow.wait_condition(lambda: self.checked_out and workflow.all_handlers_finished())
        return self.order

    @workflow.update
    async def add_item(self, item: CartItem) -> str:
        price = await workflow.execute_activity(
            price_of, item.sku, start_to_close_timeout=timedelta(seconds=5)
        )
        self.order.items.append(item)
        self.order.total = str(Decimal(self.order.total) + Decimal(price) * item.quantity)
        return self.order.total

    @add_item.validator
    def check_item(self, item: CartItem) -> None:
        if self.checked_out:
            raise ValueError("the cart is checked out")
        if item.quantity < 1:
            raise ValueError("quantity must be at least 1")

    @workflow.signal
    def checkout(self) -> None:
        self.checked_out = True
