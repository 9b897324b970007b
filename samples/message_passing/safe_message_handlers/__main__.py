"""Run: ``python -m samples.message_passing.safe_message_handlers``"""

import asyncio
import os

from hotmesh_temporal.client import Client, WorkflowUpdateFailedError
from hotmesh_temporal.worker import Worker
from samples.message_passing.safe_message_handlers.workflows import (
    ACTIVITIES,
    BookingRequest,
    VenueWorkflow,
)

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "safe-message-handlers"


async def book(handle, customer: str, seats: int) -> str:
    try:
        got = await handle.execute_update(VenueWorkflow.book, BookingRequest(customer, seats))
        return f"{customer}: seats {got}"
    except WorkflowUpdateFailedError as err:
        return f"{customer}: refused ({err.cause})"


async def main() -> None:
    client = await Client.connect(DSN)
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[VenueWorkflow], activities=ACTIVITIES
    ):
        handle = await client.start_workflow(
            VenueWorkflow.run, 6, id="safe-message-handlers-workflow", task_queue=TASK_QUEUE
        )
        print(await book(handle, "ada", 2))
        # Three bookings at once: the lock serialises them, so no seat is sold twice.
        for line in await asyncio.gather(
            book(handle, "bob", 3), book(handle, "cy", 2), book(handle, "dee", 1)
        ):
            print(line)
        released = await handle.execute_update(VenueWorkflow.cancel_booking, "ada")
        print(f"ada cancelled, {released} seats released")
        await handle.signal(VenueWorkflow.close)
        print(f"Result: {await handle.result()}")


if __name__ == "__main__":
    asyncio.run(main())
