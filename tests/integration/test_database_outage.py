"""The database goes away while workflows run: nothing is lost.

Two outages, each against a throwaway Postgres of its own (so no other test's
connections are touched): every connection killed at once, several times; and the
server stopped for a few seconds and started again. Workers and clients ride through;
every workflow completes with its result, and a client call made while the server is
down fails with a clear UNAVAILABLE error instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta

import asyncpg
import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.service import RPCError, RPCStatusCode
from hotmesh_temporal.worker import Worker

WORKFLOWS = 12


@activity.defn
async def double(value: int) -> int:
    return value * 2


@workflow.defn
class TwoStepsWorkflow:
    """An activity, a durable timer, another activity: three transitions that must
    each survive the outage."""

    @workflow.run
    async def run(self, value: int) -> int:
        options = dict(
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
        )
        first = await workflow.execute_activity(double, value, **options)
        await workflow.sleep(1.5)
        return await workflow.execute_activity(double, first, **options)


@pytest.fixture
def cluster():
    from bench.pgcluster import TempCluster, find_bin_dir

    try:
        find_bin_dir()
    except RuntimeError:
        pytest.skip("no initdb on this machine (embedded Postgres only)")
    cluster = TempCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def _start_all(client: Client, queue: str) -> list:
    return [
        await client.start_workflow(
            TwoStepsWorkflow.run, i, id=f"outage-{uuid.uuid4()}", task_queue=queue
        )
        for i in range(WORKFLOWS)
    ]


async def _results(handles: list) -> list:
    return await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)


async def _kill_every_connection(dsn: str) -> int:
    admin = await asyncpg.connect(dsn)
    try:
        return await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            "   AND backend_type = 'client backend'"
        )
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def _running(cluster):
    """A client and a worker on the throwaway server, and WORKFLOWS workflows started."""
    client = await Client.connect(cluster.dsn + "?schema=outage")
    queue = f"outage-{uuid.uuid4()}"
    try:
        async with Worker(
            client, task_queue=queue, workflows=[TwoStepsWorkflow], activities=[double]
        ):
            yield client, queue, await _start_all(client, queue)
    finally:
        await client.service_client.close()


async def test_every_connection_killed_mid_run_loses_nothing(cluster):
    async with _running(cluster) as (_client, _queue, handles):
        killed = 0
        for _ in range(4):
            await asyncio.sleep(0.4)
            killed += await _kill_every_connection(cluster.dsn)
        assert killed > 0  # the kills did hit the engine's connections
        assert await _results(handles) == [i * 4 for i in range(WORKFLOWS)]


async def test_server_stopped_and_started_mid_run_loses_nothing(cluster):
    async with _running(cluster) as (client, queue, handles):
        await asyncio.sleep(0.5)
        await asyncio.to_thread(cluster.stop_server)
        # While it is down, a call fails clearly and promptly.
        with pytest.raises(RPCError) as err:
            await asyncio.wait_for(
                client.start_workflow(
                    TwoStepsWorkflow.run, 0, id=f"outage-{uuid.uuid4()}", task_queue=queue
                ),
                30,
            )
        assert err.value.status == RPCStatusCode.UNAVAILABLE
        await asyncio.sleep(2)
        await asyncio.to_thread(cluster.start_server)
        assert await _results(handles) == [i * 4 for i in range(WORKFLOWS)]
        # And the client works again.
        again = await client.execute_workflow(
            TwoStepsWorkflow.run, 5, id=f"outage-{uuid.uuid4()}", task_queue=queue
        )
        assert again == 20
