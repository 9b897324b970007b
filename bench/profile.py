"""Per-workflow cost profile of one code version, for comparing versions.

Runs N sequential one-activity workflows against a throwaway cluster and prints CPU per
workflow (bench process and Postgres server) and the statements Postgres spent its time
on, per workflow (pg_stat_statements with track=all, so statements inside the SQL
functions are listed too). CPU time, unlike wall time, holds up fairly well on a busy
machine, so two versions can be compared in one sitting:

    python -m bench.profile                            # this checkout
    cd /tmp && PYTHONPATH=/path/to/old python /path/to/this/bench/profile.py --label old
    python -m bench.profile --sql "DROP INDEX ..."     # a what-if on the schema

The hotmesh_temporal package imported is whichever comes first on sys.path, so
PYTHONPATH selects the version under test; the workload is bench/workloads.py.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
import uuid

import asyncpg

if __package__ in (None, ""):
    # Run as a file (python /path/to/bench/profile.py) with another checkout first on
    # PYTHONPATH: this file's own helpers, beside it (sys.path[0]), are the ones used.
    import workloads as w  # type: ignore[import-not-found]
    from pgcluster import TempCluster, server_cpu_seconds  # type: ignore[import-not-found]
    from stats import percentile  # type: ignore[import-not-found]
else:
    from bench import workloads as w
    from bench.pgcluster import TempCluster, server_cpu_seconds
    from bench.stats import percentile


def _short(sql: str, width: int) -> str:
    return re.sub(r"\s+", " ", sql).strip()[:width]


async def _statements(admin: asyncpg.Connection, per: int, top: int) -> list[str]:
    rows = await admin.fetch(
        "SELECT toplevel, calls, total_exec_time + total_plan_time AS ms, query"
        "  FROM pg_stat_statements"
        " WHERE query NOT ILIKE '%pg_stat_statements%'"
        " ORDER BY ms DESC LIMIT $1",
        top,
    )
    return [
        f"  {'top' if r['toplevel'] else '   '} {r['ms'] / per:7.3f} ms {r['calls'] / per:6.2f}x  "
        f"{_short(r['query'], 90)}"
        for r in rows
    ]


async def profile(dsn: str, data_dir: str, args: argparse.Namespace) -> None:
    from hotmesh_temporal.client import Client
    from hotmesh_temporal.worker import Worker

    client = await Client.connect(dsn)
    admin = await asyncpg.connect(dsn)
    await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    task_queue = f"profile-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=task_queue, workflows=w.WORKFLOWS, activities=w.ACTIVITIES
    ):
        for sql in args.sql or []:
            await admin.execute(sql)

        async def one(i: int) -> float:
            t0 = time.perf_counter()
            result = await client.execute_workflow(
                w.OneActivityWorkflow.run, i, id=f"p-{uuid.uuid4().hex}", task_queue=task_queue
            )
            assert result == i
            return (time.perf_counter() - t0) * 1000

        async def many(count: int) -> float:
            # The throughput workload: count 3-activity workflows started at once.
            t0 = time.perf_counter()
            handles = await asyncio.gather(
                *(
                    client.start_workflow(
                        w.SequentialActivitiesWorkflow.run,
                        3,
                        id=f"p-{uuid.uuid4().hex}",
                        task_queue=task_queue,
                    )
                    for _ in range(count)
                )
            )
            assert all(r == 3 for r in await asyncio.gather(*(h.result() for h in handles)))
            return time.perf_counter() - t0

        for i in range(args.warmup):
            await one(i)
        await asyncio.sleep(0.3)
        await admin.execute("SELECT pg_stat_statements_reset()")
        pg0, py0 = server_cpu_seconds(data_dir), time.process_time()
        if args.concurrent:
            elapsed = await many(args.concurrent)
            samples = [elapsed * 1000]
        else:
            samples = [await one(i) for i in range(args.runs)]
        pg1, py1 = server_cpu_seconds(data_dir), time.process_time()
        await asyncio.sleep(0.3)
        lines = await _statements(admin, args.concurrent or args.runs, args.top)
    await admin.close()
    if args.concurrent:
        n = args.concurrent
        print(
            f"{args.label}: {n} x 3 activities at once: {n / samples[0] * 1000:.0f} "
            f"workflows/s | CPU/wf bench {(py1 - py0) * 1000 / n:.2f} ms, "
            f"postgres {(pg1 - pg0) * 1000 / n:.2f} ms",
            flush=True,
        )
        if args.top:
            print("\n".join(lines))
        return
    n = args.runs
    print(
        f"{args.label}: latency median {percentile(samples, 50):.2f} ms p95 "
        f"{percentile(samples, 95):.2f} | CPU/wf bench {(py1 - py0) * 1000 / n:.2f} ms, "
        f"postgres {(pg1 - pg0) * 1000 / n:.2f} ms",
        flush=True,
    )
    if args.top:
        print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--top", type=int, default=25, help="statements to list (0: none)")
    parser.add_argument(
        "--concurrent",
        type=int,
        default=0,
        help="instead: this many 3-activity workflows at once (the throughput workload)",
    )
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--sql", action="append", help="run this SQL after the schema is made")
    args = parser.parse_args(argv)
    cluster = TempCluster({"pg_stat_statements.track": "all"})
    try:
        cluster.start()
        asyncio.run(profile(cluster.dsn, cluster.data_dir, args))
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
