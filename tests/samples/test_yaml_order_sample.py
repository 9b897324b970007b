"""samples/yaml_order: the order graph's two branches, end to end on the test database."""

from __future__ import annotations

from samples.yaml_order import workers
from samples.yaml_order.__main__ import place_orders


async def test_both_branches(client, monkeypatch):
    monkeypatch.setitem(workers.STOCK, "mechanical keyboard", 10)
    monkeypatch.setitem(workers.STOCK, "vintage monitor", 1)

    reserved, backordered = await place_orders(client)

    assert reserved["status"] == "reserved"
    assert reserved["available"] == 10
    assert reserved["reservation_id"] == f"rsv-{reserved['order_id']}"
    assert "notice" not in reserved  # notifyBackorder did not run
    assert workers.STOCK["mechanical keyboard"] == 8  # reserveItem ran once

    assert backordered["status"] == "backordered"
    assert backordered["available"] == 1
    assert "reservation_id" not in backordered  # reserveItem did not run
    assert backordered["notice"] == (
        f"vintage monitor: 4 more on back order for {backordered['order_id']}"
    )
    assert workers.STOCK["vintage monitor"] == 1
