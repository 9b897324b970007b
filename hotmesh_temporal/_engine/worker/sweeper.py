"""Fire what is due: timers, activity timeouts and retry backoffs, workflow task lease
expiries, run timeouts, schedules. Every worker process runs one sweeper per store; they all call
the same SQL function, which locks due rows with SKIP LOCKED, so each deadline fires
exactly once however many sweepers run.

A sweeper sleeps until the next deadline the database reported, or until a 't'
notification announces an earlier one. Deadlines are database time; the sweeper converts
them with a clock offset it measures on every sweep (ClockOffset: a too-low offset
wakes it late, which is what timer lateness used to be made of under load).

Retention runs beside the sweeps, in a task of its own so a long purge never delays a
timer: every PURGE_CHECK_SECONDS a sweeper asks whether the fleet's purge turn has
come (once per the deployment's ``purge_every``), and if so deletes expired runs in
bounded batches (``service/namespaces.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from hotmesh_temporal._engine.service.namespaces import purge_if_due
from hotmesh_temporal._engine.service.schedules import fire_due
from hotmesh_temporal._engine.store.store import Store

logger = logging.getLogger("hotmesh_temporal.worker")

MAX_SLEEP_SECONDS = 5.0  # with LISTEN; poll-only mode uses the pooler poll interval
BATCH = 200
PURGE_CHECK_SECONDS = 5.0
# How long an offset measurement counts towards the estimate (ClockOffset): long
# enough to span a few idle sweeps, short against any drift between the clocks.
OFFSET_WINDOW_SECONDS = 30.0


class ClockOffset:
    """The database clock minus loop.time(), as the sweeper knows it.

    A sweep reports the database clock when its function ended; that reading was taken
    somewhere between sending the statement and receiving its answer, so the clock read
    minus loop.time() at the answer is a lower bound of the true offset, lower by the
    commit, the trip back and the event loop's delay (several ms on a busy worker,
    where the first sweep after a burst of work took them all). The estimate is the
    highest lower bound of the last OFFSET_WINDOW_SECONDS: never above the true offset,
    so a sweeper never wakes before a deadline by its own reckoning, and as close to it
    as the quickest recent answer. The same reading minus loop.time() when the statement
    was sent is an upper bound: an estimate above it is proved wrong (a clock moved
    back), and the estimate starts again from that measurement.
    """

    def __init__(self) -> None:
        self._bounds: deque[tuple[float, float]] = deque()  # (loop.time(), lower bound)

    def measured(self, db_clock_epoch: float, sent_at: float, received_at: float) -> None:
        if self._bounds and max(b for _, b in self._bounds) > db_clock_epoch - sent_at:
            self._bounds.clear()
        self._bounds.append((received_at, db_clock_epoch - received_at))
        while self._bounds and self._bounds[0][0] < received_at - OFFSET_WINDOW_SECONDS:
            self._bounds.popleft()

    def forget(self) -> None:
        self._bounds.clear()

    def now_epoch(self, loop_time: float) -> float | None:
        """The database's time at loop_time; None before the first measurement."""
        if not self._bounds:
            return None
        return loop_time + max(bound for _, bound in self._bounds)


class Sweeper:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._users = 0
        self._target_epoch: float | None = None
        # The earliest deadline announced while a sweep query was in flight: that query's
        # snapshot may predate the row, so its next_deadline must not overwrite it.
        self._announced_epoch: float | None = None
        self._clock = ClockOffset()
        self._forced = False
        self._purging: asyncio.Task | None = None
        self._next_purge_check = 0.0  # loop.time()

    async def acquire(self) -> None:
        """A worker starts using this sweeper (the first one starts it)."""
        self._users += 1
        if self._task is None:
            listener = await self._store.listener()
            listener.subscribe("t", self._on_notify)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="hotmesh sweeper")

    async def release(self) -> None:
        self._users -= 1
        if self._users <= 0 and self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
            if self._purging is not None:
                self._purging.cancel()
                try:
                    await self._purging
                except asyncio.CancelledError:
                    pass
                self._purging = None
            if self._store._listener is not None:
                self._store._listener.unsubscribe("t", self._on_notify)

    def wake(self) -> None:
        """Sweep now (the clock moved, or a test wants it)."""
        self._forced = True
        self._wakeup.set()

    def _on_notify(self, body: str | None) -> None:
        if body is None:
            self.wake()
            return
        try:
            epoch = float(body)
        except ValueError:
            # 't|clock': the time-skipping clock jumped; every wait computed from the
            # old offset is wrong, so sweep now and measure the clock again.
            self._clock.forget()
            self.wake()
            return
        if self._announced_epoch is None or epoch < self._announced_epoch:
            self._announced_epoch = epoch
        if self._target_epoch is None or epoch < self._target_epoch:
            self._target_epoch = epoch
            self._wakeup.set()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            self._forced = False
            self._announced_epoch = None
            loop = asyncio.get_running_loop()
            sent_at = loop.time()
            try:
                row = await self._store.fetchrow("sweep", BATCH)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as err:
                logger.warning("sweeper: sweep failed, retrying in %.1fs: %s", backoff, err)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._clock.measured(row["clock"].timestamp(), sent_at, loop.time())
            self._maybe_purge()
            if row["fired"] >= BATCH:
                continue  # more is due right now
            if await self._fire_schedules(row):
                continue
            deadline = row["next_deadline"]
            self._target_epoch = _earliest(
                deadline.timestamp() if deadline is not None else None, self._announced_epoch
            )
            if row["fired"] == 0 and deadline is not None and deadline <= row["now"]:
                await asyncio.sleep(0.01)  # due, but another sweeper holds it right now
                continue
            await self._sleep_until_due(loop)

    def _maybe_purge(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_purge_check:
            return
        if self._purging is not None and not self._purging.done():
            return
        self._next_purge_check = loop.time() + PURGE_CHECK_SECONDS
        self._purging = loop.create_task(self._purge(), name="hotmesh retention")

    async def _purge(self) -> None:
        try:
            deleted = await purge_if_due(self._store)
            if deleted:
                logger.debug("retention: deleted %d expired runs", deleted)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # retried at the next check
            logger.warning("retention: purge failed: %s", err)

    async def _fire_schedules(self, row: Any) -> bool:
        """Something is due that SQL alone did not fire: schedules (their calendar is
        computed here). True when a schedule moved, so the sweep should run again."""
        deadline = row["next_deadline"]
        if deadline is None or deadline > row["now"]:
            return False
        try:
            return await fire_due(self._store) > 0
        except asyncio.CancelledError:
            raise
        except Exception as err:
            logger.warning("sweeper: firing schedules failed: %s", err)
            return False

    async def _sleep_until_due(self, loop: asyncio.AbstractEventLoop) -> None:
        """Sleep until the target deadline; a notification may move it earlier."""
        while True:
            self._wakeup.clear()
            if self._forced:
                return
            longest = min(MAX_SLEEP_SECONDS, self._store.fallback_wait_seconds)
            sleep = longest
            now_epoch = self._clock.now_epoch(loop.time())
            if self._target_epoch is not None and now_epoch is not None:
                sleep = min(self._target_epoch - now_epoch, longest)
            if sleep <= 0:
                return
            try:
                await asyncio.wait_for(self._wakeup.wait(), sleep)
            except asyncio.TimeoutError:
                return


def _earliest(*epochs: float | None) -> float | None:
    known = [e for e in epochs if e is not None]
    return min(known) if known else None
