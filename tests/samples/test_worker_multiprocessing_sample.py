import asyncio
import os
import uuid

from hotmesh_temporal.client import Client
from samples.worker_multiprocessing.__main__ import run_jobs
from samples.worker_multiprocessing.workers import start_workers, stop_workers


async def test_jobs_run_in_the_worker_processes(client: Client, dsn: str):
    task_queue = str(uuid.uuid4())
    processes, stop = start_workers(dsn, task_queue, 2)
    try:
        # Bounded: should a worker process die, the test fails instead of waiting forever.
        results = await asyncio.wait_for(run_jobs(client, task_queue, 4, task_queue), 120)
    finally:
        stop_workers(processes, stop)
    worker_pids = {str(process.pid) for process in processes}
    assert [line.split(" ran")[0] for line in results] == [f"job {n}" for n in range(4)]
    ran_in = {line.rsplit(" ", 1)[-1] for line in results}
    assert ran_in <= worker_pids
    assert str(os.getpid()) not in ran_in
    assert all(process.exitcode == 0 for process in processes)
