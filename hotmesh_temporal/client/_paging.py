"""The paging behind ``list_workflows`` and ``list_activities``: an async iterator that
fetches a page at a time as iteration needs it, as temporalio's list iterators do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PagedAsyncIterator(Generic[T]):
    """Subclasses say how to fetch one page (:meth:`_fetch_page`); ``input`` is the
    list call's Input (``query``, ``page_size``, ``limit``, ``next_page_token``)."""

    def __init__(self, client: Any, input: Any) -> None:
        self._client = client
        self._input = input
        self._next_page_token: bytes | None = input.next_page_token
        self._current_page: Sequence[T] | None = None
        self._current_page_index = 0
        self._limit: int | None = input.limit
        self._yielded = 0

    @property
    def current_page_index(self) -> int:
        return self._current_page_index

    @property
    def current_page(self) -> Sequence[T] | None:
        return self._current_page

    @property
    def next_page_token(self) -> bytes | None:
        return self._next_page_token

    async def fetch_next_page(self, *, page_size: int | None = None) -> None:
        """Fetch the page after the current one (``page_size`` overrides the list's)."""
        page_size = page_size or self._input.page_size
        if self._limit is not None:
            page_size = min(page_size, self._limit - self._yielded)
        self._current_page, self._next_page_token = await self._fetch_page(
            max(page_size, 1), self._next_page_token
        )
        self._current_page_index = 0

    async def _fetch_page(
        self, page_size: int, token: bytes | None
    ) -> tuple[Sequence[T], bytes | None]:
        raise NotImplementedError

    def __aiter__(self) -> PagedAsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._limit is not None and self._yielded >= self._limit:
            raise StopAsyncIteration
        while self._current_page is None or self._current_page_index >= len(self._current_page):
            if self._current_page is not None and self._next_page_token is None:
                raise StopAsyncIteration
            await self.fetch_next_page()
        item = self._current_page[self._current_page_index]
        self._current_page_index += 1
        self._yielded += 1
        return item
