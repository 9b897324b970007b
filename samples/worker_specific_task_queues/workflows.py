"""Route several activities to one worker.

Each worker listens on the shared queue and on a queue of its own. The first activity,
on the shared queue, answers with its worker's own queue; the workflow sends the
download, the processing and the cleanup there, so all three see the same local disk.
"""

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from hotmesh_temporal import activity, workflow


@dataclass
class FileReport:
    worker_queue: str
    checksum: int
    cleaned_up: bool


def host_activities(own_queue: str) -> list[Callable]:
    """This host's activities; they close over its queue and its scratch directory."""
    scratch = tempfile.mkdtemp(prefix="wstq-")

    @activity.defn
    async def get_worker_task_queue() -> str:
        return own_queue

    @activity.defn
    async def download_file(url: str) -> str:
        path = os.path.join(scratch, url.rsplit("/", 1)[-1])
        with open(path, "w") as fh:
            fh.write(f"contents of {url}\n")
        return path

    @activity.defn
    async def checksum_file(path: str) -> int:
        with open(path, "rb") as fh:  # only this host has the file
            return sum(fh.read()) % 65521

    @activity.defn
    async def delete_file(path: str) -> bool:
        os.remove(path)
        return not os.path.exists(path)

    return [get_worker_task_queue, download_file, checksum_file, delete_file]


@workflow.defn
class FileProcessingWorkflow:
    @workflow.run
    async def run(self, url: str) -> FileReport:
        timeouts = dict(start_to_close_timeout=timedelta(seconds=10))
        own_queue = await workflow.execute_activity("get_worker_task_queue", **timeouts)
        on_host = dict(task_queue=own_queue, **timeouts)
        path = await workflow.execute_activity("download_file", url, result_type=str, **on_host)
        checksum = await workflow.execute_activity(
            "checksum_file", path, result_type=int, **on_host
        )
        removed = await workflow.execute_activity("delete_file", path, result_type=bool, **on_host)
        return FileReport(worker_queue=own_queue, checksum=checksum, cleaned_up=removed)
