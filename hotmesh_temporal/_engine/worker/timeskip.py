"""The virtual clock of the time-skipping test environment.

Every durable time is read through ``<schema>.now()`` (real time plus the clock
table's offset). :class:`TimeSkipper` raises that offset, through the SQL function
``skip_time``, whenever nothing can make progress at the current time, so a workflow
that sleeps 30 days finishes as soon as its timer is the only thing left.

Work that is ready on a task queue no worker of this process serves does not hold
the clock (it cannot progress anyway): workers report the queues they poll with
:func:`worker_started` / :func:`worker_stopped`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from hotmesh_temporal._engine.store.store import Store
from hotmesh_temporal._engine.store.waiter import CloseWaiter

logger = logging.getLogger("hotmesh_temporal.testing")

# Between checks while time is locked: short first (the lock is usually a workflow
# task about to finish), longer while an activity keeps running.
MIN_POLL_SECONDS = 0.005
MAX_POLL_SECONDS = 0.05
# How long env.sleep() waits at most, after its last jump, for the sweepers to act on
# what fell due (only schedules need them; timers fire within the jump itself).
SETTLE_SECONDS = 1.0

_live_queues: Counter[tuple[str, str, str]] = collections.Counter()


def worker_started(schema: str, namespace: str, task_queue: str) -> None:
    """A worker of this process polls ``task_queue``: work there holds the clock."""
    _live_queues[(schema, namespace, task_queue)] += 1


def worker_stopped(schema: str, namespace: str, task_queue: str) -> None:
    key = (schema, namespace, task_queue)
    _live_queues[key] -= 1
    if _live_queues[key] <= 0:
        del _live_queues[key]


def live_queues(schema: str) -> tuple[list[str], list[str]]:
    """(namespaces, task queues), pairwise, that live workers poll in ``schema``."""
    pairs = [(ns, q) for (s, ns, q) in _live_queues if s == schema]
    return [ns for ns, _ in pairs], [q for _, q in pairs]


class TimeSkipper:
    """Moves one schema's clock. Automatic skipping runs while at least one caller
    is inside :meth:`unlocked` (a client awaiting a workflow result)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._unlocked = 0
        self._task: asyncio.Task | None = None
        self.auto = True

    async def now(self) -> datetime:
        return await self._store.fetchval("now")

    async def skip_once(self, until: datetime | None = None) -> datetime | None:
        """Jump to the next deadline (capped at ``until``) if nothing else can run;
        the new time, or None when time is locked or nothing waits on time."""
        namespaces, queues = live_queues(self._store.schema)
        return await self._store.fetchval("skip_time", namespaces, queues, until)

    @contextlib.asynccontextmanager
    async def unlocked(self) -> AsyncIterator[None]:
        """Skip time automatically for the duration of the block (unless disabled)."""
        if not self.auto:
            yield None
            return
        self._unlocked += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._skip_while_unlocked(), name="hotmesh time skipper"
            )
        try:
            yield None
        finally:
            self._unlocked -= 1
            if self._unlocked == 0:
                await self._stop()

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _skip_while_unlocked(self) -> None:
        delay = MIN_POLL_SECONDS
        while True:
            moved = await self._try_skip(None)
            delay = MIN_POLL_SECONDS if moved else min(delay * 2, MAX_POLL_SECONDS)
            await asyncio.sleep(delay)

    async def _try_skip(self, until: datetime | None) -> datetime | None:
        try:
            return await self.skip_once(until)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the database blinked: try again on the next round
            logger.warning("time skipping: skip_time failed: %s", err)
            return None

    async def sleep(self, seconds: float) -> None:
        """Advance virtual time by ``seconds``, firing everything due on the way and
        letting workflows react to each deadline before the next jump."""
        target = await self.now() + timedelta(seconds=seconds)
        delay = MIN_POLL_SECONDS
        while True:
            moved = await self._try_skip(target)
            if (moved or await self.now()) >= target:
                break
            delay = MIN_POLL_SECONDS if moved else min(delay * 2, MAX_POLL_SECONDS)
            await asyncio.sleep(delay)
        await self._settle()

    async def _settle(self, limit: float = SETTLE_SECONDS) -> None:
        """Wait (a bounded while) until nothing due at the new time is left undone:
        schedules are fired by the workers' sweepers, a moment after the jump."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + limit
        while loop.time() < give_up and await self._store.fetchval("work_is_due"):
            await asyncio.sleep(MIN_POLL_SECONDS)

    async def close(self) -> None:
        self._unlocked = 0
        await self._stop()


class TimeSkippingCloseWaiter(CloseWaiter):
    """Waiting for a run to close lets the environment's clock skip meanwhile."""

    def __init__(self, store: Store, skipper: TimeSkipper) -> None:
        super().__init__(store)
        self._skipper = skipper

    async def wait_closed(self, run_id: str, timeout: float | None = None) -> Any:
        async with self._skipper.unlocked():
            return await super().wait_closed(run_id, timeout)
