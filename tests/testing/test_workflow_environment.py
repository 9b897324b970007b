"""WorkflowEnvironment: local and time-skipping environments on real Postgres.

Each test builds its own environments (own schemas) on the session's database, except
the ones that use the samples-style ``env`` / ``client`` fixtures, which run in both
``--workflow-environment`` modes.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal._engine.store.dsn import split_schema
from hotmesh_temporal.client import Client, WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.exceptions import ActivityError, ApplicationError, TimeoutError
from hotmesh_temporal.service import RPCError
from hotmesh_temporal.testing import TimeSkipper, WorkflowEnvironment
from hotmesh_temporal.testing._workflow import _SchemaEnvironment
from hotmesh_temporal.worker import Worker

DAY = timedelta(days=1)


@workflow.defn
class SleepWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> list[str]:
        before = workflow.now()
        await workflow.sleep(seconds)
        return [before.isoformat(), workflow.now().isoformat()]


@workflow.defn
class WaitForSignalWorkflow:
    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: self.released, timeout=timedelta(hours=2))
            return "released"
        except asyncio.TimeoutError:
            return "timed out"

    @workflow.signal
    def release(self) -> None:
        self.released = True


attempt_times: list[datetime] = []


@activity.defn
async def fails_four_times() -> int:
    info = activity.info()
    attempt_times.append(info.current_attempt_scheduled_time)
    if info.attempt < 5:
        raise ApplicationError(f"attempt {info.attempt} fails")
    return info.attempt


@workflow.defn
class HourlyRetryWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            fails_four_times,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(hours=1), backoff_coefficient=1.0, maximum_attempts=5
            ),
        )


@workflow.defn
class AssertingWorkflow:
    @workflow.run
    async def run(self) -> None:
        assert 1 + 1 == 3, "arithmetic is broken"


@pytest.fixture
async def skipping_env(pg_dsn: str) -> AsyncIterator[WorkflowEnvironment]:
    dsn = _fresh_schema_dsn(pg_dsn)
    env = await _SchemaEnvironment._create(dsn, time_skipping=True)
    try:
        async with env:
            yield env
    finally:
        await _drop(pg_dsn, split_schema(dsn)[1])


def _fresh_schema_dsn(pg_dsn: str) -> str:
    from hotmesh_temporal._engine.store.dsn import with_schema

    return with_schema(pg_dsn, f"hm_envtest_{uuid.uuid4().hex[:10]}")


async def _drop(pg_dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(split_schema(pg_dsn)[0])
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def schema_cleanup(pg_dsn: str) -> AsyncIterator[list[str]]:
    schemas: list[str] = []
    yield schemas
    for schema in schemas:
        await _drop(pg_dsn, schema)


# ------------------------------------------------------------------ time skipping


async def test_thirty_day_sleep_finishes_fast(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    started = time.monotonic()
    async with Worker(client, task_queue=queue, workflows=[SleepWorkflow]):
        before, after = await client.execute_workflow(
            SleepWorkflow.run, 30 * DAY.total_seconds(), id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
    wall = time.monotonic() - started
    print(f"30-day sleep took {wall:.3f}s of wall time")
    elapsed = datetime.fromisoformat(after) - datetime.fromisoformat(before)
    assert elapsed >= 30 * DAY
    assert elapsed < 30 * DAY + timedelta(minutes=1)
    assert wall < 10  # generous: the machine is shared; typically well under a second
    assert await skipping_env.get_current_time() - datetime.now(
        timezone.utc
    ) >= 30 * DAY - timedelta(minutes=1)


async def test_hourly_retries_follow_virtual_clock(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    attempt_times.clear()
    started = time.monotonic()
    async with Worker(
        client, task_queue=queue, workflows=[HourlyRetryWorkflow], activities=[fails_four_times]
    ):
        result = await client.execute_workflow(
            HourlyRetryWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
    wall = time.monotonic() - started
    print(f"5 hourly attempts took {wall:.3f}s of wall time")
    assert result == 5
    assert len(attempt_times) == 5
    gaps = [b - a for a, b in zip(attempt_times, attempt_times[1:], strict=False)]
    assert all(timedelta(hours=1) <= gap < timedelta(hours=1, minutes=1) for gap in gaps), gaps
    assert wall < 10


async def test_no_skipping_while_auto_disabled_until_env_sleep(
    skipping_env: WorkflowEnvironment,
) -> None:
    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[SleepWorkflow]):
        handle = await client.start_workflow(
            SleepWorkflow.run, 3600.0, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        with skipping_env.auto_time_skipping_disabled():
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(handle.result(), 1.0)
        before = await skipping_env.get_current_time()
        assert before - datetime.now(timezone.utc) < timedelta(minutes=1)
        # Sleeping past the timer fires it; the result is then there without skipping.
        await skipping_env.sleep(timedelta(hours=2))
        after = await skipping_env.get_current_time()
        assert timedelta(hours=2) <= after - before < timedelta(hours=2, minutes=1)
        with skipping_env.auto_time_skipping_disabled():
            start, end = await asyncio.wait_for(handle.result(), 10)
    assert datetime.fromisoformat(end) - datetime.fromisoformat(start) >= timedelta(hours=1)


async def test_env_sleep_lets_workflow_see_signal_before_timeout(
    skipping_env: WorkflowEnvironment,
) -> None:
    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[WaitForSignalWorkflow]):
        handle = await client.start_workflow(
            WaitForSignalWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        await skipping_env.sleep(timedelta(hours=1))  # half of the two-hour timeout
        await handle.signal(WaitForSignalWorkflow.release)
        assert await handle.result() == "released"
        timed_out = await client.start_workflow(
            WaitForSignalWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        assert await timed_out.result() == "timed out"


async def test_delayed_start_is_skipped_to(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[SleepWorkflow]):
        begin = await skipping_env.get_current_time()
        before, _ = await client.execute_workflow(
            SleepWorkflow.run,
            1.0,
            id=f"wf-{uuid.uuid4()}",
            task_queue=queue,
            start_delay=timedelta(days=3),
        )
    assert datetime.fromisoformat(before) - begin >= timedelta(days=3)


async def test_run_timeout_follows_virtual_clock(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[SleepWorkflow]):
        with pytest.raises(WorkflowFailureError) as failure:
            await client.execute_workflow(
                SleepWorkflow.run,
                10 * DAY.total_seconds(),
                id=f"wf-{uuid.uuid4()}",
                task_queue=queue,
                execution_timeout=timedelta(days=1),
            )
    assert "timed out" in str(failure.value.cause).lower()


@workflow.defn
class UnservedActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity(
                "never_served",
                task_queue="nobody-serves-this-queue",
                schedule_to_close_timeout=timedelta(days=2),
            )
        except ActivityError as err:
            assert isinstance(err.cause, TimeoutError)
            return err.cause.type.name
        return "completed"


async def test_activity_timeout_follows_virtual_clock(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    begin = await skipping_env.get_current_time()
    async with Worker(client, task_queue=queue, workflows=[UnservedActivityWorkflow]):
        timeout_type = await client.execute_workflow(
            UnservedActivityWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
    assert timeout_type == "SCHEDULE_TO_CLOSE"
    assert await skipping_env.get_current_time() - begin >= timedelta(days=2)


async def test_other_clients_do_not_skip(skipping_env: WorkflowEnvironment) -> None:
    other = await skipping_env.connect_client()
    queue = f"tq-{uuid.uuid4()}"
    try:
        async with Worker(skipping_env.client, task_queue=queue, workflows=[SleepWorkflow]):
            handle = await other.start_workflow(
                SleepWorkflow.run, 3600.0, id=f"wf-{uuid.uuid4()}", task_queue=queue
            )
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(handle.result(), 1.0)
            # The environment's own handle to the same workflow does skip.
            mine = skipping_env.client.get_workflow_handle(handle.id)
            await mine.result()
    finally:
        await other.service_client.close()


async def test_work_on_a_queue_without_worker_does_not_hold_the_clock(
    skipping_env: WorkflowEnvironment,
) -> None:
    client = skipping_env.client
    # A workflow nobody runs (its queue has no worker) leaves a task pending forever.
    await client.start_workflow(
        SleepWorkflow.run, 1.0, id=f"orphan-{uuid.uuid4()}", task_queue=f"nobody-{uuid.uuid4()}"
    )
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[SleepWorkflow]):
        before, after = await client.execute_workflow(
            SleepWorkflow.run, 7 * DAY.total_seconds(), id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
    assert datetime.fromisoformat(after) - datetime.fromisoformat(before) >= 7 * DAY


async def test_activity_running_holds_the_clock(skipping_env: WorkflowEnvironment) -> None:
    """A running activity locks time, as on Temporal's test server: a timer racing a
    slow activity does not fire early."""
    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=[RaceWorkflow], activities=[slow_activity]
    ):
        winner = await client.execute_workflow(
            RaceWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
    assert winner == "activity"


@activity.defn
async def slow_activity() -> str:
    await asyncio.sleep(0.5)
    return "activity"


@workflow.defn
class RaceWorkflow:
    @workflow.run
    async def run(self) -> str:
        act = workflow.start_activity(slow_activity, start_to_close_timeout=timedelta(minutes=5))
        timer = asyncio.ensure_future(workflow.sleep(60))
        done, _ = await workflow.wait([act, timer], return_when=asyncio.FIRST_COMPLETED)
        return "activity" if act in done else "timer"


async def test_several_environments_have_separate_clocks_and_workflows(
    pg_dsn: str, schema_cleanup: list[str]
) -> None:
    dsns = [_fresh_schema_dsn(pg_dsn) for _ in range(2)]
    schema_cleanup.extend(split_schema(dsn)[1] for dsn in dsns)
    first = await _SchemaEnvironment._create(dsns[0], time_skipping=True)
    second = await _SchemaEnvironment._create(dsns[1], time_skipping=True)
    async with first, second:
        await first.sleep(DAY)
        gap = await first.get_current_time() - await second.get_current_time()
        assert DAY - timedelta(minutes=1) < gap < DAY + timedelta(minutes=1)
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(first.client, task_queue=queue, workflows=[SleepWorkflow]):
            handle = await first.client.start_workflow(
                SleepWorkflow.run, 1.0, id="same-id", task_queue=queue
            )
            await handle.result()
        # The other environment does not know that workflow id.
        with pytest.raises(RPCError, match="not found"):
            await second.client.get_workflow_handle("same-id").describe()


# ------------------------------------------------------------------ environments


async def test_start_local_uses_its_own_schema_and_drops_it(pg_dsn: str, monkeypatch) -> None:
    monkeypatch.setenv("HOTMESH_DSN", pg_dsn)
    async with await WorkflowEnvironment.start_local(
        namespace="ns-local",
        dev_server_download_version="ignored",
        ui=True,
        port=1234,
        dev_server_extra_args=["--ignored"],
    ) as env:
        assert env.supports_time_skipping is False
        assert env.supports_time_skipping_v1 is False
        assert env.client.namespace == "ns-local"
        _, schema = split_schema(env.client.service_client.config.target_host)
        assert schema.startswith("hm_env_")
        now = await env.get_current_time()
        assert abs(now - datetime.now(timezone.utc)) < timedelta(seconds=5)
        started = time.monotonic()
        await env.sleep(0.2)
        assert time.monotonic() - started >= 0.2
        queue = f"tq-{uuid.uuid4()}"
        async with Worker(env.client, task_queue=queue, workflows=[SleepWorkflow]):
            await env.client.execute_workflow(SleepWorkflow.run, 0.1, id="w", task_queue=queue)
    conn = await asyncpg.connect(split_schema(pg_dsn)[0])
    try:
        assert (
            await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema) == 0
        )
    finally:
        await conn.close()


async def test_start_time_skipping_accepts_test_server_options(pg_dsn: str, monkeypatch) -> None:
    monkeypatch.setenv("HOTMESH_DSN", pg_dsn)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_download_version="ignored", port=4321, test_server_extra_args=["x"]
    )
    try:
        assert env.supports_time_skipping is True
        assert env.client.namespace == "default"
        before = await env.get_current_time()
        await env.sleep(timedelta(days=2))  # nothing pending: the clock just moves
        assert await env.get_current_time() - before >= timedelta(days=2)
    finally:
        await env.shutdown()
    await env.shutdown()  # twice is fine


async def test_failed_assert_fails_the_workflow(skipping_env: WorkflowEnvironment) -> None:
    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[AssertingWorkflow]):
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(
                client.execute_workflow(
                    AssertingWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
                ),
                5,
            )
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "AssertionError"
    assert "arithmetic is broken" in str(cause)


async def test_from_client_runs_in_real_time(client: Client) -> None:
    env = WorkflowEnvironment.from_client(client)
    async with env:
        assert env.supports_time_skipping is False
        assert env.client.namespace == client.namespace
        with env.auto_time_skipping_disabled():
            pass
        with pytest.raises(RuntimeError):
            await env.fast_forward(env.client.get_workflow_handle("x"))
    # Shutting a from_client environment down leaves the client usable.
    assert await client.service_client.check_health()


async def test_time_skipping_v2_is_refused(client: Client) -> None:
    with pytest.raises(NotImplementedError, match="V2"):
        await WorkflowEnvironment.start_time_skipping_v2()
    with pytest.raises(NotImplementedError, match="V2"):
        TimeSkipper(client)


# ------------------------------------------------------------- samples-style fixture


async def test_env_fixture_runs_workflows_in_either_mode(
    env: WorkflowEnvironment, client: Client
) -> None:
    assert client is env.client
    queue = f"tq-{uuid.uuid4()}"
    seconds = 3 * 3600.0 if env.supports_time_skipping else 0.5
    async with Worker(client, task_queue=queue, workflows=[SleepWorkflow]):
        before, after = await client.execute_workflow(
            SleepWorkflow.run, seconds, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
    assert datetime.fromisoformat(after) - datetime.fromisoformat(before) >= timedelta(
        seconds=seconds
    )


async def test_schedules_fire_on_the_virtual_clock(skipping_env: WorkflowEnvironment) -> None:
    from hotmesh_temporal.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
    )

    client = skipping_env.client
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[SleepWorkflow]):
        handle = await client.create_schedule(
            f"daily-{uuid.uuid4()}",
            Schedule(
                action=ScheduleActionStartWorkflow(
                    SleepWorkflow.run, 60.0, id=f"daily-run-{uuid.uuid4()}", task_queue=queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
                # Every due time starts a run even if the sweeper takes two in one tick
                # (what this test checks is that virtual days fire, not overlap rules).
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
            ),
        )
        started = time.monotonic()
        # The interval is aligned to the epoch: three days hold exactly three fires.
        await skipping_env.sleep(timedelta(days=3))
        print(f"3 virtual days of a daily schedule took {time.monotonic() - started:.3f}s")
        info = (await handle.describe()).info
        await handle.delete()
    assert info.num_actions == 3


SKIPPING_WORKER_APP = Path(__file__).with_name("skipping_worker_app.py")


async def test_worker_in_another_process_holds_the_clock(
    skipping_env: WorkflowEnvironment,
) -> None:
    """Work ready on a queue polled only by a worker of another process holds the
    environment's clock, as work on this process's queues does (Temporal's test
    server holds it for any pending workflow task). The other process is frozen while
    its workflow's first task waits: the clock must not jump to the run's one-hour
    execution timeout meanwhile; once it thaws, its 10-minute sleep is skipped."""
    client = skipping_env.client
    engine = await client._engine()
    from hotmesh_temporal._engine.store.dsn import with_schema

    queue = f"other-process-{uuid.uuid4()}"
    worker = subprocess.Popen(
        [
            sys.executable,
            str(SKIPPING_WORKER_APP),
            with_schema(engine.store.dsn, engine.schema),
            queue,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = await asyncio.to_thread(worker.stdout.readline)  # type: ignore[union-attr]
        assert ready.strip() == "ready"
        worker.send_signal(signal.SIGSTOP)
        handle = await client.start_workflow(
            "NapWorkflow",
            10,
            id=f"nap-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(hours=1),
        )
        start = await skipping_env.get_current_time()
        waiting = asyncio.ensure_future(handle.result())
        await asyncio.sleep(1.5)  # the client skips time while it waits, if it can
        assert not waiting.done()
        assert await skipping_env.get_current_time() - start < timedelta(minutes=1)
        worker.send_signal(signal.SIGCONT)
        before, after = await waiting
        assert datetime.fromisoformat(after) - datetime.fromisoformat(before) >= timedelta(
            minutes=10
        )
    finally:
        worker.send_signal(signal.SIGCONT)
        worker.kill()
        worker.wait()
