"""``WorkflowHistory`` and the history event iterator of ``hotmesh_temporal.client``.

Events come from the run's stored history (``events_after``) and are handed out as
``hotmesh_temporal.api.history.v1.HistoryEvent`` messages, in pages. A page token is
the run id and the last event id handed out, so a token survives across processes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime.history_export import (
    events_to_rows,
    parse_history,
    rows_to_events,
)
from hotmesh_temporal._engine.service.engine import Engine
from hotmesh_temporal._engine.service.errors import call
from hotmesh_temporal.api.history.v1 import History, HistoryEvent

# Module form: _client imports this module at its end (the iterator and the history
# types refer to Client); only attributes are read, at call time.
from hotmesh_temporal.client import _client

if TYPE_CHECKING:
    from hotmesh_temporal.client._client import Client

# Events that end a run: what the CLOSE_EVENT filter keeps.
_CLOSE_EVENTS = frozenset(h.CLOSE_STATUS)
# How long a wait_new_event fetch sleeps between looks at the run (grows to the max).
_WAIT_FIRST, _WAIT_MAX = 0.05, 1.0


@dataclass(frozen=True)
class WorkflowHistory:
    """A workflow's id and the events of one of its runs."""

    workflow_id: str
    events: Sequence[HistoryEvent]

    @property
    def run_id(self) -> str:
        """The run id recorded in the first (start) event."""
        if not self.events:
            raise RuntimeError("No events")
        first = self.events[0]
        if not first.HasField("workflow_execution_started_event_attributes"):
            raise RuntimeError("First event is not workflow start")
        return first.workflow_execution_started_event_attributes.original_execution_run_id

    @staticmethod
    def from_json(workflow_id: str, history: str | dict[str, Any]) -> WorkflowHistory:
        """Parse a JSON history: :py:meth:`to_json` output, or an export from the
        Temporal CLI (``temporal workflow show --output json``) or web UI, including
        older exports with PascalCase enum values."""
        return WorkflowHistory(workflow_id, list(parse_history(history).events))

    def to_json(self) -> str:
        """This history as Temporal's JSON (without the workflow id)."""
        return json.dumps(self.to_json_dict(), indent=2)

    def to_json_dict(self) -> dict[str, Any]:
        """This history as a JSON-ready dict (without the workflow id)."""
        return History(events=list(self.events)).to_json_dict()

    def _rows(self) -> list[dict[str, Any]]:
        return events_to_rows(self.events)


@dataclass  # as in temporalio (its own __init__ is kept)
class WorkflowHistoryEventAsyncIterator:
    """Async iterator over a run's history events, fetched page by page."""

    def __init__(self, client: Client, input: Any) -> None:
        self._client = client
        self._input = input
        self._next_page_token: bytes | None = input.next_page_token
        self._current_page: Sequence[HistoryEvent] | None = None
        self._current_page_index = 0
        self._started = input.next_page_token is not None

    @property
    def current_page_index(self) -> int:
        """Index in the current page of the event the next ``__anext__`` returns."""
        return self._current_page_index

    @property
    def current_page(self) -> Sequence[HistoryEvent] | None:
        """The current page, once fetched."""
        return self._current_page

    @property
    def next_page_token(self) -> bytes | None:
        """Token of the next page, if there is one."""
        return self._next_page_token

    def __aiter__(self) -> WorkflowHistoryEventAsyncIterator:
        return self

    async def __anext__(self) -> HistoryEvent:
        while True:
            if self._current_page is not None and self._current_page_index < len(
                self._current_page
            ):
                event = self._current_page[self._current_page_index]
                self._current_page_index += 1
                return event
            if self._current_page is not None and not self._next_page_token:
                raise StopAsyncIteration
            await self.fetch_next_page()

    async def fetch_next_page(self, *, page_size: int | None = None) -> None:
        """Fetch the next page (waiting for new events when ``wait_new_event``)."""
        engine = await self._client._engine()
        run_id, after = await self._position()
        limit = page_size or self._input.page_size or 0
        rows, closed = await self._read(engine, run_id, after, limit)
        more = bool(limit) and len(rows) > limit
        rows = rows[:limit] if limit else rows
        last = int(rows[-1]["id"]) if rows else after  # read past, even if filtered out
        if self._input.event_filter_type == _client.WorkflowHistoryEventFilterType.CLOSE_EVENT:
            rows = [r for r in rows if r["type"] in _CLOSE_EVENTS]
        elif rows:
            rows = await self._with_user_metadata(engine, run_id, after, rows)
        self._current_page = rows_to_events(rows)
        self._current_page_index = 0
        keep_going = more or (self._input.wait_new_event and not (closed and not more))
        self._next_page_token = _token(run_id, last) if keep_going else None

    async def _position(self) -> tuple:
        if self._next_page_token:
            try:
                token = json.loads(self._next_page_token)
                return str(uuid.UUID(token["run_id"])), int(token["after"])
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"invalid history page token: {self._next_page_token!r}") from err
        handle: _client.WorkflowHandle = self._client.get_workflow_handle(
            self._input.id, run_id=self._input.run_id
        )
        row = await handle._resolve_run(self._input.run_id)
        return str(row["run_id"]), 0

    @staticmethod
    async def _with_user_metadata(engine: Engine, run_id: str, after: int, rows: list) -> list:
        """The events with the user metadata a Temporal server records on them
        (``userMetadata``): the start's static summary / details, and the summary of
        each activity, local activity, timer and child workflow that was given one."""
        found = await call(engine.events_user_metadata(run_id, after))
        if not found:
            return rows
        return [
            {**row, "user_metadata": found[str(row["id"])]} if str(row["id"]) in found else row
            for row in rows
        ]

    async def _read(self, engine: Engine, run_id: str, after: int, limit: int) -> tuple:
        """Events after ``after`` (at most ``limit`` + 1 when a page size is set and all
        events are wanted, so a page of a long history reads only that page) and whether
        the run is closed; with ``wait_new_event`` waits (up to ``rpc_timeout``) until
        there is something."""
        paged = bool(limit) and (
            self._input.event_filter_type != _client.WorkflowHistoryEventFilterType.CLOSE_EVENT
        )
        deadline = None
        if self._input.rpc_timeout is not None:
            deadline = asyncio.get_running_loop().time() + self._input.rpc_timeout.total_seconds()
        pause = _WAIT_FIRST
        while True:
            outcome = await call(engine.run_outcome(run_id))
            closed = outcome is None or outcome["status"] != 1
            rows = await call(
                engine.events_page(run_id, after, limit + 1)
                if paged
                else engine.events_after(run_id, after)
            )
            if rows or closed or not self._input.wait_new_event:
                return rows, closed
            if deadline is not None and asyncio.get_running_loop().time() + pause > deadline:
                return rows, closed
            await asyncio.sleep(pause)
            pause = min(pause * 2, _WAIT_MAX)


def _token(run_id: str, after: int) -> bytes:
    return json.dumps({"run_id": run_id, "after": after}).encode()
