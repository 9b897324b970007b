"""Stopping a worker leaves nothing behind for asyncio to complain about: no "Task was
destroyed but it is pending!", no "Exception ignored", no never-retrieved exceptions,
even when it stops with runs cached and activities in flight and the program then
closes its event loop (as temporalio's worker leaves none)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent(
    """
    import asyncio, gc, logging, sys, uuid
    from datetime import timedelta
    from hotmesh_temporal import activity, workflow
    from hotmesh_temporal.client import Client
    from hotmesh_temporal.worker import Worker

    @activity.defn
    async def slow(x: str) -> str:
        await asyncio.sleep(30)
        return x

    @workflow.defn
    class Waits:
        @workflow.run
        async def run(self) -> str:
            await workflow.sleep(0.05)
            return await workflow.execute_activity(
                slow, "x", start_to_close_timeout=timedelta(seconds=60))

    async def main(mode: str) -> None:
        client = await Client.connect(sys.argv[1])
        queue = f"quiet-{uuid.uuid4()}"
        worker = Worker(client, task_queue=queue, workflows=[Waits], activities=[slow],
                        graceful_shutdown_timeout=timedelta(seconds=0))
        for _ in range(3):
            await client.start_workflow(Waits.run, id=f"q-{uuid.uuid4()}", task_queue=queue)
        if mode == "run":
            running = asyncio.create_task(worker.run())
            await asyncio.sleep(1.5)
            await worker.shutdown()
            await running
        else:
            async with worker:
                await asyncio.sleep(1.5)

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    for mode in ("run", "context"):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(main(mode))
        left = [t for t in asyncio.all_tasks(loop) if not t.done()]
        print(mode, "tasks left:", len(left))
        loop.close()
        del loop
        gc.collect()
    print("stopped")
    """
)


def test_stopping_a_worker_leaves_no_asyncio_noise(migrated_dsn, tmp_path):
    script = tmp_path / "stop_worker.py"
    script.write_text(PROGRAM)
    done = subprocess.run(
        [sys.executable, "-X", "dev", str(script), migrated_dsn],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["run tasks left: 0", "context tasks left: 0", "stopped"]
    for noise in ("Task was destroyed", "Exception ignored", "was never retrieved", "Traceback"):
        assert noise not in done.stderr, done.stderr
