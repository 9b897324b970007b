"""A full database and a retention pass under load.

    python -m bench.retention_bench                    # 1,000,000 closed runs
    python -m bench.retention_bench --runs 100000      # a quicker look
    python -m bench.retention_bench --dsn postgresql://...

1. On an empty schema: one-activity latency (sequential runs: median, p99) and the
   500 x 3-activity throughput.
2. Fill ``--runs`` closed runs (default 1,000,000) directly in SQL, spread over the ten
   days before today, each with ``--events`` history events (default 5), in their days'
   partitions; then the same two measurements.
3. Lower the namespace's retention so every filled run is expired, and run the
   fleet's retention (partition drops, then the row-by-row purge) while the latency
   workload runs: latency p99 before, during and after the pass, and how long it took.

It prints figures and never asserts timings.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
import uuid
from datetime import timedelta

import asyncpg

from bench import workloads as w
from bench.pgcluster import TempCluster
from bench.stats import percentile
from hotmesh_temporal._engine.service import namespaces as ns
from hotmesh_temporal._engine.store.dsn import quote_ident, split_schema, with_schema
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

FILL_SQL = """
INSERT INTO {s}.executions (run_id, namespace, workflow_id, first_execution_run_id,
        workflow_type, task_queue, status, start_time, execution_time, close_time,
        result, next_event_id)
SELECT r.id, 'default', 'filled-' || g, r.id, 'OneActivityWorkflow', 'filled', 2,
       r.started, r.started, r.started + interval '1 second', '[]'::jsonb, $3 + 1
  FROM generate_series($1::bigint, $2::bigint) g,
       LATERAL (SELECT gen_random_uuid() AS id,
                       {s}.now() - interval '10 days' + (g % 864000) * interval '1 second'
                           AS started) r;
"""

FILL_HISTORY_SQL = """
INSERT INTO {s}.history_events (run_id, event_id, event_type, event_time, attributes, run_started)
SELECT e.run_id, n, CASE n WHEN 1 THEN 'WorkflowExecutionStarted'
                           WHEN $1 THEN 'WorkflowExecutionCompleted'
                           ELSE 'WorkflowTaskCompleted' END,
       e.start_time, '{{}}'::jsonb, e.start_time
  FROM {s}.executions e, generate_series(1, $1) n
 WHERE e.task_queue = 'filled' AND e.workflow_id >= $2 AND e.workflow_id < $3;
"""


async def latency(client: Client, queue: str, runs: int = 100) -> list[float]:
    samples = []
    for i in range(runs):
        t0 = time.perf_counter()
        await client.execute_workflow(
            w.OneActivityWorkflow.run, i, id=f"lat-{uuid.uuid4()}", task_queue=queue
        )
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def throughput(client: Client, queue: str, n: int = 500) -> float:
    t0 = time.perf_counter()
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                w.SequentialActivitiesWorkflow.run, 3, id=f"tp-{uuid.uuid4()}", task_queue=queue
            )
            for _ in range(n)
        )
    )
    await asyncio.gather(*(h.result() for h in handles))
    return n / (time.perf_counter() - t0)


def show(label: str, samples: list[float]) -> None:
    print(
        f"  {label:<34} median {percentile(samples, 50):6.2f} ms,"
        f" p99 {percentile(samples, 99):7.2f} ms  ({len(samples)} runs)"
    )


async def fill(admin: asyncpg.Connection, schema: str, runs: int, events: int) -> float:
    s = quote_ident(schema)
    t0 = time.perf_counter()
    # The ten days' partitions first, so the rows land where retention can drop them.
    await admin.execute(
        f"SELECT {s}.make_history_partition({s}.history_partition_name(d::date),"
        " d, d + interval '1 day')"
        f" FROM generate_series(date_trunc('day', {s}.now() AT TIME ZONE 'UTC') - interval '11 days',"
        f" date_trunc('day', {s}.now() AT TIME ZONE 'UTC') - interval '1 day', interval '1 day') d"
    )
    chunk = 100_000
    for start in range(0, runs, chunk):
        end = min(start + chunk, runs) - 1
        await admin.execute(FILL_SQL.format(s=s), start, end, events)
        print(f"    {end + 1} runs", flush=True)
    await admin.execute(f"ANALYZE {s}.executions")
    # History by workflow id ranges (text order), a chunk at a time.
    bounds = sorted(
        r[0]
        for r in await admin.fetch(
            f"SELECT workflow_id FROM {s}.executions WHERE task_queue = 'filled'"
            " AND (substr(workflow_id, 8)::bigint % 100000) = 0"
        )
    )
    edges = ["filled-"] + bounds + ["filled-~"]
    for lo, hi in zip(edges, edges[1:], strict=False):
        await admin.execute(FILL_HISTORY_SQL.format(s=s), events, lo, hi)
    await admin.execute(f"ANALYZE {s}.history_events")
    return time.perf_counter() - t0


async def run(base: str, runs: int, events: int) -> None:
    schema = f"hm_ret_{secrets.token_hex(4)}"
    client = await Client.connect(with_schema(base, schema))
    admin = await asyncpg.connect(base)
    store = (await client._engine()).store
    queue = f"retb-{uuid.uuid4().hex[:8]}"
    # The workers' own purge turn would race the measured pass: give it one turn now
    # (nothing to do yet) and none for a day. Retention minimum lowered to allow 1 day.
    await ns.set_retention_limits(
        store, min_retention=timedelta(seconds=1), purge_every=timedelta(days=1)
    )
    try:
        async with Worker(client, task_queue=queue, workflows=w.WORKFLOWS, activities=w.ACTIVITIES):
            print("\n== 1. empty schema")
            await latency(client, queue, 20)  # warm-up
            show("one-activity latency", await latency(client, queue))
            print(
                f"  500 x 3 throughput                 {await throughput(client, queue):6.0f} workflows/s"
            )

            print(f"\n== 2. filling {runs} closed runs x {events} history events")
            seconds = await fill(admin, schema, runs, events)
            size = await admin.fetchval(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
                schema,
            )
            print(f"  filled in {seconds:.0f} s; schema size {size}")
            show("one-activity latency", await latency(client, queue))
            print(
                f"  500 x 3 throughput                 {await throughput(client, queue):6.0f} workflows/s"
            )

            print("\n== 3. retention pass while the latency workload runs")
            await ns.upsert_namespace(store, "default", retention=timedelta(days=1))
            before = await latency(client, queue)
            done = asyncio.Event()
            during: list[float] = []

            async def load() -> None:
                while not done.is_set():
                    during.extend(await latency(client, queue, 10))

            loading = asyncio.ensure_future(load())
            t0 = time.perf_counter()
            changes = await ns.maintain_partitions(store)
            dropped_at = time.perf_counter() - t0
            deleted = 0
            while True:
                batch = await ns.purge_expired(store, max_batches=1)
                deleted += batch
                if batch < ns.PURGE_BATCH:
                    break
            took = time.perf_counter() - t0
            done.set()
            await loading
            after = await latency(client, queue)
            print(
                f"  partitions dropped: {changes.dropped} in {dropped_at:.2f} s; then"
                f" {deleted} runs deleted row by row; {took:.1f} s in all"
            )
            show("latency before", before)
            show("latency during", during)
            show("latency after", after)
    finally:
        await client.service_client.close()
        await admin.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--dsn")
    args = parser.parse_args()
    cluster = None
    try:
        if args.dsn:
            base = split_schema(args.dsn)[0]
        else:
            cluster = TempCluster()
            cluster.start()
            base = cluster.dsn
        asyncio.run(run(base, args.runs, args.events))
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
