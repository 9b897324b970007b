"""The workflow a schedule starts: a status report."""

from datetime import timedelta

from hotmesh_temporal import activity, workflow


@activity.defn
async def compile_report(source: str) -> str:
    return f"status report for {source}"


@workflow.defn
class StatusReportWorkflow:
    @workflow.run
    async def run(self, source: str) -> str:
        return await workflow.execute_activity(
            compile_report, source, start_to_close_timeout=timedelta(seconds=5)
        )
