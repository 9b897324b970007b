"""Wait for runs to close: one LISTEN subscription per store dispatches 'c' (closed)
notifications to the futures of the clients waiting on those runs. A slow fallback
poll covers notifications lost while the LISTEN connection was down.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Dict, List, Optional, Set

from hotmesh_temporal._engine.store import Store

FALLBACK_SECONDS = 5.0


class CloseWaiter:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._waiting: Dict[str, Set[asyncio.Event]] = collections.defaultdict(set)
        self._subscribed = False

    async def _subscribe(self) -> None:
        if not self._subscribed:
            listener = await self._store.listener()
            listener.subscribe("c", self._on_closed)
            self._subscribed = True

    def _on_closed(self, run_id: Optional[str]) -> None:
        if run_id is None:  # reconnected: everyone re-checks
            targets: List[asyncio.Event] = [e for events in self._waiting.values() for e in events]
        else:
            targets = list(self._waiting.get(run_id, ()))
        for event in targets:
            event.set()

    async def wait_closed(self, run_id: str, timeout: Optional[float] = None) -> Any:
        """Return the run's outcome row once it is not running any more."""
        await self._subscribe()
        event = asyncio.Event()
        self._waiting[run_id].add(event)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            while True:
                row = await self._store.fetchrow("run_outcome", run_id)
                if row is None or row["status"] != 1:
                    return row
                wait = FALLBACK_SECONDS
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        raise asyncio.TimeoutError()
                event.clear()
                try:
                    await asyncio.wait_for(event.wait(), wait)
                except asyncio.TimeoutError:
                    pass
        finally:
            events = self._waiting.get(run_id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiting[run_id]
