"""Reports of completed activities of one run, sent together when they pile up.

A workflow that fans out (``asyncio.gather`` of many activities) gets their
completions at nearly the same moment. Sent one by one, each report is a transaction
that locks the run's row: they queue on that lock and pay a commit each. Here a run's
first report goes at once, as before; reports of the same run that arrive while it is
in flight wait for it, and then go together in one statement
(``complete_activity_tasks``). A lone report costs nothing extra, and reports of
different runs never wait for each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")


class CompletionBatcher(Generic[Item]):
    def __init__(
        self,
        send_one: Callable[[Item], Awaitable[Any]],
        send_many: Callable[[Sequence[Item]], Awaitable[Sequence[Any]]],
    ) -> None:
        self._send_one = send_one
        self._send_many = send_many
        self._busy: set[Hashable] = set()  # runs with a report in flight
        self._waiting: dict[Hashable, list[tuple[Item, asyncio.Future]]] = {}
        self._sending: set[asyncio.Task] = set()

    def busy(self, key: Hashable) -> bool:
        """Whether a report of the run ``key`` is in flight."""
        return key in self._busy

    async def send(self, key: Hashable, item: Item) -> Any:
        """Report ``item`` (of the run ``key``); returns its reply."""
        if key in self._busy:
            future: asyncio.Future = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(key, []).append((item, future))
            return await future
        self._busy.add(key)
        try:
            return await self._send_one(item)
        finally:
            self._next(key)

    def _next(self, key: Hashable) -> None:
        batch = self._waiting.pop(key, None)
        if not batch:
            self._busy.discard(key)
            return
        task = asyncio.get_running_loop().create_task(self._send_batch(key, batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_batch(self, key: Hashable, batch: list[tuple[Item, asyncio.Future]]) -> None:
        try:
            if len(batch) == 1:
                replies: Sequence[Any] = [await self._send_one(batch[0][0])]
            else:
                replies = await self._send_many([item for item, _ in batch])
        except BaseException as err:  # every waiter hears it, as a lone report would
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            if not isinstance(err, Exception):
                raise
        else:
            for (_, future), reply in zip(batch, replies, strict=True):
                if not future.done():
                    future.set_result(reply)
        finally:
            self._next(key)
