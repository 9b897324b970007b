"""An order, end to end: ``python -m samples.demo``.

``OrderWorkflow`` reserves stock, charges the card, waits a little before shipping
(a durable timer), ships the parcel and emails a confirmation. The card processor
"times out" on the first charge attempt; the activity's RetryPolicy retries it and
the second attempt goes through.

The worker and the starter run in this one process. Where the state lives:
``Client.connect("localhost:7233")`` means the default database: ``$HOTMESH_DSN`` if
set, else a Postgres on 127.0.0.1:5432, else an embedded Postgres kept in
``./.hotmesh/pgdata``.

Only ``hotmesh_temporal`` imports are used: replace ``hotmesh_temporal`` with
``temporalio`` in the imports below and this file runs against a Temporal server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ApplicationError
from hotmesh_temporal.worker import Worker

TASK_QUEUE = "orders-demo"
WAIT_BEFORE_SHIPPING = timedelta(seconds=2)


@dataclass
class Order:
    order_id: str
    item: str
    quantity: int
    amount_cents: int
    email: str


@dataclass
class OrderResult:
    order_id: str
    reservation_id: str
    payment_id: str
    payment_attempts: int
    tracking_number: str
    status: str


def say(message: str) -> None:
    print(message, flush=True)


class OneLineErrors(logging.Formatter):
    """Log an exception as its last line: the failed first charge is expected here."""

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return f"    -> {ei[0].__name__}: {ei[1]}"


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(OneLineErrors("  [log] %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


class DatabaseChoice(logging.Handler):
    """Keeps the line in which the client says which database a ``host:port`` target
    turned into (``target 'localhost:7233': using the local Postgres at ...``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.choice: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("target ") and ": using " in message:
            self.choice = message.split(": using ", 1)[1]


async def connect(target: str) -> tuple[Client, str]:
    """Connect, and say in words which database the client is using."""
    if "://" in target:
        parts = urlsplit(target)
        if parts.password:  # never print a password
            parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
        return await Client.connect(target), f"the database in HOTMESH_DSN ({urlunsplit(parts)})"
    library_logger = logging.getLogger("hotmesh_temporal")
    watcher, level = DatabaseChoice(), library_logger.level
    library_logger.addHandler(watcher)
    library_logger.setLevel(logging.INFO)
    library_logger.propagate = False  # the INFO line is for the watcher, not the screen
    try:
        client = await Client.connect(target)
    finally:
        library_logger.removeHandler(watcher)
        library_logger.setLevel(level)
        library_logger.propagate = True
    if watcher.choice:
        return client, f"{watcher.choice} (for {target!r})"
    return client, repr(target)


# ------------------------------------------------------------------------ activities


@activity.defn
async def reserve_inventory(order: Order) -> str:
    reservation = f"rsv-{order.order_id[-6:]}"
    say(f"  [activity] reserved {order.quantity} x {order.item} ({reservation})")
    return reservation


@activity.defn
async def charge_payment(order: Order) -> dict:
    attempt = activity.info().attempt
    if attempt == 1:
        say(
            f"  [activity] charging ${order.amount_cents / 100:.2f}, attempt {attempt}: "
            "card processor timed out (retryable error)"
        )
        raise ApplicationError("card processor timed out", type="PaymentGatewayTimeout")
    payment = f"pay-{order.order_id[-6:]}"
    say(
        f"  [activity] charging ${order.amount_cents / 100:.2f}, attempt {attempt}: "
        f"approved ({payment})"
    )
    return {"payment_id": payment, "attempt": attempt}


@activity.defn
async def ship_order(order: Order) -> str:
    tracking = "TRK" + uuid.uuid4().hex[:10].upper()
    say(f"  [activity] shipped order {order.order_id}, tracking number {tracking}")
    return tracking


@activity.defn
async def send_confirmation(order: Order, tracking_number: str) -> None:
    say(f"  [activity] emailed {order.email}: your order is on its way ({tracking_number})")


# -------------------------------------------------------------------------- workflow


@workflow.defn
class OrderWorkflow:
    """Every step is recorded in Postgres: if the worker dies half way, another worker
    picks the order up where it stopped, without charging the card twice."""

    def __init__(self) -> None:
        self.status = "received"

    @workflow.run
    async def run(self, order: Order) -> OrderResult:
        steps = dict(start_to_close_timeout=timedelta(seconds=10))

        reservation_id = await workflow.execute_activity(reserve_inventory, order, **steps)
        self.status = "reserved"

        payment = await workflow.execute_activity(
            charge_payment,
            order,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=500),
                backoff_coefficient=2.0,
                maximum_attempts=5,
                non_retryable_error_types=["CardDeclined"],
            ),
            **steps,
        )
        self.status = "paid"

        # A durable timer: it lives in the database, not in this process's memory.
        await workflow.sleep(WAIT_BEFORE_SHIPPING)

        tracking_number = await workflow.execute_activity(ship_order, order, **steps)
        self.status = "shipped"

        await workflow.execute_activity(send_confirmation, args=[order, tracking_number], **steps)
        self.status = "completed"

        return OrderResult(
            order_id=order.order_id,
            reservation_id=reservation_id,
            payment_id=payment["payment_id"],
            payment_attempts=payment["attempt"],
            tracking_number=tracking_number,
            status=self.status,
        )


ACTIVITIES = [reserve_inventory, charge_payment, ship_order, send_confirmation]


# --------------------------------------------------------------------------- starter


async def main() -> int:
    setup_logging()
    target = os.environ.get("HOTMESH_DSN") or "localhost:7233"
    began = time.monotonic()
    client, database = await connect(target)
    say(f"connected to {database}")

    order = Order(
        order_id=f"order-{uuid.uuid4().hex[:12]}",
        item="mechanical keyboard",
        quantity=1,
        amount_cents=12900,
        email="ada@example.com",
    )
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[OrderWorkflow], activities=ACTIVITIES
    ):
        say(f"worker started on task queue {TASK_QUEUE!r}")
        handle = await client.start_workflow(
            OrderWorkflow.run, order, id=order.order_id, task_queue=TASK_QUEUE
        )
        say(f"started workflow {handle.id} (run {handle.result_run_id})")
        say(
            f"  (the workflow waits {WAIT_BEFORE_SHIPPING.total_seconds():g} s "
            "on a durable timer before shipping)"
        )
        result = await handle.result()

    say(f"result: {result}")
    say(f"done in {time.monotonic() - began:.1f} s")
    return 0 if result.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
