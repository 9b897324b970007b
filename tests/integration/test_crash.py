"""Crash safety and scale-out with real worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from hotmesh_temporal._engine.store.dsn import split_schema

APP = Path(__file__).with_name("crash_app.py")


async def _prepare_runs_table(dsn: str) -> None:
    base, schema = split_schema(dsn)
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".crash_runs '
            "(workflow_id text, step int, attempt int, pid int)"
        )
    finally:
        await conn.close()


def _spawn(dsn: str, task_queue: str, **env_extra: str) -> subprocess.Popen:
    proc = _launch(dsn, task_queue, **env_extra)
    _await_ready(proc)
    return proc


def _launch(dsn: str, task_queue: str, **env_extra: str) -> subprocess.Popen:
    """Start a worker process without waiting for it: several can start at once."""
    base, schema = split_schema(dsn)
    env = dict(os.environ, CRASH_BASE_DSN=base, CRASH_SCHEMA=f'"{schema}"', **env_extra)
    # stderr goes to a file (a pipe nobody reads could fill up and stall the worker);
    # it is shown when the worker does not come up.
    errors = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [sys.executable, str(APP), dsn, task_queue],
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    proc.errors_file = errors  # type: ignore[attr-defined]
    return proc


def _await_ready(proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "worker ready":
        proc.wait(10)
        errors = proc.errors_file  # type: ignore[attr-defined]
        errors.seek(0)
        raise AssertionError(f"worker process did not start:\n{errors.read()[-3000:]}")


async def _runs(dsn: str, prefix: str) -> list:
    base, schema = split_schema(dsn)
    conn = await asyncpg.connect(base)
    try:
        return await conn.fetch(
            f'SELECT workflow_id, step, attempt, pid FROM "{schema}".crash_runs WHERE workflow_id LIKE $1',
            prefix + "%",
        )
    finally:
        await conn.close()


async def _completed_attempts(client, handle) -> dict:
    """step -> attempt that completed, read from the run's history."""
    store = (await client._engine()).store
    events = await store.fetchval("events_after", uuid.UUID(handle.result_run_id), 0)
    scheduled = {}
    started_attempt = {}
    done = {}
    for ev in events:
        if ev["type"] == "ActivityTaskScheduled":
            scheduled[ev["id"]] = len(scheduled)
        elif ev["type"] == "ActivityTaskStarted":
            started_attempt[int(ev["attrs"]["scheduledEventId"])] = ev["attrs"]["attempt"]
        elif ev["type"] == "ActivityTaskCompleted":
            sched = int(ev["attrs"]["scheduledEventId"])
            done[scheduled[sched]] = started_attempt[sched]
    return done


@pytest.mark.slow
async def test_sigkill_mid_run_loses_nothing(client, dsn):
    await _prepare_runs_table(dsn)
    task_queue = f"crash-{uuid.uuid4()}"
    prefix = f"crash-{uuid.uuid4().hex[:8]}-"
    first = _spawn(dsn, task_queue)
    try:
        handles = [
            await client.start_workflow(
                "CrashWorkflow",
                3,
                id=f"{prefix}{i}",
                task_queue=task_queue,
                task_timeout=timedelta(seconds=2),
            )
            for i in range(50)
        ]
        # Let it get going: some workflows done, many mid-activity or mid-timer.
        for _ in range(100):
            if len(await _runs(dsn, prefix)) >= 40:
                break
            await asyncio.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed_pid = first.pid
    before = await _runs(dsn, prefix)
    assert 0 < len(before) < 150, "the kill should land mid-run"

    second = _spawn(dsn, task_queue)
    try:
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), 60)
    finally:
        second.terminate()
        second.wait()
    assert results == [0 + 10 + 20] * 50

    rows = await _runs(dsn, prefix)
    by_step: dict = {}
    for row in rows:
        by_step.setdefault((row["workflow_id"], row["step"]), []).append(row)
    assert len(by_step) == 150
    for handle in handles:
        completed = await _completed_attempts(client, handle)
        assert sorted(completed) == [0, 1, 2]
        for step, attempt in completed.items():
            executions = by_step[(handle.id, step)]
            attempts = [r["attempt"] for r in executions]
            # every execution of a step is a distinct attempt, and none ran after
            # the attempt that completed it
            assert len(attempts) == len(set(attempts)), (handle.id, step, executions)
            assert max(attempts) == attempt, (handle.id, step, executions, attempt)
    assert any(r["pid"] == second.pid for r in rows)
    assert any(r["pid"] == killed_pid for r in rows)


@pytest.mark.slow
async def test_two_worker_processes_share_a_task_queue(client, dsn):
    await _prepare_runs_table(dsn)
    task_queue = f"shared-{uuid.uuid4()}"
    prefix = f"shared-{uuid.uuid4().hex[:8]}-"
    workers = [_spawn(dsn, task_queue), _spawn(dsn, task_queue)]
    try:
        handles = [
            await client.start_workflow(
                "CrashWorkflow", 2, id=f"{prefix}{i}", task_queue=task_queue
            )
            for i in range(30)
        ]
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), 60)
    finally:
        for proc in workers:
            proc.terminate()
            proc.wait()
    assert results == [10] * 30
    rows = await _runs(dsn, prefix)
    assert len(rows) == 60  # every step exactly once: nobody crashed
    pids = {r["pid"] for r in rows}
    assert pids == {workers[0].pid, workers[1].pid}
