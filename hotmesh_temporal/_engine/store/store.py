"""The only door to Postgres: a connection pool, the named statements of
``queries.sql``, and the LISTEN connection that wakes workers and waiting clients.

Every call is one round trip (the transitions are SQL functions), and every call is
counted per statement name so benchmarks can report round trips without a profiler.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import logging
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from hotmesh_temporal._engine.store.dsn import (
    PoolerOptions,
    connection_settings,
    quote_ident,
    split_pooler,
    split_schema,
)
from hotmesh_temporal._engine.store.limits import (
    InvalidStringError,
    Limits,
    check_plain_args,
    check_storable,
    make_storable,
)
from hotmesh_temporal._engine.store.migrate import migrate
from hotmesh_temporal._engine.store.wakeups import WakeupSender

logger = logging.getLogger("hotmesh_temporal")

_QUERIES_FILE = Path(__file__).parent.parent / "sql" / "queries.sql"
_NAME_RE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def load_queries(schema: str) -> dict[str, str]:
    """Parse queries.sql into {name: statement} with the schema filled in."""
    text = _QUERIES_FILE.read_text(encoding="utf-8")
    parts = _NAME_RE.split(text)
    quoted = quote_ident(schema)
    queries = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=False):
        lines = [ln for ln in body.strip().splitlines() if not ln.lstrip().startswith("--")]
        queries[name] = "\n".join(lines).strip().rstrip(";").replace("{schema}", quoted)
    return queries


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=_dumps, decoder=json.loads, schema="pg_catalog")


async def _no_reset(conn: asyncpg.Connection) -> None:
    """asyncpg resets a connection on release with four statements (unlock, close
    cursors, unlisten, reset settings) -- a round trip per call. Pooled connections
    here only ever run single self-contained statements and never LISTEN (that has
    its own connection), so there is nothing to reset."""


def _dumps(value: Any) -> str:
    """JSON for a json/jsonb parameter. Postgres refuses the escapes of NUL and of lone
    surrogates: when the text has any such escape (rare: one a surrogate pair also
    makes), the value is checked exactly, raising InvalidStringError before the
    statement is sent (asyncpg reports it as a DataError caused by it)."""
    text = json.dumps(value, separators=(",", ":"))
    if "\\u0000" in text or "\\ud" in text:
        check_storable(value, "a JSON argument")
    return text


# Postgres aborted the statement to break a deadlock (two transitions locking the same
# runs in opposite orders, e.g. a parent and its child): nothing happened, run it again.
_TRANSIENT_ERRORS = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)
_TRANSIENT_RETRIES = 5

# No connection could be had, or the one we had refused the statement before sending it
# (asyncpg checks its protocol state first): the server never saw it, so any statement
# is simply sent again.
_REFUSED_BY_CONNECTION = (asyncpg.exceptions.InterfaceError, asyncpg.exceptions.InternalClientError)
_NOT_SENT_ERRORS = (
    OSError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
) + _REFUSED_BY_CONNECTION
# The connection died while the statement ran: it may have committed. Only statements
# that may run twice are sent again (see _REPEATABLE).
_CONNECTION_LOST_ERRORS = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)
# What a caller sees when the database is gone for good (the client turns it into
# RPCError UNAVAILABLE).
DATABASE_GONE_ERRORS = _NOT_SENT_ERRORS + _CONNECTION_LOST_ERRORS

# A database that went away is waited for this long (backoff 0.05 s doubling: about
# 3 s in all) before the error reaches the caller (a worker retries its claims on its
# own; a client call fails with RPCError UNAVAILABLE).
_CONNECTION_RETRIES = 7

# Statements that are safe to run again when the first attempt may have committed:
# reads; claims (a task claimed by a lost attempt is leased to nobody listening and
# comes back when its lease expires); lease-checked reports (a second report finds the
# lease gone and answers stale / not found); starts (the run id is chosen by the
# caller, and a start that finds its own run answers as started); update requests
# (keyed by update id); the client calls that carry a request id (signal, cancel,
# terminate, signal-with-start: applied once per id, see 0015_request_ids.sql).
# The plain signal_workflow, request_cancel_workflow and terminate_workflow are not:
# a second one would be a second request.
_REPEATABLE = frozenset(
    {
        "start_workflow",
        "signal_with_start",
        "signal_workflow_once",
        "request_cancel_workflow_once",
        "terminate_workflow_once",
        "request_update",
        "claim_workflow_tasks",
        "claim_activity_tasks",
        "claim_queries",
        "complete_workflow_task",
        "release_workflow_task",
        "fail_workflow_task",
        "extend_workflow_task_lease",
        "complete_activity_task",
        "complete_activity_tasks",
        "complete_activity_run_ahead",
        "fail_activity_task",
        "cancel_activity_task",
        "heartbeat_activity_task",
        "answer_query",
        "take_answer",
        "events_after",
        "events_page",
        # retention: deleting what is already deleted deletes nothing; settings are
        # absolute values, so a second write writes the same thing
        "claim_purge_turn",
        "purge_expired_runs",
        "delete_runs",
        "upsert_namespace",
        "describe_namespace",
        "list_namespaces",
        "set_retention_limits",
        "maintain_history_partitions",
        "activity_attempt_by_ids",
        "run_outcome",
        "find_run",
        "run_row",
        "events_user_metadata",
        "find_update",
        "update_by_id",
        "describe_schedule",
        "list_schedules",
        "list_workflows",
        "count_workflows",
        "count_workflows_by_status",
        "pending_activities",
        "describe_standalone_activity",
        "standalone_activity_outcome",
        "standalone_activity_run",
        "list_standalone_activities",
        "count_standalone_activities",
        "count_standalone_activities_by_status",
        "due_schedules",
        "due_run_timeouts",
        "work_is_due",
        "sweep",
        "now",
    }
)


# The transitions that may collect their wake-ups instead of sending them (wakeups.py):
# the ones a busy worker runs most.
_DEFERRABLE = (
    "start_workflow",
    "complete_workflow_task",
    "complete_activity_task",
    "complete_activity_run_ahead",
    "complete_activity_tasks",
)


def deferring_variant(statement: str, schema: str) -> str:
    """``SELECT fn(...)`` as ``SELECT fn(...), <its wake-ups> FROM defer_wakeups()``."""
    if " FROM " in statement.upper():
        raise ValueError(f"not a single function call: {statement}")
    return (
        f"{statement}, current_setting('hotmesh.wakeups', true)"
        f" FROM {quote_ident(schema)}.defer_wakeups()"
    )


class HintKey:
    """The deployment's wake-up secret and the channel derived from it (schema 0001,
    table hint_key, readable only by roles allowed into the schema)."""

    def __init__(self, secret: str, channel: str) -> None:
        self._secret = secret.encode()
        self.channel = channel

    def hint(self, kind: str, subject: str) -> str:
        if kind == "t":  # deadlines name nothing and are sent as they are
            return subject
        message = f"{kind}|{subject}".encode("utf-8", "surrogatepass")
        return hashlib.sha256(self._secret + message).hexdigest()[:24]


class _StatementNotSent(Exception):
    """The statement never reached the server (its cause says why)."""


class DatabaseUnavailableError(RuntimeError):
    """Postgres cannot be reached; nothing was written."""


class Store:
    """One schema of one database, shared by a client and the workers built on it."""

    # With LISTEN, a worker's claim loop and a waiting client re-read the database this
    # often in case a wake-up was lost; poll-only (a pooler without a direct connection)
    # uses the pooler's poll interval instead.
    FALLBACK_POLL_SECONDS = 2.0
    FALLBACK_WAIT_SECONDS = 5.0

    def __init__(
        self,
        dsn: str,
        schema: str,
        pool: asyncpg.Pool,
        ssl: Any = None,
        pooler: PoolerOptions | None = None,
        *,
        hint_key: HintKey,
        limits: Limits | None = None,
    ) -> None:
        self.dsn = dsn
        self.pooler = pooler or PoolerOptions()
        # LISTEN and the wake-up sender need a session of their own: never a pooled one.
        self.listen_dsn = self.pooler.direct_dsn or dsn
        self.fallback_poll_seconds = (
            self.pooler.poll_seconds if self.pooler.poll_only else self.FALLBACK_POLL_SECONDS
        )
        self.fallback_wait_seconds = (
            self.pooler.poll_seconds if self.pooler.poll_only else self.FALLBACK_WAIT_SECONDS
        )
        self.ssl = ssl  # an SSLContext from Client.connect(tls=...), else the DSN decides
        self.schema = schema
        self.pool = pool
        self.queries = load_queries(schema)
        self.calls: collections.Counter[str] = collections.Counter()
        self._hint_key = hint_key
        self.limits = limits or Limits()  # the deployment's (table limits, schema 0001)
        # What refuses an argument Postgres cannot store: the service layer makes it
        # RPCError(INVALID_ARGUMENT), as Temporal's server answers.
        self.refuse_invalid: Callable[[str], Exception] = InvalidStringError
        self.channel = hint_key.channel  # the NOTIFY channel (see notify() in the schema)
        self._listener: _Listener | None = None
        # Many callers may want the listener at once (a client awaiting a hundred
        # results): one of them opens it, the others wait for that one connection.
        self._listener_lock = asyncio.Lock()
        # The hot transitions, also as statements that return their wake-ups beside
        # their result instead of sending them (wakeups.py); used while another one
        # is in flight, when notifying commits would queue on the NOTIFY lock.
        # Poll-only: nobody here listens, so there is nothing to defer (transitions
        # notify inline, for processes that do listen on a direct connection).
        self._deferring = (
            {}
            if self.pooler.poll_only
            else {name: deferring_variant(self.queries[name], schema) for name in _DEFERRABLE}
        )
        self._hot_in_flight = 0
        self.wakeups = WakeupSender(self.listen_dsn, self.queries["send_wakeups"], ssl)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, dsn: str, *, max_size: int = 10, ssl: Any = None) -> Store:
        plain_dsn, schema = split_schema(dsn)
        plain_dsn, pooler = split_pooler(plain_dsn)
        # Behind a transaction-mode pooler a prepared statement may be gone by the next
        # transaction (another client has the server connection), so none are kept.
        cache = {"statement_cache_size": 0} if pooler.mode else {}
        try:
            conn = await asyncpg.connect(
                pooler.direct_dsn or plain_dsn,
                ssl=ssl,
                server_settings=connection_settings(plain_dsn),
                **cache,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
            raise DatabaseUnavailableError(f"cannot connect to Postgres: {err}") from err
        try:
            await migrate(conn, schema, pooled=pooler.poll_only)
            settings = await conn.fetchrow(load_queries(schema)["deployment_settings"])
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(
            plain_dsn,
            min_size=1,
            max_size=max_size,
            init=_init_connection,
            reset=_no_reset,
            ssl=ssl,
            server_settings=connection_settings(plain_dsn),
            **cache,
        )
        return cls(
            plain_dsn,
            schema,
            pool,
            ssl,
            pooler,
            hint_key=HintKey(settings["secret"], settings["channel"]),
            limits=Limits.from_row(json.loads(settings["limits"])),
        )

    async def close(self) -> None:
        await self.wakeups.close()
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        await self.pool.close()

    # ---------------------------------------------------------------- statements

    async def fetchval(self, name: str, *args: Any) -> Any:
        return await self._run("fetchval", name, args)

    async def fetch(self, name: str, *args: Any) -> list[asyncpg.Record]:
        return await self._run("fetch", name, args)

    async def fetchrow(self, name: str, *args: Any) -> asyncpg.Record | None:
        return await self._run("fetchrow", name, args)

    async def fetchval_repairing(self, name: str, *args: Any) -> Any:
        """fetchval for text a worker produced (completions, failures): characters
        Postgres cannot store (NUL, lone surrogates) become U+FFFD instead of failing
        the statement on every attempt."""
        try:
            return await self._run_checked("fetchval", name, args)
        except InvalidStringError:
            return await self._run("fetchval", name, tuple(make_storable(list(args))))

    async def _run(self, method: str, name: str, args: tuple) -> Any:
        """Run one named statement. Each is a single function call in its own
        transaction, so a failed attempt either did nothing or (connection lost after
        the commit) did everything; the error tables above say when to try again.
        A string Postgres cannot store is refused (refuse_invalid) before any SQL."""
        try:
            return await self._run_checked(method, name, args)
        except InvalidStringError as err:
            raise self.refuse_invalid(str(err)) from None

    async def _run_checked(self, method: str, name: str, args: tuple) -> Any:
        check_plain_args(args, f"an argument of {name}")
        self.calls[name] += 1
        deadlocks = lost = 0
        while True:
            try:
                return await self._run_once(method, name, args)
            except _TRANSIENT_ERRORS:
                deadlocks += 1
                if deadlocks == _TRANSIENT_RETRIES:
                    raise
                await asyncio.sleep(random.uniform(0.001, 0.01 * 2**deadlocks))
            except _StatementNotSent as err:
                lost += 1
                if lost == _CONNECTION_RETRIES:
                    assert err.__cause__ is not None  # _StatementNotSent always wraps one
                    raise err.__cause__ from None
                await asyncio.sleep(0.05 * 2 ** (lost - 1))
            except _CONNECTION_LOST_ERRORS:
                lost += 1
                if name not in _REPEATABLE or lost == _CONNECTION_RETRIES:
                    raise
                await asyncio.sleep(0.05 * 2 ** (lost - 1))

    async def _run_once(self, method: str, name: str, args: tuple) -> Any:
        sql = self.queries[name]
        try:
            conn = await self.pool.acquire()
        except _NOT_SENT_ERRORS as err:
            raise _StatementNotSent() from err
        try:
            try:
                if name in self._deferring:  # read with fetchval, as all their callers do
                    return await self._run_hot(conn, name, args)
                return await getattr(conn, method)(sql, *args)
            except _REFUSED_BY_CONNECTION as err:
                # Refused by the connection itself (a broken protocol state after its
                # server went away), so never sent: drop the connection, send again.
                _drop(conn)
                raise _StatementNotSent() from err
            except _CONNECTION_LOST_ERRORS:
                _drop(conn)
                raise
            except asyncpg.DataError as err:
                if isinstance(err.__cause__, InvalidStringError):  # from _dumps, not sent
                    raise err.__cause__ from None
                raise
        finally:
            await self.pool.release(conn)

    async def _run_hot(self, conn: Any, name: str, args: tuple) -> Any:
        """A hot transition: alone, it notifies at its commit; beside others, it hands
        its wake-ups to the WakeupSender to send after the commit."""
        self._hot_in_flight += 1
        try:
            if self._hot_in_flight == 1:
                return await conn.fetchval(self.queries[name], *args)
            result, wakeups = await conn.fetchrow(self._deferring[name], *args)
            self.wakeups.send(wakeups)
            return result
        finally:
            self._hot_in_flight -= 1

    async def fetch_filtered(
        self, name: str, fragments: dict[str, str], *args: Any
    ) -> list[asyncpg.Record]:
        """A named statement with ``{where}``-style holes filled by the list-filter
        compiler, whose fragments hold only whitelisted SQL and $n placeholders."""
        self.calls[name] += 1
        sql = self.queries[name]
        for hole, fragment in fragments.items():
            sql = sql.replace("{" + hole + "}", fragment)
        try:
            check_plain_args(args, f"an argument of {name}")
            try:
                return await self.pool.fetch(sql, *args)
            except asyncpg.DataError as err:
                if isinstance(err.__cause__, InvalidStringError):
                    raise err.__cause__ from None
                raise
        except InvalidStringError as err:
            raise self.refuse_invalid(str(err)) from None

    async def execute_raw(self, sql: str, *args: Any) -> str:
        """For tests and tools only: a statement that is not part of the engine."""
        return await self.pool.execute(sql, *args)

    # ----------------------------------------------------------------- listening

    def hint(self, kind: str, subject: str) -> str:
        """What a notification about ``subject`` carries after its kind letter (see
        notify() in schema 0001): an opaque digest only holders of the secret can
        compute, so a notification reveals nothing and is only ever a hint."""
        return self._hint_key.hint(kind, subject)

    async def listener(self) -> _Listener:
        if self._listener is not None:
            return self._listener
        async with self._listener_lock:
            if self._listener is None:
                listener = (
                    _SilentListener(self.listen_dsn, self.channel, self.ssl)
                    if self.pooler.poll_only
                    else _Listener(self.listen_dsn, self.channel, self.ssl)
                )
                await listener.start()
                self._listener = listener
            return self._listener


def _drop(conn: Any) -> None:
    """Close a pooled connection whose server went away. When asyncpg noticed the
    loss first it has already handed the connection back to the pool and detached
    the proxy, so there is nothing left to close."""
    try:
        conn.terminate()
    except asyncpg.InterfaceError:
        pass


class _Listener:
    """One LISTEN connection; dispatches notifications by their kind letter.

    Subscribers register a callback per kind ('w', 'a', 'c', 't'); callbacks run on the
    event loop and must not block. When the connection drops, it reconnects and calls
    every kind's callback with None so subscribers re-check the database (nothing
    notified while it was down is lost: the rows are still there).
    """

    def __init__(self, dsn: str, channel: str, ssl: Any = None) -> None:
        self._dsn = dsn
        self._ssl = ssl
        self._channel = channel
        self._conn: asyncpg.Connection | None = None
        self._subscribers: dict[str, list[Callable[[str | None], None]]] = collections.defaultdict(
            list
        )
        self._closed = False
        self._reconnect_task: asyncio.Task | None = None

    async def start(self) -> None:
        self._conn = await asyncpg.connect(
            self._dsn, ssl=self._ssl, server_settings=connection_settings(self._dsn)
        )
        self._conn.add_termination_listener(self._on_termination)
        await self._conn.add_listener(self._channel, self._on_notify)

    def subscribe(self, kind: str, callback: Callable[[str | None], None]) -> None:
        self._subscribers[kind].append(callback)

    def unsubscribe(self, kind: str, callback: Callable[[str | None], None]) -> None:
        try:
            self._subscribers[kind].remove(callback)
        except ValueError:
            pass

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        kind, _, body = payload.partition("|")
        for callback in list(self._subscribers.get(kind, ())):
            try:
                callback(body)
            except Exception:  # a subscriber's bug must not stop the others
                logger.exception("notification subscriber failed")

    @property
    def connected(self) -> bool:
        """LISTENing now (not between a lost connection and its replacement)."""
        return (
            self._conn is not None and not self._conn.is_closed() and self._reconnect_task is None
        )

    def _on_termination(self, _conn: Any) -> None:
        if not self._closed and self._reconnect_task is None:
            self._reconnect_task = asyncio.get_event_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.1
        while not self._closed:
            try:
                await self.start()
                break
            except Exception as err:
                logger.warning("LISTEN connection lost, retrying in %.1fs: %s", delay, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._reconnect_task = None
        for callbacks in list(self._subscribers.values()):
            for callback in list(callbacks):
                callback(None)

    async def close(self) -> None:
        self._closed = True
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()


class _SilentListener(_Listener):
    """Poll-only mode (a pooler and no direct connection): LISTEN cannot work through a
    transaction-mode pooler, so nothing is ever announced; subscribers keep their
    callbacks and find work by their fallback re-reads (``fallback_poll_seconds``)."""

    async def start(self) -> None:
        return None

    @property
    def connected(self) -> bool:
        return False

    async def close(self) -> None:
        self._closed = True
