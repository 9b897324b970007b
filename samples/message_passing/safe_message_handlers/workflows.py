"""A venue that books seats through updates.

Each ``book`` update awaits an activity (the ticketing system) between choosing seats
and recording them. Two bookings handled at once could both choose the same free seats
during that await; an ``asyncio.Lock`` makes each booking run alone. The workflow does
not finish while a handler is still running: it waits for ``all_handlers_finished``.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.exceptions import ApplicationError


@dataclass
class BookingRequest:
    customer: str
    seats: int


@activity.defn
async def reserve_in_ticketing_system(customer: str, seats: list[int]) -> None:
    await asyncio.sleep(0.05)  # a remote call


@activity.defn
async def release_in_ticketing_system(seats: list[int]) -> None:
    await asyncio.sleep(0.05)


STEP = dict(start_to_close_timeout=timedelta(seconds=10))


@workflow.defn
class VenueWorkflow:
    @workflow.init
    def __init__(self, capacity: int) -> None:
        self.free_seats = list(range(1, capacity + 1))
        self.bookings: dict[str, list[int]] = {}
        self.closed = False
        self.lock = asyncio.Lock()

    @workflow.run
    async def run(self, capacity: int) -> dict[str, list[int]]:
        await workflow.wait_condition(lambda: self.closed and workflow.all_handlers_finished())
        return self.bookings

    @workflow.update
    async def book(self, request: BookingRequest) -> list[int]:
        async with self.lock:
            if request.seats > len(self.free_seats):
                # Fails this update only; the workflow carries on.
                raise ApplicationError(f"only {len(self.free_seats)} seats left")
            seats = self.free_seats[: request.seats]
            await workflow.execute_activity(
                reserve_in_ticketing_system, args=[request.customer, seats], **STEP
            )
            del self.free_seats[: request.seats]
            self.bookings[request.customer] = seats
            return seats

    @book.validator
    def check_booking(self, request: BookingRequest) -> None:
        if self.closed:
            raise ValueError("the venue is closed for bookings")
        if request.seats < 1:
            raise ValueError("book at least one seat")

    @workflow.update
    async def cancel_booking(self, customer: str) -> int:
        async with self.lock:
            seats = self.bookings.pop(customer, [])
            if seats:
                await workflow.execute_activity(release_in_ticketing_system, seats, **STEP)
                self.free_seats = sorted(self.free_seats + seats)
            return len(seats)

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.query
    def seats_left(self) -> int:
        return len(self.free_seats)


ACTIVITIES = [reserve_in_ticketing_system, release_in_ticketing_system]
