"""Round-trip accounting: pg_stat_statements when the server has it, else the Store's
per-statement counters. Plus small helpers for percentiles and printing figures."""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# asyncpg's Pool sends this after every release of a connection (one simple-query
# message, so one round trip, that pg_stat_statements records as four statements).
POOL_RESET_PARTS = ("SELECT pg_advisory_unlock_all()", "CLOSE ALL", "UNLISTEN *", "RESET ALL")
POOL_RESET = "(asyncpg pool reset on release)"

# Statements the engine runs on its own schedule rather than for one workflow.
BACKGROUND = {
    "sweep": "sweeper",
    "claim_workflow_tasks": "poller",
    "claim_activity_tasks": "poller",
}


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _norm(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip().rstrip(";").strip()


@dataclass
class Breakdown:
    """Statements executed during one measured batch."""

    source: str  # "pg_stat_statements" or "Store.calls"
    # name -> (calls, total ms or None); top-level statements only
    top: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    # name -> rows returned or affected (pg_stat_statements only)
    rows: dict[str, int] = field(default_factory=dict)
    # statements run inside the SQL functions: text -> (calls, total ms)
    nested: list[tuple[str, int, float]] = field(default_factory=list)
    # rows inserted, updated or deleted, by statement kind, at any nesting level
    # (pg_stat_statements only; a statement's rows are its main statement's)
    written: dict[str, int] = field(default_factory=dict)

    def rows_written(self) -> int:
        return sum(self.written.values())

    def round_trips(self) -> int:
        return sum(calls for calls, _ in self.top.values())

    def calls(self, name: str) -> int:
        return self.top.get(name, (0, None))[0]

    def notifies(self) -> int:
        """Statements inside the SQL functions that send a NOTIFY (the schema's notify()
        is an inlined SQL function, so its callers are what pg_stat_statements sees)."""
        return sum(
            calls for text, calls, _ in self.nested if "pg_notify(" in text or ".notify(" in text
        )


class PgStatStatements:
    """Reads pg_stat_statements through the benchmark's own connection."""

    def __init__(self, conn: Any, queries: dict[str, str], has_toplevel: bool) -> None:
        self._conn = conn
        self._names = {_norm(sql): name for name, sql in queries.items()}
        self._has_toplevel = has_toplevel

    @staticmethod
    async def open(
        conn: Any, queries: dict[str, str], *, create: bool
    ) -> tuple[PgStatStatements | None, str]:
        """Return (reader, why-not). The reader is None when the view cannot be used."""
        preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
        if "pg_stat_statements" not in (preload or ""):
            return None, "pg_stat_statements is not in shared_preload_libraries"
        try:
            if create:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await conn.fetchval("SELECT count(*) FROM pg_stat_statements")
        except Exception as err:  # extension missing and not creatable, no permission...
            return None, f"pg_stat_statements unusable: {err}"
        has_toplevel = bool(
            await conn.fetchval(
                "SELECT count(*) FROM pg_attribute WHERE attrelid = 'pg_stat_statements'::regclass"
                " AND attname = 'toplevel'"
            )
        )
        return PgStatStatements(conn, queries, has_toplevel), ""

    async def reset(self) -> None:
        await self._conn.execute("SELECT pg_stat_statements_reset()")

    def name_of(self, sql: str) -> str:
        normalized = _norm(sql)
        if normalized in self._names:
            return self._names[normalized]
        return "other: " + normalized[:70]

    async def snapshot(self) -> Breakdown:
        toplevel = "toplevel" if self._has_toplevel else "true"
        rows = await self._conn.fetch(
            f"SELECT {toplevel} AS toplevel, calls, total_exec_time, rows, query"
            "  FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            "   AND query NOT ILIKE '%pg_stat_statements%'"
            "   AND query NOT ILIKE '%pg_stat_activity%'"
            "   AND query NOT ILIKE '%pg_locks%'"
        )
        out = Breakdown(source="pg_stat_statements")
        top: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
        nrows: dict[str, int] = collections.defaultdict(int)
        reset_calls = 0
        reset_ms = 0.0
        written: dict[str, int] = collections.defaultdict(int)
        for row in rows:
            verb = _write_verb(row["query"])
            if verb:
                written[verb] += row["rows"]
            if not row["toplevel"]:
                out.nested.append((_norm(row["query"]), row["calls"], row["total_exec_time"]))
                continue
            text = _norm(row["query"])
            if text in POOL_RESET_PARTS:
                reset_calls = max(reset_calls, row["calls"])
                reset_ms += row["total_exec_time"]
                continue
            name = self.name_of(text)
            entry = top[name]
            nrows[name] += row["rows"]
            entry[0] += row["calls"]
            entry[1] += row["total_exec_time"]
        if reset_calls:
            top[POOL_RESET] = [reset_calls, reset_ms]
        out.top = {name: (int(c), ms) for name, (c, ms) in top.items()}
        out.rows = dict(nrows)
        out.written = dict(written)
        out.nested.sort(key=lambda item: -item[2])
        return out


def _write_verb(sql: str) -> str | None:
    """INSERT / UPDATE / DELETE for a statement that writes rows, else None."""
    words = _norm(sql).split(" ", 1)
    verb = words[0].upper() if words else ""
    return verb if verb in ("INSERT", "UPDATE", "DELETE") else None


class WriteCounter:
    """Write transactions and WAL bytes between two marks, read at once (no waiting for
    the statistics collector): every transaction that writes gets a transaction id, and
    the WAL insert position only moves forwards."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._start: tuple[int, int] | None = None

    async def _read(self) -> tuple[int, int]:
        row = await self._conn.fetchrow(
            "SELECT txid_current() AS xid,"
            " pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint AS wal"
        )
        return int(row["xid"]), int(row["wal"])

    async def start(self) -> None:
        self._start = await self._read()

    async def stop(self) -> tuple[int, int]:
        """(write transactions, WAL bytes) since start, less this counter's own two."""
        assert self._start is not None
        xid, wal = await self._read()
        return xid - self._start[0] - 1, wal - self._start[1]


def store_breakdown(before: dict[str, int], after: dict[str, int]) -> Breakdown:
    out = Breakdown(source="Store.calls")
    for name, count in after.items():
        diff = count - before.get(name, 0)
        if diff:
            out.top[name] = (diff, None)
    return out


def print_breakdown(b: Breakdown, per: int, unit: str, indent: str = "    ") -> None:
    """One line per statement: total calls, calls per ``unit``, time and rows if known.

    For the claim statements, ``rows`` is the number of tasks claimed: rows < calls
    means some claims found nothing."""
    print(
        f"{indent}{'statement':<40} {'calls':>7} {'per ' + unit:>12} {'total ms':>9} {'ms/call':>8} {'rows':>7}  kind"
    )
    for name, (calls, ms) in sorted(b.top.items(), key=lambda kv: -kv[1][0]):
        kind = BACKGROUND.get(
            name,
            "pool" if name == POOL_RESET else ("" if not name.startswith("other") else "other"),
        )
        ms_txt = f"{ms:9.1f}" if ms is not None else f"{'-':>9}"
        per_call = f"{ms / calls:8.3f}" if ms is not None and calls else f"{'-':>8}"
        rows = f"{b.rows[name]:7d}" if name in b.rows and name != POOL_RESET else f"{'-':>7}"
        print(
            f"{indent}{name[:40]:<40} {calls:7d} {calls / per:12.2f} {ms_txt} {per_call} {rows}  {kind}"
        )
    print(f"{indent}{'TOTAL':<40} {b.round_trips():7d} {b.round_trips() / per:12.2f}")


class WaitSampler:
    """Samples what the engine's server backends are doing (pg_stat_activity) every few
    milliseconds, on a connection of its own, while a batch runs."""

    def __init__(self, conn: Any, interval: float = 0.02) -> None:
        self._conn = conn
        self._interval = interval
        self.samples = 0
        self.counts: collections.Counter = collections.Counter()
        self.lock_waits: collections.Counter = collections.Counter()

    async def run(self, stop: Any) -> None:
        import asyncio

        while not stop.is_set():
            rows = await self._conn.fetch(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                "   AND backend_type = 'client backend'"
            )
            self.samples += 1
            # Which locks they wait for: the NOTIFY queue lock shows up as an 'object'
            # lock on pg_database (taken at commit by every transaction that notified).
            waits = await self._conn.fetch(
                "SELECT locktype, classid::regclass::text AS cls, relation::regclass::text AS rel"
                "  FROM pg_locks WHERE NOT granted"
            )
            for row in waits:
                self.lock_waits[f"{row['locktype']} {row['cls'] or row['rel'] or ''}".strip()] += 1
            for row in rows:
                state = row["state"] or "?"
                if state == "active":
                    what = "active: " + (
                        f"{row['wait_event_type']}:{row['wait_event']}"
                        if row["wait_event_type"]
                        else "on CPU"
                    )
                else:
                    what = state  # idle, idle in transaction...
                self.counts[what] += 1
            await asyncio.sleep(self._interval)

    def print(self, indent: str = "    ") -> None:
        if not self.samples:
            return
        print(
            f"{indent}server backends by state, average over {self.samples} samples of pg_stat_activity:"
        )
        for what, count in self.counts.most_common(12):
            print(f"{indent}  {count / self.samples:6.2f}  {what}")
        if self.lock_waits:
            print(f"{indent}lock waits by lock (pg_locks, not granted), average per sample:")
            for what, count in self.lock_waits.most_common(6):
                print(f"{indent}  {count / self.samples:6.2f}  {what}")
