"""Crash safety: a worker process killed mid-graph. Another process finishes the graph;
the graph completes once, and no step that had completed runs again (only the step the
dead process was in the middle of runs a second time)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from hotmesh_temporal._engine.store.dsn import split_schema
from hotmesh_temporal.api.enums.v1 import EventType
from hotmesh_temporal.hotmesh import HotMesh

WORKER = Path(__file__).with_name("crash_worker.py")

GRAPH = """
app:
  id: {app}
  version: '1'
  graphs:
    - subscribes: crash.run
      activities:
        t1:
          type: trigger
        s1:
          type: worker
          topic: crash.s1
          timeout: 3
          input:
            maps:
              jid: '{{$job.metadata.jid}}'
        s2:
          type: worker
          topic: crash.s2
          timeout: 3
          retry:
            maximum_attempts: 5
            initial_interval: 0.1
          input:
            maps:
              jid: '{{$job.metadata.jid}}'
              total: '{{s1.output.data.total}}'
        s3:
          type: worker
          topic: crash.s3
          timeout: 3
          input:
            maps:
              jid: '{{$job.metadata.jid}}'
              total: '{{s2.output.data.total}}'
          job:
            maps:
              total: '{{$self.output.data.total}}'
      transitions:
        t1:
          - to: s1
        s1:
          - to: s2
        s2:
          - to: s3
"""


async def _sql(dsn: str, statement: str, *args):
    base, _ = split_schema(dsn)
    conn = await asyncpg.connect(base)
    try:
        return await conn.fetch(statement, *args)
    finally:
        await conn.close()


def _spawn(dsn: str, app_id: str, *extra: str) -> subprocess.Popen:
    base, schema = split_schema(dsn)
    env = dict(os.environ, CRASH_BASE_DSN=base, CRASH_SCHEMA=f'"{schema}"')
    errors = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), dsn, app_id, *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "worker ready":
        proc.wait(10)
        errors.seek(0)
        raise AssertionError(f"worker process did not start:\n{errors.read()[-3000:]}")
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
async def test_worker_killed_mid_graph(client, migrated_dsn):
    dsn = migrated_dsn
    _, schema = split_schema(dsn)
    await _sql(
        dsn, f'CREATE TABLE IF NOT EXISTS "{schema}".yaml_crash_runs (jid text, step int, pid int)'
    )
    app_id = f"crash{uuid.uuid4().hex[:8]}"
    hm = await HotMesh.init(app_id=app_id, engine=client, engine_worker=False)
    await hm.deploy(GRAPH.format(app=app_id))
    await hm.activate("1")

    doomed = _spawn(dsn, app_id, "hang")
    survivor = None
    try:
        jid = await hm.pub("crash.run", {})
        for _ in range(600):
            rows = await _sql(
                dsn, f'SELECT step FROM "{schema}".yaml_crash_runs WHERE jid = $1', jid
            )
            if 2 in [r["step"] for r in rows]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the first process never reached step 2")
        doomed.kill()  # SIGKILL in the middle of step 2
        doomed.wait(10)

        survivor = _spawn(dsn, app_id)
        result = await hm.result(jid, timeout=60)
        assert result.data == {"total": 6}
    finally:
        _stop(doomed)
        if survivor is not None:
            _stop(survivor)
        await hm.stop()

    runs = await _sql(
        dsn, f'SELECT step, pid FROM "{schema}".yaml_crash_runs WHERE jid = $1 ORDER BY step', jid
    )
    steps = [(r["step"], r["pid"]) for r in runs]
    assert steps == [(1, doomed.pid), (2, doomed.pid), (2, survivor.pid), (3, survivor.pid)]

    history = await client.get_workflow_handle(jid).fetch_history()
    names = [EventType.Name(e.event_type) for e in history.events]
    assert names.count("EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED") == 1
    assert names.count("EVENT_TYPE_ACTIVITY_TASK_COMPLETED") == 3
    listed = [e async for e in client.list_workflows(f"HotMeshApp = '{app_id}'")]
    assert [(e.id, e.status.name) for e in listed] == [(jid, "COMPLETED")]
