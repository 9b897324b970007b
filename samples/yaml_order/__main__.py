"""The order example as a YAML graph: ``python -m samples.yaml_order``.

Deploys ``order.yaml`` (version 1 of app ``orders``), activates it, and places two
orders: one the stock covers (reserveItem runs) and one it does not (notifyBackorder
runs). The worker callbacks are in ``workers.py``.

Where the state lives: ``$HOTMESH_DSN`` if set, else a Postgres on 127.0.0.1:5432,
else an embedded Postgres kept in ``./.hotmesh/pgdata`` (as ``samples/demo.py``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

from hotmesh_temporal.client import Client
from hotmesh_temporal.hotmesh import HotMesh
from samples.yaml_order.workers import WORKERS

MANIFEST = Path(__file__).with_name("order.yaml")


async def place_orders(client: Client) -> list[dict]:
    """Deploy, activate and run both branches; returns the two jobs' data."""
    async with await HotMesh.init(app_id="orders", engine=client, workers=WORKERS) as mesh:
        await mesh.deploy(MANIFEST)
        await mesh.activate("1")
        results = []
        for item, quantity in (("mechanical keyboard", 2), ("vintage monitor", 5)):
            order_id = f"ord-{uuid.uuid4().hex[:8]}"
            job = await mesh.pubsub(
                "order.placed",
                {"order_id": order_id, "item": item, "quantity": quantity},
                timeout=60,
            )
            print(
                f"{order_id}: {quantity} x {item} -> {job.data['status']} "
                f"(job {job.metadata['jid']}, app v{job.metadata['vrs']})",
                flush=True,
            )
            results.append(job.data)
        return results


async def main() -> int:
    client = await Client.connect(os.environ.get("HOTMESH_DSN", "localhost:7233"))
    results = await place_orders(client)
    print(results, flush=True)
    return 0 if [r["status"] for r in results] == ["reserved", "backordered"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
