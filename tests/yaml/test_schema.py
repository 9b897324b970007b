"""Graph input schemas: pub refuses data that does not fit, naming every problem, and
starts nothing."""

from __future__ import annotations

import pytest

from hotmesh_temporal.hotmesh import HotMeshError
from hotmesh_temporal.hotmesh.schema import schema_problems

ORDER = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "quantity": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "channel": {"enum": ["web", "store"]},
    },
    "required": ["order_id", "quantity"],
    "additionalProperties": False,
}


def test_schema_problems():
    assert schema_problems(ORDER, {"order_id": "o1", "quantity": 2}) == []
    assert schema_problems(ORDER, {"order_id": "o1", "quantity": 2.0, "tags": []}) == []
    assert schema_problems(
        ORDER, {"quantity": "2", "tags": ["a", 3], "channel": "fax", "x": 1}
    ) == [
        "data.order_id is required",
        "data.quantity must be integer, got str",
        "data.tags[1] must be string, got int",
        "data.channel must be one of ['web', 'store']",
        "data.x is not allowed",
    ]
    assert schema_problems({"type": ["string", "null"]}, None) == []
    assert schema_problems({"type": "number"}, True) == ["data must be number, got bool"]
    assert schema_problems(None, {"anything": 1}) == []


async def test_pub_refuses_input_that_breaks_the_graph_schema(mesh, client):
    hm = await mesh(
        """
  graphs:
    - subscribes: sc.order
      input:
        schema:
          type: object
          properties:
            order_id: {type: string}
            quantity: {type: integer}
          required: [order_id, quantity]
      activities:
        t1:
          type: trigger
          job:
            maps:
              q: '{$self.output.data.quantity}'
"""
    )
    with pytest.raises(HotMeshError, match=r"data.quantity must be integer, got str"):
        await hm.pub("sc.order", {"order_id": "o1", "quantity": "many"}, job_id="sc-bad")
    started = [e async for e in client.list_workflows(f"HotMeshApp = '{hm.app_id}'")]
    assert started == []  # nothing was started
    assert (await hm.pubsub("sc.order", {"order_id": "o1", "quantity": 3})).data == {"q": 3}
