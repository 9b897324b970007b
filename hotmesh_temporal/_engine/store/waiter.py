"""Wait for something a notification announces: a run closing ('c|<run id>'), a
query being answered ('r|<query id>') or an update changing state ('u|<row id>'). One LISTEN subscription per kind dispatches to
the waiters of each key; a slow fallback re-check covers notifications lost while the
LISTEN connection was down. The check is always made against the database, so a
notification is only ever a hint.
"""

from __future__ import annotations

import asyncio
import collections
import json
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

    async def _subscribe(self) -> None:
        if not self._subscribed:
            listener = await self._store.listener()
            listener.subscribe(self._kind, self._on_notify)
            self._subscribed = True

    def unsubscribe(self) -> None:
        """Stop listening (its client let go of a pool that others still use)."""
        listener = self._store._listener
        if self._subscribed and listener is not None:
            listener.unsubscribe(self._kind, self._on_notify)
        self._subscribed = False

    def _on_notify(self, key: str | None) -> None:
        if key is None:  # reconnected: everyone re-checks
            targets: list[asyncio.Event] = [e for events in self._waiting.values() for e in events]
        else:
            targets = list(self._waiting.get(key, ()))
        for event in targets:
            event.set()

    async def wait(
        self, key: str, check: Callable[[], Awaitable[Any]], timeout: float | None = None
    ) -> Any:
        """Call ``check`` until it returns something other than None."""
        await self._subscribe()
        event = asyncio.Event()
        self._waiting[key].add(event)
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
            events = self._waiting.get(key)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiting[key]


class CloseWaiter(KeyedWaiter):
    """'c' notifications read "<run id>|<outcome JSON>" (the JSON is left out when
    too large for a notification): a waiter takes the outcome from the message and
    only queries the database when it is missing.

    A client that starts a run while its LISTEN connection is up calls :meth:`expect`
    before sending the start: that run's close is then kept until ``result()`` asks,
    so the wait needs no first look at the database. The most recent runs only are
    kept (EXPECTED_RUNS); an older one, or any after a reconnect, is looked up."""

    EXPECTED_RUNS = 2048

    def __init__(self, store: Store) -> None:
        super().__init__(store, "c")
        self._outcomes: dict[str, Any] = {}
        # Runs started here while listening -> True once their close was announced.
        self._expected: collections.OrderedDict[str, bool] = collections.OrderedDict()

    def expect(self, run_id: str) -> bool:
        """Keep the close of a run about to be started; False when not listening yet
        (then nothing is kept and ``wait_closed`` looks the run up as usual)."""
        listener = self._store._listener
        if listener is None or not listener.connected:
            return False
        if not self._subscribed:
            listener.subscribe(self._kind, self._on_notify)
            self._subscribed = True
        self._expected[run_id] = False
        while len(self._expected) > self.EXPECTED_RUNS:
            old, _ = self._expected.popitem(last=False)
            self._outcomes.pop(old, None)
        return True

    def _on_notify(self, body: str | None) -> None:
        if body is None:  # reconnected: closes announced meanwhile are unknown
            self._expected.clear()
        else:
            run_id, _, outcome = body.partition("|")
            if run_id in self._expected:
                self._expected[run_id] = True
            if outcome and (run_id in self._waiting or run_id in self._expected):
                self._outcomes[run_id] = json.loads(outcome)
            body = run_id
        super()._on_notify(body)

    async def wait_closed(self, run_id: str, timeout: float | None = None) -> Any:
        """The run's outcome once it is not running any more."""
        trust_running = run_id in self._expected

        async def closed() -> Any:
            nonlocal trust_running
            outcome = self._outcomes.pop(run_id, None)
            if outcome is not None:
                return outcome
            if trust_running and not self._expected.get(run_id, True):
                trust_running = False  # later looks (the fallback) ask the database
                return None  # started here, no close announced: still running
            row = await self._store.fetchrow("run_outcome", run_id)
            if row is None or row["status"] != 1:
                return dict(row) if row is not None else {"status": None}
            return None

        try:
            return await self.wait(run_id, closed, timeout)
        finally:
            self._outcomes.pop(run_id, None)
            self._expected.pop(run_id, None)


class UpdateWaiter(KeyedWaiter):
    """'u' notifications read "<update row id>|<reply JSON>" (the JSON is left out when
    too large): a waiter takes the update's new state from the message and only
    queries the database when it is missing.

    A client that chose the row id of a new update calls :meth:`expect` before sending
    it: every notification for that row is then kept, so the wait needs no first
    look at the database."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, "u")
        self._replies: dict[str, Any] = {}
        self._expected: dict[str, int] = collections.Counter()
        self._unsure: set[str] = set()  # expected rows whose notifications may be lost

    async def expect(self, row_id: str) -> None:
        await self._subscribe()
        self._expected[row_id] += 1

    def forget(self, row_id: str) -> None:
        self._expected[row_id] -= 1
        if self._expected[row_id] <= 0:
            del self._expected[row_id]
            self._replies.pop(row_id, None)
            self._unsure.discard(row_id)

    def _on_notify(self, body: str | None) -> None:
        if body is None:  # reconnected: what was announced meanwhile is unknown
            self._unsure.update(self._expected)
        else:
            row_id, _, reply = body.partition("|")
            if reply and (row_id in self._waiting or row_id in self._expected):
                self._replies[row_id] = json.loads(reply)
            body = row_id
        super()._on_notify(body)

    async def wait_for_state(
        self, row_id: str, state: int, timeout: float | None = None, *, known_state: int = -1
    ) -> Any:
        """The update's row (update_reply JSON) once its state is at least ``state``.
        ``known_state`` is the state the caller read while the row was expected: no
        notification since means no change, so the first look skips the database."""
        trust_known = row_id in self._expected and known_state >= 0

        async def reached() -> Any:
            nonlocal trust_known
            reply = self._replies.pop(row_id, None)
            if reply is None and trust_known and row_id not in self._unsure:
                trust_known = False  # later looks (a fallback timeout) ask the database
                return None
            if reply is None:
                reply = await self._store.fetchval("update_by_id", uuid.UUID(row_id))
            return reply if reply["state"] >= state else None

        return await self.wait(row_id, reached, timeout)
