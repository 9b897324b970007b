"""Worker processes: each is its own Python, with its own event loop and connection pool.

These live outside ``__main__`` so that spawned processes can import them.
"""

import asyncio
import multiprocessing

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.worker_multiprocessing.workflows import JobWorkflow, whoami


async def run_worker(dsn: str, task_queue: str, ready, stop) -> None:
    client = await Client.connect(dsn)
    async with Worker(client, task_queue=task_queue, workflows=[JobWorkflow], activities=[whoami]):
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)


def worker_process(dsn: str, task_queue: str, ready, stop) -> None:
    asyncio.run(run_worker(dsn, task_queue, ready, stop))


def start_workers(dsn: str, task_queue: str, count: int):
    """Start ``count`` worker processes; return them and the event that stops them."""
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    processes, ready_events = [], []
    for _ in range(count):
        ready = spawn.Event()
        process = spawn.Process(target=worker_process, args=(dsn, task_queue, ready, stop))
        process.start()
        processes.append(process)
        ready_events.append(ready)
    for process, ready in zip(processes, ready_events, strict=False):
        if not ready.wait(timeout=60):
            stop.set()
            for other in processes:
                other.join(timeout=5)
                if other.is_alive():
                    other.kill()
            raise RuntimeError(
                f"worker process {process.pid} did not start within 60 s "
                f"(exit code {process.exitcode})"
            )
    return processes, stop


def stop_workers(processes, stop) -> None:
    stop.set()
    for process in processes:
        process.join(timeout=30)
