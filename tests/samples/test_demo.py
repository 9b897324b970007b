"""The demo's order workflow, run on the test database."""

from __future__ import annotations

import uuid

import asyncpg

from hotmesh_temporal import activity
from hotmesh_temporal._engine.store.dsn import quote_ident, split_schema
from hotmesh_temporal.worker import Worker
from samples import demo


async def test_order_workflow(client, dsn, task_queue):
    attempts: list[int] = []

    # Same activity name as the demo's: records every attempt, then runs the real one.
    @activity.defn(name="charge_payment")
    async def counting_charge_payment(order: demo.Order) -> dict:
        attempts.append(activity.info().attempt)
        return await demo.charge_payment(order)

    activities = [
        counting_charge_payment if a is demo.charge_payment else a for a in demo.ACTIVITIES
    ]
    order = demo.Order(
        order_id=f"order-{uuid.uuid4().hex[:12]}",
        item="test widget",
        quantity=3,
        amount_cents=4200,
        email="test@example.com",
    )
    async with Worker(
        client, task_queue=task_queue, workflows=[demo.OrderWorkflow], activities=activities
    ):
        handle = await client.start_workflow(
            demo.OrderWorkflow.run, order, id=order.order_id, task_queue=task_queue
        )
        result = await handle.result()

    assert isinstance(result, demo.OrderResult)
    assert result.order_id == order.order_id
    assert result.status == "completed"
    assert result.reservation_id.startswith("rsv-")
    assert result.payment_id.startswith("pay-")
    assert result.tracking_number.startswith("TRK")
    # The first charge failed with a retryable error and the RetryPolicy retried it.
    assert attempts == [1, 2]
    assert result.payment_attempts == 2

    # The history in Postgres tells the same story.
    base, schema = split_schema(dsn)
    conn = await asyncpg.connect(base)
    try:
        rows = await conn.fetch(
            f"""
            SELECT h.event_type, h.attributes
              FROM {quote_ident(schema)}.history_events h
              JOIN {quote_ident(schema)}.executions e USING (run_id)
             WHERE e.workflow_id = $1
             ORDER BY h.event_id
            """,
            order.order_id,
        )
    finally:
        await conn.close()
    types = [r["event_type"] for r in rows]
    assert types[0] == "WorkflowExecutionStarted"
    assert types[-1] == "WorkflowExecutionCompleted"
    assert types.count("ActivityTaskScheduled") == 4
    assert types.count("ActivityTaskCompleted") == 4
    assert "ActivityTaskFailed" not in types  # a retried attempt is not a history event
    assert types.count("TimerStarted") == 1 and types.count("TimerFired") == 1
    assert types.index("TimerFired") < types.index(
        "ActivityTaskScheduled", types.index("TimerFired")
    )
