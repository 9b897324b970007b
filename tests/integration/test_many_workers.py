"""Many worker processes on one task queue, working off a backlog.

Four worker processes (``crash_app.py``) start after 120 two-step workflows are already
queued. Every step must run exactly once (SKIP LOCKED claims never hand one task to
two workers), the work must be shared, and no process may hold more connections
than its budget: a pool of at most 10, plus one LISTEN connection and one wake-up
sender (docs/operations.md, "Connections"). ``bench/many_workers.py`` runs the same
shape at scale (8 processes, a 100,000-workflow backlog) and prints throughput and
claim latency.
"""

from __future__ import annotations

import asyncio
import collections
import uuid

import asyncpg
import pytest

from hotmesh_temporal._engine.store.dsn import split_schema
from tests.integration.test_crash import _await_ready, _launch, _prepare_runs_table, _runs

PROCESSES = 4
WORKFLOWS = 120
CONNECTION_BUDGET = 12  # pool max 10 + LISTEN + wake-up sender


async def _sample_connections(base_dsn: str, pids: set[int], stop: asyncio.Event) -> dict:
    """The most connections each worker process held at once, sampled every 50 ms from
    pg_stat_activity by the application_name the engine gives its connections."""
    names = {f"hotmesh_temporal[{pid}]": pid for pid in pids}
    peak: dict[int, int] = collections.defaultdict(int)
    conn = await asyncpg.connect(base_dsn)
    try:
        while True:  # one last sample after stop, while the workers still run
            done = stop.is_set()
            rows = await conn.fetch(
                "SELECT application_name, count(*) AS n FROM pg_stat_activity"
                " WHERE application_name = ANY($1::text[]) GROUP BY application_name",
                list(names),
            )
            for row in rows:
                pid = names[row["application_name"]]
                peak[pid] = max(peak[pid], row["n"])
            if done:
                break
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return dict(peak)


@pytest.mark.slow
async def test_worker_processes_share_a_backlog_exactly_once(client, dsn):
    await _prepare_runs_table(dsn)
    base, _ = split_schema(dsn)
    task_queue = f"fleet-{uuid.uuid4()}"
    prefix = f"fleet-{uuid.uuid4().hex[:8]}-"
    # The backlog first: every workflow is queued before any worker of the queue runs.
    handles = [
        await client.start_workflow("CrashWorkflow", 2, id=f"{prefix}{i}", task_queue=task_queue)
        for i in range(WORKFLOWS)
    ]
    # All processes start at once, and each runs at most a few activities at a time, so
    # that one process cannot drain the whole backlog before the others are up (one
    # did, on a fast CI run, when they were started one after another).
    workers = [_launch(dsn, task_queue, CRASH_MAX_ACTIVITIES="8") for _ in range(PROCESSES)]
    stop = asyncio.Event()
    sampling = asyncio.ensure_future(_sample_connections(base, {w.pid for w in workers}, stop))
    try:
        for proc in workers:
            _await_ready(proc)
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), 120)
    finally:
        stop.set()
        peak = await sampling
        for proc in workers:
            proc.terminate()
            proc.wait()
    assert results == [10] * WORKFLOWS
    rows = await _runs(dsn, prefix)
    # No attempt of a step ran twice: a task is never claimed by two workers. (An
    # attempt that outlived its 2 s start-to-close timeout on a loaded machine is
    # retried as attempt 2 -- that is Temporal's retry, not a double claim.)
    attempts = collections.Counter((r["workflow_id"], r["step"], r["attempt"]) for r in rows)
    assert {(w, s) for w, s, _ in attempts} == {
        (f"{prefix}{i}", step) for i in range(WORKFLOWS) for step in range(2)
    }
    doubled = [key for key, n in attempts.items() if n > 1]
    assert not doubled, f"attempts claimed twice: {doubled[:5]}"
    # The work was shared (a worker claims up to its free slots at once, so the first
    # ones may take more than their share), and no process went over its connection
    # budget.
    assert len({r["pid"] for r in rows}) >= 2
    assert set(peak) == {w.pid for w in workers}
    print(f"peak connections per worker process: {sorted(peak.values())}")
    assert max(peak.values()) <= CONNECTION_BUDGET
