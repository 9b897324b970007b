"""One host's activities: they close over its own task queue and its scratch directory."""

import os
import tempfile
from collections.abc import Callable

from hotmesh_temporal import activity


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
