"""Wait for something a notification announces: a run closing ('c|<run id>') or a
query being answered ('r|<query id>'). One LISTEN subscription per kind dispatches to
the waiters of each key; a slow fallback re-check covers notifications lost while the
LISTEN connection was down. The check is always made against the database, so a
notification is only ever a hint.
"""

from __future__ import annotations

import asyncio
import collections
import json
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from hotmesh_temporal._engine.store import Store

FALLBACK_SECONDS = 5.0


class KeyedWaiter:
    def __init__(self, store: Store, kind: str) -> None:
        self._store = store
        self._kind = kind
        self._waiting: Dict[str, Set[asyncio.Event]] = collections.defaultdict(set)
        self._subscribed = False

    async def _subscribe(self) -> None:
        if not self._subscribed:
            listener = await self._store.listener()
            listener.subscribe(self._kind, self._on_notify)
            self._subscribed = True

    def _on_notify(self, key: Optional[str]) -> None:
        if key is None:  # reconnected: everyone re-checks
            targets: List[asyncio.Event] = [e for events in self._waiting.values() for e in events]
        else:
            targets = list(self._waiting.get(key, ()))
        for event in targets:
            event.set()

    async def wait(
        self, key: str, check: Callable[[], Awaitable[Any]], timeout: Optional[float] = None
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
                wait = FALLBACK_SECONDS
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
    only queries the database when it is missing."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, "c")
        self._outcomes: Dict[str, Any] = {}

    def _on_notify(self, body: Optional[str]) -> None:
        if body is not None:
            run_id, _, outcome = body.partition("|")
            if outcome and run_id in self._waiting:
                self._outcomes[run_id] = json.loads(outcome)
            body = run_id
        super()._on_notify(body)

    async def wait_closed(self, run_id: str, timeout: Optional[float] = None) -> Any:
        """The run's outcome once it is not running any more."""

        async def closed() -> Any:
            outcome = self._outcomes.pop(run_id, None)
            if outcome is not None:
                return outcome
            row = await self._store.fetchrow("run_outcome", run_id)
            if row is None or row["status"] != 1:
                return dict(row) if row is not None else {"status": None}
            return None

        try:
            return await self.wait(run_id, closed, timeout)
        finally:
            self._outcomes.pop(run_id, None)

