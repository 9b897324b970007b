"""Workflows the command-line and UI tests operate on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from hotmesh_temporal import activity, workflow


@dataclass
class Order:
    item: str
    quantity: int


@activity.defn
async def pack(order: Order) -> str:
    return f"{order.quantity} x {order.item}"


@activity.defn
async def wait_for_courier(order_id: str) -> str:
    activity.raise_complete_async()


@workflow.defn
class GuestBook:
    """Collects names by signal until ``close`` and returns the greeting."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.closed = False

    @workflow.run
    async def run(self, greeting: str) -> str:
        await workflow.wait_condition(lambda: self.closed)
        return f"{greeting}, {' and '.join(self.names)}"

    @workflow.signal
    def sign(self, name: str) -> None:
        self.names.append(name)

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.query
    def signed(self) -> list[str]:
        return list(self.names)

    @workflow.update
    def rename(self, old: str, new: str) -> list[str]:
        self.names = [new if n == old else n for n in self.names]
        return list(self.names)

    @rename.validator
    def _check_rename(self, old: str, new: str) -> None:
        if old not in self.names:
            raise ValueError(f"no guest named {old}")


@workflow.defn
class PackOrder:
    """An activity, a timer, and a result built from both."""

    @workflow.run
    async def run(self, order: Order) -> str:
        packed = await workflow.execute_activity(
            pack, order, start_to_close_timeout=timedelta(seconds=10)
        )
        await asyncio.sleep(0.05)
        return f"packed {packed}"


@workflow.defn
class Delivery:
    """Waits on an activity that an operator completes by hand."""

    @workflow.run
    async def run(self, order_id: str) -> str:
        courier = await workflow.execute_activity(
            wait_for_courier,
            order_id,
            activity_id="courier",
            start_to_close_timeout=timedelta(minutes=5),
        )
        return f"{order_id} delivered by {courier}"


@workflow.defn
class Failing:
    @workflow.run
    async def run(self, why: str) -> None:
        from hotmesh_temporal.exceptions import ApplicationError

        raise ApplicationError(why, non_retryable=True)


WORKFLOWS = [GuestBook, PackOrder, Delivery, Failing]
ACTIVITIES = [pack, wait_for_courier]
