"""The three worker callbacks of the order graph (``order.yaml``): plain functions of
the mapped input data, returning the activity's output data."""

from __future__ import annotations

from hotmesh_temporal.hotmesh import WorkerSpec

# A pretend stock table; the sample's worker and its test share it.
STOCK = {"mechanical keyboard": 10, "vintage monitor": 1}


def check_inventory(data: dict) -> dict:
    """Synchronous callbacks run in a thread, like sync activities."""
    return {
        "item": data["item"],
        "available": STOCK.get(data["item"], 0),
        "warehouse": data["warehouse"],
    }


async def reserve_item(data: dict) -> dict:
    STOCK[data["item"]] -= data["quantity"]
    return {"reservation_id": f"rsv-{data['order_id']}", "reserved": data["quantity"]}


async def notify_backorder(data: dict) -> dict:
    return {
        "notice": f"{data['item']}: {data['shortfall']} more on back order for {data['order_id']}"
    }


WORKERS = [
    WorkerSpec("inventory.check", check_inventory),
    WorkerSpec("inventory.reserve", reserve_item),
    WorkerSpec("backorder.notify", notify_backorder),
]
