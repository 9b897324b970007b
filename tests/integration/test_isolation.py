"""Workflow code runs off the worker's event loop: a workflow that never yields is
failed as deadlocked (temporalio's error) while the rest of the queue keeps going, and
CPU-heavy replays do not starve activities and heartbeats (issue 13)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal._engine.store.dsn import quote_ident, split_schema
from hotmesh_temporal.worker import Worker
from tests.integration import isolation_app
from tests.integration.isolation_app import CpuSteps, beating_step, burn

APP = Path(__file__).with_name("isolation_app.py")
DEADLOCK = "[TMPRL1101] Potential deadlock detected: workflow didn't yield within 2 second(s)."


class WorkerProcess:
    """A worker in its own process; its log (stderr) goes to a file the test reads."""

    def __init__(self, dsn: str, task_queue: str, *flags: str) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ, PYTHONPATH=str(APP.parents[2]))
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), dsn, task_queue, *flags],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "worker ready":
            self.proc.wait(10)
            raise AssertionError(f"worker process did not start:\n{self.read_log()[-3000:]}")

    def read_log(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def _task_attempts(dsn: str, run_id: str, until_attempt: int, limit: float) -> list:
    """Watch a run's workflow task: for each lease seen, how long it lasted until the
    task came back (database clock), until attempt ``until_attempt`` is reached."""
    base, schema = split_schema(dsn)
    q = quote_ident(schema)
    conn = await asyncpg.connect(base)
    leases: dict[int, float] = {}  # attempt -> seconds it was leased
    leased_at: dict[int, object] = {}
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            row = await conn.fetchrow(
                f"SELECT attempt, started_at, {q}.now() AS now FROM {q}.workflow_tasks"
                " WHERE run_id = $1",
                uuid.UUID(run_id),
            )
            attempt = row["attempt"]
            if row["started_at"] is not None:
                leased_at.setdefault(attempt, row["started_at"])
            for earlier, started in leased_at.items():
                if earlier < attempt and earlier not in leases:
                    leases[earlier] = (row["now"] - started).total_seconds()
            if attempt >= until_attempt:
                return [leases[a] for a in sorted(leases)]
            await asyncio.sleep(0.05)
        raise AssertionError(f"task attempts seen: {leased_at}, lease lengths {leases}")
    finally:
        await conn.close()


@pytest.mark.slow
async def test_a_workflow_that_never_yields_fails_as_deadlocked_and_others_complete(
    client, migrated_dsn
):
    task_queue = f"spin-{uuid.uuid4()}"
    workers = [WorkerProcess(migrated_dsn, task_queue), WorkerProcess(migrated_dsn, task_queue)]
    try:
        spin = await client.start_workflow(
            "SpinForever", id=f"spin-{uuid.uuid4()}", task_queue=task_queue
        )
        watching = asyncio.ensure_future(
            _task_attempts(migrated_dsn, spin.result_run_id, until_attempt=4, limit=40)
        )
        handles = [
            await client.start_workflow(
                "Quick", i, id=f"quick-{uuid.uuid4()}", task_queue=task_queue
            )
            for i in range(50)
        ]
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), 60)
        assert results == [i + 1 for i in range(50)]
        leases = await watching
        await spin.terminate("test over")
    finally:
        for worker in workers:
            worker.stop()
    # Every attempt was given up by the detector about 2 seconds after it started
    # (polling adds up to 50 ms, a loaded machine a little more).
    assert len(leases) >= 3
    assert all(1.9 <= seconds <= 3.5 for seconds in leases), leases
    logs = "".join(worker.read_log() for worker in workers)
    assert logs.count(f"_DeadlockError: {DEADLOCK}") >= 3, logs[-4000:]
    assert "did not yield; interrupting it" in logs


def _loops_for(seconds: float) -> int:
    """How many iterations of isolation_app.burn take about ``seconds`` here."""
    loops = 200_000
    started = time.perf_counter()
    burn(loops)
    return int(loops * seconds / max(time.perf_counter() - started, 1e-6))


@pytest.mark.slow
async def test_debug_mode_turns_the_deadlock_detector_off(client, migrated_dsn):
    task_queue = f"debug-{uuid.uuid4()}"
    worker = WorkerProcess(migrated_dsn, task_queue, "--debug-mode")
    try:
        # Holds its thread for about 4 seconds without yielding: twice the deadlock
        # timeout, which a worker without debug mode would fail it for.
        handle = await client.start_workflow(
            "SpinAWhile", 4.0, id=f"debug-{uuid.uuid4()}", task_queue=task_queue
        )
        held = await asyncio.wait_for(handle.result(), 60)
        history = await handle.fetch_history()
    finally:
        worker.stop()
    assert held >= 4.0
    task_starts = [
        e for e in history.events if e.HasField("workflow_task_started_event_attributes")
    ]
    assert len(task_starts) == 1  # its one task was never failed and retried
    assert "TMPRL1101" not in worker.read_log()


async def _completed_activities(dsn: str, task_queue: str) -> int:
    base, schema = split_schema(dsn)
    q = quote_ident(schema)
    conn = await asyncpg.connect(base)
    try:
        return await conn.fetchval(
            f"SELECT count(*) FROM {q}.history_events h JOIN {q}.executions e USING (run_id)"
            " WHERE e.task_queue = $1 AND h.event_type = 'ActivityTaskCompleted'",
            task_queue,
        )
    finally:
        await conn.close()


@pytest.mark.slow
async def test_taking_over_cpu_heavy_runs_does_not_starve_activities(client, migrated_dsn):
    task_queue = f"takeover-{uuid.uuid4()}"
    loops = _loops_for(0.1)
    steps, runs = 3, 50
    first = WorkerProcess(migrated_dsn, task_queue)
    try:
        handles = [
            await client.start_workflow(
                CpuSteps.run,
                args=[steps, loops],
                id=f"cpu-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            for _ in range(runs)
        ]
        # Let the runs get going (one step each on average), then crash the worker.
        deadline = time.monotonic() + 150
        while (done := await _completed_activities(migrated_dsn, task_queue)) < runs:
            assert time.monotonic() < deadline, (done, first.read_log()[-3000:])
            await asyncio.sleep(0.2)
    finally:
        first.stop(signal.SIGKILL)
    isolation_app.BEATS.clear()
    # This worker takes every run over: its first task of each replays the run, about
    # 100 ms of workflow CPU per step already done, while it runs the activities.
    async with Worker(
        client, task_queue=task_queue, workflows=[CpuSteps], activities=[beating_step]
    ):
        results = await asyncio.wait_for(asyncio.gather(*[h.result() for h in handles]), 400)
    assert results == [sum(range(steps))] * runs
    ours = [beat for beat in isolation_app.BEATS if beat[3] == os.getpid()]
    assert ours, "the second worker ran no activity"
    # No attempt of this worker missed its start-to-close or heartbeat timeout: each
    # step ran here at most once, and the attempt it ran is the one that completed.
    ran_here: dict = {}
    for workflow_id, step, attempt, _, beats in ours:
        assert (workflow_id, step) not in ran_here, (workflow_id, step, attempt, beats)
        ran_here[(workflow_id, step)] = attempt
    for handle in handles:
        events = {e.event_id: e for e in (await handle.fetch_history()).events}
        for event in events.values():
            if event.HasField("activity_task_timed_out_event_attributes"):
                # only the attempts lost with the crashed worker may time out
                started = events[event.activity_task_timed_out_event_attributes.started_event_id]
                identity = started.activity_task_started_event_attributes.identity
                assert identity.startswith(f"{first.proc.pid}@"), (handle.id, identity)
    # Heartbeats kept flowing: consecutive heartbeat calls of an attempt here are
    # 50 ms apart when the loop is free; none waited as long as the heartbeat timeout
    # (1 s), which replays on the loop made them do (seconds). A tighter bound would
    # measure the host's load, not the worker.
    gaps = [
        later - earlier
        for *_, beats in ours
        for earlier, later in zip(beats, beats[1:], strict=False)
    ]
    assert max(gaps) < isolation_app.HEARTBEAT_TIMEOUT.total_seconds(), sorted(gaps)[-10:]


_HOLD_LOCAL = asyncio.Event()


@activity.defn
async def held_local_step() -> str:
    if not _HOLD_LOCAL.is_set():
        await asyncio.sleep(120)  # the first worker shuts down meanwhile
    return "done"


@workflow.defn
class WaitsOnLocal:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_local_activity(
            held_local_step, start_to_close_timeout=timedelta(minutes=5)
        )


async def test_shutdown_hands_in_flight_workflow_tasks_back_at_once(client, task_queue):
    _HOLD_LOCAL.clear()
    first = Worker(
        client, task_queue=task_queue, workflows=[WaitsOnLocal], activities=[held_local_step]
    )
    async with first:
        # The task's lease lasts a minute: only a hand-back lets another worker in soon.
        handle = await client.start_workflow(
            WaitsOnLocal.run,
            id=f"held-{uuid.uuid4()}",
            task_queue=task_queue,
            task_timeout=timedelta(seconds=60),
        )
        await asyncio.sleep(1.0)  # its task is in flight, waiting on the local activity
        stopping = time.monotonic()
    shutdown_took = time.monotonic() - stopping
    _HOLD_LOCAL.set()
    async with Worker(
        client, task_queue=task_queue, workflows=[WaitsOnLocal], activities=[held_local_step]
    ):
        assert await asyncio.wait_for(handle.result(), 30) == "done"
    assert shutdown_took < 10
    assert time.monotonic() - stopping < 30  # not the minute the lease would have taken


# Not sandboxed: threading calls in workflow code are refused by the sandbox, as by
# temporalio's.
@workflow.defn(sandboxed=False)
class WhereAmI:
    def __init__(self) -> None:
        self.threads: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        import threading

        self.threads.append(threading.current_thread().name)
        await workflow.wait_condition(lambda: len(self.threads) > 1)
        return self.threads

    @workflow.signal
    def again(self) -> None:
        import threading

        self.threads.append(threading.current_thread().name)

    @workflow.query
    def thread_of_query(self) -> str:
        import threading

        return threading.current_thread().name


async def test_workflow_code_runs_in_the_given_workflow_task_executor(client, task_queue):
    import concurrent.futures
    import threading

    loop_thread = threading.current_thread().name
    executor = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="users_wf")
    try:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[WhereAmI],
            workflow_task_executor=executor,
            max_cached_workflows=0,  # the second task replays the first activation
        ):
            handle = await client.start_workflow(
                WhereAmI.run, id=f"where-{uuid.uuid4()}", task_queue=task_queue
            )
            query_thread = await handle.query(WhereAmI.thread_of_query)
            await handle.signal(WhereAmI.again)
            threads = await handle.result()
    finally:
        executor.shutdown()
    assert threads and all(name.startswith("users_wf") for name in threads), threads
    assert query_thread.startswith("users_wf") and loop_thread not in threads


async def test_cache_and_slot_limits_are_honoured_and_reported(migrated_dsn, task_queue):
    import threading

    from hotmesh_temporal.client import Client
    from hotmesh_temporal.runtime import MetricBuffer, Runtime, TelemetryConfig

    buffer = MetricBuffer(10_000)
    # Pools of other workers of this test session may still be winding down.
    earlier = set(threading.enumerate())
    client = await Client.connect(
        migrated_dsn, runtime=Runtime(telemetry=TelemetryConfig(metrics=buffer))
    )
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[WhereAmI],
        max_cached_workflows=2,
        max_concurrent_workflow_tasks=3,
    ):
        handles = [
            await client.start_workflow(
                WhereAmI.run, id=f"limits-{uuid.uuid4()}", task_queue=task_queue
            )
            for _ in range(6)
        ]
        for handle in handles:
            await handle.signal(WhereAmI.again)
        for handle in handles:
            await handle.result()
        pool = [
            t
            for t in threading.enumerate()
            if t.name.startswith("hotmesh_workflow_") and t.is_alive() and t not in earlier
        ]
    updates = buffer.retrieve_updates()
    cache = [u.value for u in updates if u.metric.name == "temporal_sticky_cache_size"]
    used = [u.value for u in updates if u.metric.name == "temporal_worker_task_slots_used"]
    free = [u.value for u in updates if u.metric.name == "temporal_worker_task_slots_available"]
    assert cache and max(cache) == 2, cache
    assert used and max(used) <= 3 and all(u + f == 3 for u, f in zip(used, free, strict=True))
    # the default pool is sized by max_concurrent_workflow_tasks, as temporalio's
    assert 1 <= len(pool) <= 3, [t.name for t in pool]
