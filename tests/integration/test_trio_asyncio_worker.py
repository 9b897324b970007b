"""A worker driven from a trio event loop through trio-asyncio runs workflows, as
temporalio's does. Runs in a subprocess: importing trio_asyncio patches asyncio's
loop lookup for the whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("trio_asyncio", reason="the trio-asyncio test needs trio-asyncio")

PROGRAM = textwrap.dedent(
    """
    import sys, uuid
    from datetime import timedelta
    import trio, trio_asyncio
    from hotmesh_temporal import activity, workflow
    from hotmesh_temporal.client import Client
    from hotmesh_temporal.worker import Worker

    @activity.defn
    async def hello(name: str) -> str:
        return f"hello {name}"

    @workflow.defn
    class Greet:
        @workflow.run
        async def run(self, name: str) -> str:
            await workflow.sleep(0.05)
            return await workflow.execute_activity(
                hello, name, start_to_close_timeout=timedelta(seconds=10))

    async def on_asyncio(dsn: str) -> str:
        client = await Client.connect(dsn)
        queue = f"trio-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[Greet], activities=[hello]):
            return await client.execute_workflow(
                Greet.run, "trio", id=f"trio-{uuid.uuid4()}", task_queue=queue,
                execution_timeout=timedelta(seconds=20))

    async def main(dsn: str) -> None:
        async with trio_asyncio.open_loop():
            print(await trio_asyncio.aio_as_trio(on_asyncio)(dsn))

    trio.run(main, sys.argv[1])
    """
)


def test_a_worker_under_trio_asyncio_runs_workflows(migrated_dsn, tmp_path):
    script = tmp_path / "trio_worker.py"
    script.write_text(PROGRAM)
    done = subprocess.run(
        [sys.executable, str(script), migrated_dsn], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "hello trio"
