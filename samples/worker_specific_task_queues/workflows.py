"""Route several activities to one worker.

Each worker listens on the shared queue and on a queue of its own. The first activity,
on the shared queue, answers with its worker's own queue; the workflow sends the
download, the processing and the cleanup there, so all three see the same local disk.
The activities are in ``activities.py``; the workflow calls them by name.
"""

from dataclasses import dataclass
from datetime import timedelta

from hotmesh_temporal import workflow


@dataclass
class FileReport:
    worker_queue: str
    checksum: int
    cleaned_up: bool


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
