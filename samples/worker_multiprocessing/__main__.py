"""Run: ``python -m samples.worker_multiprocessing``

Starts ``WORKER_PROCESSES`` worker processes (each its own Python, event loop and
connection pool), then starts jobs from this process and prints where each ran.
"""

import asyncio
import os

from hotmesh_temporal.client import Client
from samples.worker_multiprocessing.workers import start_workers, stop_workers
from samples.worker_multiprocessing.workflows import JobWorkflow

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "worker-multiprocessing"
WORKER_PROCESSES = 2


async def run_jobs(client: Client, task_queue: str, jobs: int, id_prefix: str):
    return await asyncio.gather(
        *(
            client.execute_workflow(
                JobWorkflow.run, job, id=f"{id_prefix}-{job}", task_queue=task_queue
            )
            for job in range(jobs)
        )
    )


async def main() -> None:
    processes, stop = start_workers(DSN, TASK_QUEUE, WORKER_PROCESSES)
    try:
        client = await Client.connect(DSN)
        results = await run_jobs(client, TASK_QUEUE, 8, "worker-multiprocessing")
        for line in results:
            print(line)
        pids = {line.rsplit(" ", 1)[-1] for line in results}
        print(
            f"Result: 8 jobs, run by {len(pids)} worker process(es), none by the starter: "
            f"{str(os.getpid()) not in pids}"
        )
    finally:
        stop_workers(processes, stop)


if __name__ == "__main__":
    asyncio.run(main())
