"""Timer lateness alone: bench.run's section 3, repeated, for comparing versions.

Each round starts N workflows at once, each doing ``workflow.sleep(1)`` (the workload of
``bench.run``'s timer section), and reads from history when each timer was due
(TimerStarted + 1 s), when TimerFired was appended, and when the workflow task that
delivered it started (workflow.now() after the sleep). The host is shared, so compare
versions by interleaving runs and reading the medians of the rounds:

    python -m bench.timer_bench                         # this checkout
    cd /tmp && PYTHONPATH=/path/to/old python /path/to/this/bench/timer_bench.py --label old

The hotmesh_temporal package imported is whichever comes first on sys.path, so
PYTHONPATH selects the version under test; the workload is bench/workloads.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import uuid

import asyncpg

if __package__ in (None, ""):
    # Run as a file with another checkout first on PYTHONPATH (see bench/profile.py).
    import workloads as w  # type: ignore[import-not-found]
    from pgcluster import TempCluster  # type: ignore[import-not-found]
    from stats import percentile  # type: ignore[import-not-found]
else:
    from bench import workloads as w
    from bench.pgcluster import TempCluster
    from bench.stats import percentile


async def _round(client: object, admin: asyncpg.Connection, queue: str, count: int) -> tuple:
    """One burst: (resumed lateness ms, TimerFired lateness ms) per workflow."""

    async def one(_: int) -> tuple:
        handle = await client.start_workflow(  # type: ignore[attr-defined]
            w.TimerWorkflow.run, 1.0, id=f"t-{uuid.uuid4().hex}", task_queue=queue
        )
        return handle, await handle.result()

    resumed: list[float] = []
    fired: list[float] = []
    for handle, (_before, after) in await asyncio.gather(*(one(i) for i in range(count))):
        rows = await admin.fetch(
            "SELECT event_type, extract(epoch FROM event_time)::float8 AS t FROM history_events"
            " WHERE run_id = $1 AND event_type IN ('TimerStarted', 'TimerFired')",
            uuid.UUID(handle.result_run_id or handle.run_id),
        )
        times = {r["event_type"]: r["t"] for r in rows}
        due = times["TimerStarted"] + 1.0
        resumed.append((after - due) * 1000)
        fired.append((times["TimerFired"] - due) * 1000)
    return resumed, fired


async def measure(dsn: str, args: argparse.Namespace) -> None:
    from hotmesh_temporal._engine.store.dsn import with_schema
    from hotmesh_temporal.client import Client
    from hotmesh_temporal.worker import Worker

    schema = f"hm_timers_{uuid.uuid4().hex[:8]}"
    client = await Client.connect(with_schema(dsn, schema))
    admin = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    queue = f"timers-{uuid.uuid4().hex[:8]}"
    medians: list[float] = []
    all_resumed: list[float] = []
    all_fired: list[float] = []
    async with Worker(client, task_queue=queue, workflows=w.WORKFLOWS, activities=w.ACTIVITIES):
        for i in range(args.warmup):  # warm the worker's pools and plans
            await client.execute_workflow(
                w.OneActivityWorkflow.run, i, id=f"t-{uuid.uuid4().hex}", task_queue=queue
            )
        for _ in range(args.rounds):
            resumed, fired = await _round(client, admin, queue, args.workflows)
            medians.append(percentile(resumed, 50))
            all_resumed += resumed
            all_fired += fired
            await asyncio.sleep(0.2)
    await client.service_client.close()  # type: ignore[attr-defined]
    await admin.execute(f"DROP SCHEMA {schema} CASCADE")
    await admin.close()
    print(
        f"{args.label}: {args.rounds} rounds of {args.workflows} x sleep(1) | resumed median "
        f"{percentile(all_resumed, 50):.1f} ms, p95 {percentile(all_resumed, 95):.1f}, max "
        f"{max(all_resumed):.1f} | TimerFired median {percentile(all_fired, 50):.1f} ms, p95 "
        f"{percentile(all_fired, 95):.1f}, min {min(all_fired):.1f} | median of round "
        f"medians {statistics.median(medians):.1f} ms "
        f"({', '.join(f'{m:.0f}' for m in medians)})",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--workflows", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--dsn", help="an existing database (default: a throwaway cluster)")
    args = parser.parse_args(argv)
    if args.dsn:
        asyncio.run(measure(args.dsn, args))
        return 0
    cluster = TempCluster()
    try:
        cluster.start()
        asyncio.run(measure(cluster.dsn, args))
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
