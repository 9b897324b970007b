"""Many worker processes on one task queue, draining a backlog.

    python -m bench.many_workers                       # 20,000 workflows, 1 then 8 processes
    python -m bench.many_workers --workflows 100000    # the issue's size (takes minutes)
    python -m bench.many_workers --dsn postgresql://...  # an existing database

For each fleet size (1 process, then N), the bench queues the whole backlog of
one-activity workflows first (no worker runs the queue meanwhile), then starts the
worker processes and waits until every workflow has completed. It prints:

- drain throughput (workflows/s from the first worker's start to the last result);
- the peak connections each worker process held (pg_stat_activity, by the
  ``hotmesh_temporal[<pid>]`` application name the engine gives its connections);
- claim statement latency on the server (pg_stat_statements: mean, stddev, max per
  call; pg_stat_statements keeps no percentiles, so the p99 is estimated as mean +
  2.33 stddev);
- exactly-once: activity executions recorded by the activity itself (a row per
  execution) against the workflows that completed: a task claimed twice would show up
  as a second row for the same attempt.

It prints figures and never asserts timings.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import asyncpg

from bench.pgcluster import TempCluster
from hotmesh_temporal._engine.store.dsn import quote_ident, split_schema, with_schema
from hotmesh_temporal.client import Client

WORKER_SOURCE = """
import asyncio, os, sys
from datetime import timedelta
import asyncpg
from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

TABLE = os.environ["FLEET_TABLE"]
BASE = os.environ["FLEET_BASE_DSN"]
pool = None

@activity.defn
async def fleet_step(value: int) -> int:
    info = activity.info()
    await pool.execute(f"INSERT INTO {TABLE} VALUES ($1, $2, $3)", info.workflow_id,
                       info.attempt, os.getpid())
    return value

@workflow.defn
class FleetWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        return await workflow.execute_activity(
            fleet_step, value, start_to_close_timeout=timedelta(seconds=60))

async def main(dsn, queue):
    global pool
    pool = await asyncpg.create_pool(BASE, min_size=1, max_size=4,
                                     server_settings={"application_name": "fleet-recorder"})
    client = await Client.connect(dsn)
    print("ready", flush=True)
    await Worker(client, task_queue=queue, workflows=[FleetWorkflow],
                 activities=[fleet_step]).run()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@dataclass
class Outcome:
    processes: int
    workflows: int
    fill_seconds: float
    drain_seconds: float
    peak_connections: list[int]
    claim_stats: dict[str, tuple[int, float, float, float]]  # calls, mean, stddev, max ms
    executions: int
    doubled: int


async def _fill(client: Client, queue: str, prefix: str, count: int) -> float:
    """Queue ``count`` workflows by type name (no worker of the queue runs yet)."""
    started = time.perf_counter()
    sem = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        async with sem:
            await client.start_workflow("FleetWorkflow", i, id=f"{prefix}{i}", task_queue=queue)

    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - started


async def _sample(base: str, pids: set[int], stop: asyncio.Event) -> dict[int, int]:
    names = {f"hotmesh_temporal[{pid}]": pid for pid in pids}
    peak: dict[int, int] = collections.defaultdict(int)
    conn = await asyncpg.connect(base)
    try:
        while not stop.is_set():
            for row in await conn.fetch(
                "SELECT application_name, count(*) AS n FROM pg_stat_activity"
                " WHERE application_name = ANY($1::text[]) GROUP BY 1",
                list(names),
            ):
                pid = names[row["application_name"]]
                peak[pid] = max(peak[pid], row["n"])
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return dict(peak)


async def _claim_stats(conn: asyncpg.Connection) -> dict[str, tuple[int, float, float, float]]:
    try:
        rows = await conn.fetch(
            "SELECT query, calls, mean_exec_time, stddev_exec_time, max_exec_time"
            "  FROM pg_stat_statements WHERE query LIKE '%claim_%_tasks%' AND toplevel"
        )
    except asyncpg.PostgresError:
        return {}
    out = {}
    for row in rows:
        kind = "workflow" if "claim_workflow_tasks" in row["query"] else "activity"
        out[kind] = (
            row["calls"],
            row["mean_exec_time"],
            row["stddev_exec_time"],
            row["max_exec_time"],
        )
    return out


async def run_fleet(base: str, processes: int, workflows: int) -> Outcome:
    schema = f"hm_fleet_{secrets.token_hex(4)}"
    dsn = with_schema(base, schema)
    queue = f"fleet-{uuid.uuid4().hex[:8]}"
    prefix = f"fleet-{uuid.uuid4().hex[:6]}-"
    client = await Client.connect(dsn)
    admin = await asyncpg.connect(base)
    table = f"{quote_ident(schema)}.fleet_runs"
    await admin.execute(f"CREATE TABLE {table} (workflow_id text, attempt int, pid int)")
    workers: list[subprocess.Popen] = []
    try:
        fill = await _fill(client, queue, prefix, workflows)
        with_pgss = True
        try:
            await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await admin.execute("SELECT pg_stat_statements_reset()")
        except asyncpg.PostgresError:
            with_pgss = False
        env = dict(os.environ, FLEET_TABLE=table, FLEET_BASE_DSN=base)
        t0 = time.perf_counter()
        for _ in range(processes):
            proc = subprocess.Popen(
                [sys.executable, "-c", WORKER_SOURCE, dsn, queue],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            workers.append(proc)
        stop = asyncio.Event()
        sampling = asyncio.ensure_future(_sample(base, {w.pid for w in workers}, stop))
        while True:  # completed runs, read in SQL: cheaper than awaiting 100,000 handles
            running = await admin.fetchval(
                f"SELECT count(*) FROM {quote_ident(schema)}.executions WHERE status = 1"
            )
            if running == 0:
                break
            await asyncio.sleep(0.2)
        drain = time.perf_counter() - t0
        stop.set()
        peak = await sampling
        claims = await _claim_stats(admin) if with_pgss else {}
        rows = await admin.fetch(f"SELECT workflow_id, attempt FROM {table}")
        attempts = collections.Counter((r["workflow_id"], r["attempt"]) for r in rows)
        return Outcome(
            processes,
            workflows,
            fill,
            drain,
            sorted(peak.values()),
            claims,
            len(rows),
            sum(1 for n in attempts.values() if n > 1),
        )
    finally:
        for proc in workers:
            proc.terminate()
            proc.wait()
        await client.service_client.close()
        await admin.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await admin.close()


def report(o: Outcome) -> None:
    print(f"\n== {o.processes} worker process(es), backlog of {o.workflows} one-activity workflows")
    print(
        f"  queued in                     {o.fill_seconds:8.1f} s ({o.workflows / o.fill_seconds:.0f}/s)"
    )
    print(f"  drained in                    {o.drain_seconds:8.1f} s")
    print(f"  drain throughput              {o.workflows / o.drain_seconds:8.0f} workflows/s")
    print(f"  peak connections per process  {o.peak_connections} (budget 12)")
    for kind, (calls, mean, std, top) in sorted(o.claim_stats.items()):
        print(
            f"  claim_{kind}_tasks            {calls:8d} calls, mean {mean:.2f} ms,"
            f" ~p99 {mean + 2.33 * std:.2f} ms, max {top:.2f} ms"
        )
    print(
        f"  activity executions           {o.executions} for {o.workflows} workflows;"
        f" attempts run twice: {o.doubled}"
    )


async def amain(args: argparse.Namespace) -> None:
    base = args.dsn
    outcomes = []
    for processes in (1, args.processes):
        outcome = await run_fleet(split_schema(base)[0], processes, args.workflows)
        report(outcome)
        outcomes.append(outcome)
    one, many = outcomes
    ratio = (many.workflows / many.drain_seconds) / (one.workflows / one.drain_seconds)
    print(f"\n  {args.processes} processes vs 1: {ratio:.2f}x the drain throughput")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workflows", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--dsn", help="an existing database (default: a throwaway cluster)")
    args = parser.parse_args()
    cluster = None
    try:
        if not args.dsn:
            cluster = TempCluster()
            cluster.start()
            args.dsn = cluster.dsn
        asyncio.run(amain(args))
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
