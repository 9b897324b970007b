"""Wait for something a notification announces: a run closing (kind 'c', keyed by run
id), a query being answered ('r', query id), an update changing state ('u', update row
id) or a standalone activity closing ('s'). A notification carries only an opaque hint
of its key (Store.hint), never news: one LISTEN subscription per kind wakes the waiters
of that hint, and each reads the database to learn what happened. A forged or replayed
notification therefore costs at most a needless read; a slow fallback re-check covers
notifications lost while the LISTEN connection was down.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from hotmesh_temporal._engine.store.store import Store


class KeyedWaiter:
    def __init__(self, store: Store, kind: str) -> None:
        self._store = store
        self._kind = kind
        self._waiting: dict[str, set[asyncio.Event]] = collections.defaultdict(set)
        self._subscribed = False

    def hint(self, key: str) -> str:
        return self._store.hint(self._kind, key)

    async def _subscribe(self) -> None:
        if self._subscribed:
            return
        listener = await self._store.listener()
        if not self._subscribed:  # another waiter may have subscribed while we waited
            listener.subscribe(self._kind, self._on_notify)
            self._subscribed = True

    def unsubscribe(self) -> None:
        """Stop listening (its client let go of a pool that others still use)."""
        listener = self._store._listener
        if self._subscribed and listener is not None:
            listener.unsubscribe(self._kind, self._on_notify)
        self._subscribed = False

    def _on_notify(self, hint: str | None) -> None:
        if hint is None:  # reconnected: everyone re-checks
            targets: list[asyncio.Event] = [e for events in self._waiting.values() for e in events]
        else:
            targets = list(self._waiting.get(hint, ()))
        for event in targets:
            event.set()

    async def wait(
        self, key: str, check: Callable[[], Awaitable[Any]], timeout: float | None = None
    ) -> Any:
        """Call ``check`` until it returns something other than None: first, then
        whenever a notification hints at ``key``, and at least every fallback interval."""
        await self._subscribe()
        hint = self.hint(key)
        event = asyncio.Event()
        self._waiting[hint].add(event)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                event.clear()
                found = await check()
                if found is not None:
                    return found
                wait = self._store.fallback_wait_seconds
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        raise asyncio.TimeoutError()
                try:
                    await asyncio.wait_for(event.wait(), wait)
                except asyncio.TimeoutError:
                    pass
        finally:
            events = self._waiting.get(hint)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiting[hint]


class CloseWaiter(KeyedWaiter):
    """Waits for runs to close; the outcome is always read from the run's row.

    A client that starts a run while its LISTEN connection is up calls :meth:`expect`
    before sending the start: until a close hint for that run arrives, the run is
    known to be running, so the wait needs no first look at the database. The most
    recent runs only are kept (EXPECTED_RUNS); an older one, or any after a reconnect,
    is looked up. A forged hint only makes the waiter read the row early."""

    EXPECTED_RUNS = 2048

    def __init__(self, store: Store) -> None:
        super().__init__(store, "c")
        # Hints of runs started here while listening -> True once a close was hinted.
        self._expected: collections.OrderedDict[str, bool] = collections.OrderedDict()

    def expect(self, run_id: str) -> bool:
        """Note a run about to be started; False when not listening yet (then
        ``wait_closed`` looks the run up as usual)."""
        listener = self._store._listener
        if listener is None or not listener.connected:
            return False
        if not self._subscribed:
            listener.subscribe(self._kind, self._on_notify)
            self._subscribed = True
        self._expected[self.hint(run_id)] = False
        while len(self._expected) > self.EXPECTED_RUNS:
            self._expected.popitem(last=False)
        return True

    def _on_notify(self, hint: str | None) -> None:
        if hint is None:  # reconnected: closes hinted meanwhile are unknown
            self._expected.clear()
        elif hint in self._expected:
            self._expected[hint] = True
        super()._on_notify(hint)

    async def wait_closed(self, run_id: str, timeout: float | None = None) -> Any:
        """The run's outcome (run_outcome row) once it is not running any more."""
        hint = self.hint(run_id)
        trust_running = hint in self._expected

        async def closed() -> Any:
            nonlocal trust_running
            if trust_running and not self._expected.get(hint, True):
                trust_running = False  # later looks (the fallback) ask the database
                return None  # started here, no close hinted: still running
            row = await self._store.fetchrow("run_outcome", uuid.UUID(run_id))
            if row is None or row["status"] != 1:
                return dict(row) if row is not None else {"status": None}
            return None

        try:
            return await self.wait(run_id, closed, timeout)
        finally:
            self._expected.pop(hint, None)


class UpdateWaiter(KeyedWaiter):
    """Waits for an update's row to reach a state; the row is always read from the
    database (update_by_id).

    A client that chose the row id of a new update calls :meth:`expect` before sending
    it: while no hint for that row arrived, the state the client read last is still
    the row's state, so the wait needs no first look at the database."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, "u")
        self._expected: dict[str, int] = collections.Counter()  # by hint
        self._changed: set[str] = set()  # expected rows hinted (or maybe hinted) since

    async def expect(self, row_id: str) -> None:
        await self._subscribe()
        self._expected[self.hint(row_id)] += 1

    def forget(self, row_id: str) -> None:
        hint = self.hint(row_id)
        self._expected[hint] -= 1
        if self._expected[hint] <= 0:
            del self._expected[hint]
            self._changed.discard(hint)

    def _on_notify(self, hint: str | None) -> None:
        if hint is None:  # reconnected: what was hinted meanwhile is unknown
            self._changed.update(self._expected)
        elif hint in self._expected:
            self._changed.add(hint)
        super()._on_notify(hint)

    async def wait_for_state(
        self, row_id: str, state: int, timeout: float | None = None, *, known_state: int = -1
    ) -> Any:
        """The update's row (update_reply JSON) once its state is at least ``state``.
        ``known_state`` is the state the caller read while the row was expected: no
        hint since means no change, so the first look skips the database."""
        hint = self.hint(row_id)
        trust_known = hint in self._expected and known_state >= 0 and hint not in self._changed

        async def reached() -> Any:
            nonlocal trust_known
            if trust_known:
                trust_known = False  # later looks ask the database
                if hint not in self._changed:
                    return None
            self._changed.discard(hint)
            reply = await self._store.fetchval("update_by_id", uuid.UUID(row_id))
            return reply if reply is not None and reply["state"] >= state else None

        return await self.wait(row_id, reached, timeout)
