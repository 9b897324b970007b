"""The web UI's response times over a big database (see README.md, "UI").

    python -m bench.ui_bench                       # 100,000 runs, a 10,000-event history
    python -m bench.ui_bench --runs 5000 --events 2000      # a quick check
    python -m bench.ui_bench --dsn postgresql://u@host/db

Fills a fresh schema through the public client API: ``--runs`` workflow starts (many
at once over the client's pool; no worker, so they stay Running, and one in ten is
terminated so the status counts have two groups), plus one run whose history has about
``--events`` events (a workflow running activities in concurrent batches). Then it
serves ``hotmesh-temporal ui`` on the schema and times HTTP requests to the runs list
(first page, a filtered page, the second page) and to the big run's page. It prints
median and p95 of each next to its target; it never asserts. The schema is dropped at
the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from urllib.parse import quote

import asyncpg

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/test"
LIST_TARGET_MS = 200
RUN_PAGE_TARGET_MS = 1000
STARTS_AT_ONCE = 64


@activity.defn
async def step(i: int) -> int:
    return i


@workflow.defn
class BigHistory:
    """About three events per activity (scheduled, started, completed), in batches."""

    @workflow.run
    async def run(self, activities: int) -> int:
        done = 0
        while done < activities:
            batch = min(200, activities - done)
            await asyncio.gather(
                *[
                    workflow.execute_activity(step, done + i, start_to_close_timeout=timedelta(30))
                    for i in range(batch)
                ]
            )
            done += batch
        return done


@workflow.defn
class Idle:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def fill_runs(client: Client, count: int) -> float:
    """Start ``count`` Idle runs (no worker polls their queue); terminate one in ten."""
    started = time.perf_counter()
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def starter() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            handle = await client.start_workflow(
                "Idle", id=f"bench-{i:06}", task_queue="bench-idle"
            )
            if i % 10 == 0:
                await handle.terminate(reason="bench")
            if i and i % 10000 == 0:
                print(f"  {i} runs started ({time.perf_counter() - started:.0f} s)", flush=True)

    await asyncio.gather(*[starter() for _ in range(STARTS_AT_ONCE)])
    return time.perf_counter() - started


async def fill_big_history(client: Client, events: int) -> tuple[str, int, float]:
    started = time.perf_counter()
    async with Worker(
        client,
        task_queue="bench-big",
        workflows=[BigHistory],
        activities=[step],
        max_concurrent_activities=200,
    ):
        handle = await client.start_workflow(
            BigHistory.run, events // 3, id="bench-big-history", task_queue="bench-big"
        )
        await handle.result()
    length = (await handle.describe()).history_length
    return handle.id, length, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_get(url: str, tries: int) -> list[float]:
    times = []
    for _ in range(tries):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{url}: HTTP {response.status}")
        times.append((time.perf_counter() - t0) * 1000)
    return times


def report(name: str, times: list[float], target_ms: float) -> None:
    median = statistics.median(times)
    p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
    verdict = "MET" if median < target_ms else "NOT MET"
    print(
        f"  {name:<44} median {median:7.1f} ms  p95 {p95:7.1f} ms  "
        f"(target < {target_ms} ms: {verdict})"
    )


def measure(dsn: str, big_id: str, tries: int) -> None:
    port = free_port()
    ui = subprocess.Popen(
        [sys.executable, "-m", "hotmesh_temporal", "ui", "--dsn", dsn, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/namespaces/default"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/schedules").read()
                break
            except OSError:
                time.sleep(0.05)
        timed_get(base + "/workflows", 3)  # warm up: pool, templates
        with urllib.request.urlopen(base + "/workflows") as r:
            page = r.read().decode()
        token = page.split('id="next" href="')[1].split('"')[0].replace("&amp;", "&")
        print("UI response times (HTTP, server and browser on this machine):")
        report(
            "runs list, first page (50 of all runs)",
            timed_get(base + "/workflows", tries),
            LIST_TARGET_MS,
        )
        report(
            "runs list, second page",
            timed_get(f"http://127.0.0.1:{port}{token}", tries),
            LIST_TARGET_MS,
        )
        filtered = base + "/workflows?query=" + quote("ExecutionStatus = 'Terminated'")
        report(
            "runs list, ExecutionStatus = 'Terminated'", timed_get(filtered, tries), LIST_TARGET_MS
        )
        by_type = base + "/workflows?query=" + quote("WorkflowType = 'BigHistory'")
        report("runs list, WorkflowType = 'BigHistory'", timed_get(by_type, tries), LIST_TARGET_MS)
        run_page = base + "/workflow?id=" + quote(big_id)
        report(
            "run page, big history (first 250 events)",
            timed_get(run_page, max(5, tries // 2)),
            RUN_PAGE_TARGET_MS,
        )
        with urllib.request.urlopen(run_page) as r:
            page = r.read().decode()
        later = page.split('id="next-events" href="')[1].split('"')[0].replace("&amp;", "&")
        report(
            "run page, big history, next 250 events",
            timed_get(f"http://127.0.0.1:{port}{later}", max(5, tries // 2)),
            RUN_PAGE_TARGET_MS,
        )
    finally:
        ui.terminate()
        ui.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("HOTMESH_BENCH_DSN", LOCAL_DSN))
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the schema")
    args = parser.parse_args()

    schema = f"hm_uibench_{secrets.token_hex(4)}"
    sep = "&" if "?" in args.dsn else "?"
    dsn = f"{args.dsn}{sep}schema={schema}"
    client = await Client.connect(dsn)
    try:
        print(f"schema {schema}: starting {args.runs} runs...", flush=True)
        seconds = await fill_runs(client, args.runs)
        print(f"  {args.runs} runs in {seconds:.1f} s ({args.runs / seconds:.0f} starts/s)")
        big_id, length, seconds = await fill_big_history(client, args.events)
        print(f"  {big_id}: {length} events in {seconds:.1f} s")
        # Fresh planner statistics, as autovacuum gathers them soon after a bulk load.
        conn = await asyncpg.connect(args.dsn)
        try:
            await conn.execute(f'ANALYZE "{schema}".executions, "{schema}".history_events')
        finally:
            await conn.close()
        await asyncio.to_thread(measure, dsn, big_id, args.tries)
    finally:
        await client.service_client.close()
        if not args.keep:
            conn = await asyncpg.connect(args.dsn)
            try:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
