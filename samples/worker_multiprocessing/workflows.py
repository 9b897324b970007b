"""A workflow whose activity reports which process ran it."""

import os
from datetime import timedelta

from hotmesh_temporal import activity, workflow


@activity.defn
async def whoami(job: int) -> str:
    return f"job {job} ran in process {os.getpid()}"


@workflow.defn
class JobWorkflow:
    @workflow.run
    async def run(self, job: int) -> str:
        return await workflow.execute_activity(
            whoami, job, start_to_close_timeout=timedelta(seconds=10)
        )
