"""A batch with a sliding window.

``BatchWorkflow`` reads records page by page and keeps at most ``window_size`` record
activities running: each time one finishes the next starts. After each page it continues
as new, so the history stays short however large the batch.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from hotmesh_temporal import activity, workflow


@dataclass
class BatchInput:
    total_records: int
    page_size: int
    window_size: int
    offset: int = 0
    processed: int = 0


class InFlight:
    """Counts concurrent record activities, to show the window holds."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0


in_flight = InFlight()


@activity.defn
async def fetch_page(offset: int, size: int, total: int) -> list[int]:
    return list(range(offset, min(offset + size, total)))


@activity.defn
async def process_record(record: int) -> int:
    in_flight.now += 1
    in_flight.most = max(in_flight.most, in_flight.now)
    try:
        await asyncio.sleep(0.02)
        return record * record
    finally:
        in_flight.now -= 1


STEP = dict(start_to_close_timeout=timedelta(seconds=10))


@workflow.defn
class BatchWorkflow:
    @workflow.run
    async def run(self, batch: BatchInput) -> int:
        page = await workflow.execute_activity(
            fetch_page, args=[batch.offset, batch.page_size, batch.total_records], **STEP
        )
        await self._process_with_window(page, batch.window_size)
        processed = batch.processed + len(page)
        if processed < batch.total_records:
            workflow.continue_as_new(
                BatchInput(
                    batch.total_records,
                    batch.page_size,
                    batch.window_size,
                    offset=batch.offset + len(page),
                    processed=processed,
                )
            )
        return processed

    async def _process_with_window(self, records: list[int], window_size: int) -> None:
        running: list = []
        for record in records:
            if len(running) >= window_size:
                _, running = await workflow.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running.append(workflow.start_activity(process_record, record, **STEP))
        if running:
            await workflow.wait(running)
