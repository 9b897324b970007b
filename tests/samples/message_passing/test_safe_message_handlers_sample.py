import asyncio
import uuid

import pytest

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.message_passing.safe_message_handlers.workflows import (
    ACTIVITIES,
    BookingRequest,
    VenueWorkflow,
)


async def test_concurrent_bookings_never_share_a_seat(client: Client):
    from hotmesh_temporal.client import WorkflowUpdateFailedError

    task_queue = str(uuid.uuid4())
    async with Worker(
        client, task_queue=task_queue, workflows=[VenueWorkflow], activities=ACTIVITIES
    ):
        handle = await client.start_workflow(
            VenueWorkflow.run, 5, id=str(uuid.uuid4()), task_queue=task_queue
        )
        requests = [BookingRequest(name, 2) for name in ("a", "b", "c")]
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(handle.execute_update(VenueWorkflow.book, r) for r in requests),
                return_exceptions=True,
            ),
            timeout=10,
        )
        booked = [seats for seats in outcomes if isinstance(seats, list)]
        refused = [err for err in outcomes if isinstance(err, WorkflowUpdateFailedError)]
        assert len(booked) == 2 and len(refused) == 1
        assert "only 1 seats left" in str(refused[0].cause)
        assert sorted(s for seats in booked for s in seats) == [1, 2, 3, 4]
        assert await handle.query(VenueWorkflow.seats_left) == 1

        assert (
            await handle.execute_update(VenueWorkflow.cancel_booking, "a")
            + await handle.execute_update(VenueWorkflow.cancel_booking, "b")
            + await handle.execute_update(VenueWorkflow.cancel_booking, "c")
            == 4
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(VenueWorkflow.book, BookingRequest("d", 0))
        await handle.signal(VenueWorkflow.close)
        assert await handle.result() == {}
