"""Claim loops that wake on NOTIFY instead of a polling interval.

A :class:`Poller` claims work whenever it has free capacity and either a notification
for its task queue arrived, or its last claim came back full (there may be more), or
the fallback interval passed (a notification can be lost when the LISTEN connection
drops: the rows are still there, so a slow poll finds them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from hotmesh_temporal._engine.store.store import Store

logger = logging.getLogger(__name__)  # the engine's own lines (no temporalio counterpart)


class Poller:
    def __init__(
        self,
        *,
        name: str,
        claim: Callable[[int], Awaitable[int]],
        capacity: Callable[[], int],
        notify_kind: str,
        namespace: str,
        task_queue: str,
        store: Store,
        batch: int = 20,
        retry_after: Callable[[], float | None] | None = None,
        also_queues: Sequence[str] = (),
    ) -> None:
        self.name = name
        self._claim = claim
        self._capacity = capacity
        self._kind = notify_kind
        # Notifications name no queue: they carry this opaque hint (Store.hint). A
        # poller claiming for several queues (``also_queues``) wakes for any of them.
        self._keys = frozenset(
            store.hint(notify_kind, f"{namespace}|{queue}") for queue in (task_queue, *also_queues)
        )
        self._store = store
        self._batch = batch
        # When a rate limit holds claims back (no event will end it), how long until
        # it may let one through; None means wait for a wakeup as usual.
        self._retry_after = retry_after
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self.loop: asyncio.AbstractEventLoop = asyncio.get_event_loop()
        self.errors = 0
        self._starved = False

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        listener = await self._store.listener()
        listener.subscribe(self._kind, self._on_notify)
        self._task = self.loop.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        self._wakeup.set()

    def slot_freed(self) -> None:
        """A task finished: claim again only if we had stopped for lack of room
        (otherwise every finished task would cost an empty claim)."""
        if self._starved:
            self._starved = False
            self._wakeup.set()

    def _on_notify(self, body: str | None) -> None:
        if body is None or body in self._keys:
            self._wakeup.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._store._listener is not None:
            self._store._listener.unsubscribe(self._kind, self._on_notify)

    def _wait_seconds(self) -> float:
        if self._retry_after is not None:
            later = self._retry_after()
            if later is not None:
                return min(max(later, 0.001), self._store.fallback_poll_seconds)
        return self._store.fallback_poll_seconds

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            self._wakeup.clear()
            free = min(self._capacity(), self._batch)
            self._starved = free <= 0
            if free > 0:
                try:
                    got = await self._claim(free)
                    backoff = 0.1
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # the database went away: retry, never give up
                    self.errors += 1
                    logger.warning(
                        "%s: claim failed, retrying in %.1fs: %s", self.name, backoff, err
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if got == free and not self._stopping:
                    continue  # the batch was full: there may be more waiting
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._wait_seconds())
            except asyncio.TimeoutError:
                pass
