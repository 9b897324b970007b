"""Wake-ups (NOTIFY messages) sent after the commit of the transition that made them.

Postgres takes one database-wide lock for a transaction that sends NOTIFY and holds it
through that transaction's commit, WAL flush included: notifying commits run one at a
time. So the hot transitions (starts, workflow task and activity completions) do not
notify. Their SQL collects the messages instead (``defer_wakeups()`` then ``notify()``,
schema 0001) and returns them beside the result; a :class:`WakeupSender` per Store
sends them right after, in batches, in short transactions of their own with
``synchronous_commit = off``, which hold that lock only for a moment.

A wake-up is only ever a hint: a message lost with the process (after the commit,
before it was sent) is covered by the pollers' fallback claim and the waiters'
re-check, as one lost while a LISTEN connection is down.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from hotmesh_temporal._engine.store.dsn import connection_settings

logger = logging.getLogger("hotmesh_temporal.worker")


class WakeupSender:
    def __init__(self, dsn: str, send_sql: str, ssl: Any = None) -> None:
        self._dsn = dsn
        self._sql = send_sql  # the send_wakeups statement: $1 is a text[] of messages
        self._ssl = ssl
        self._pending: list[str] = []
        self._conn: asyncpg.Connection | None = None
        self._sending: asyncio.Task | None = None

    def send(self, messages: str | None) -> None:
        """Queue the newline-separated messages a statement returned and send them as
        soon as the batch in flight, if any, is out."""
        if not messages:
            return
        for message in messages.split("\n"):
            if message and message not in self._pending:
                self._pending.append(message)
        if self._pending and (self._sending is None or self._sending.done()):
            self._sending = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                conn = await self._connection()
                await conn.execute(self._sql, batch)
            except Exception as err:  # noqa: BLE001 - hints only: see the module docstring
                logger.debug("could not send %d wake-ups: %s", len(batch), err)
                await self._drop_connection()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self._dsn,
                ssl=self._ssl,
                server_settings=connection_settings(self._dsn, synchronous_commit="off"),
            )
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        """Send what is queued (for up to a second), then close the connection."""
        if self._sending is not None and not self._sending.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._sending), 1.0)
            except Exception:  # noqa: BLE001 - timed out or failed: nothing more to do
                self._sending.cancel()
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
        self._conn = None
