"""A workflow and an activity that read ``user_id`` without it being passed as an argument."""

from datetime import timedelta

from hotmesh_temporal import activity, workflow

with workflow.unsafe.imports_passed_through():
    from samples.context_propagation.interceptor import user_id


@activity.defn
async def audit(action: str) -> str:
    return f"{action} by {user_id.get()}"


@workflow.defn
class AuditedWorkflow:
    @workflow.run
    async def run(self, action: str) -> list:
        seen_by_workflow = f"workflow saw {user_id.get()}"
        seen_by_activity = await workflow.execute_activity(
            audit, action, start_to_close_timeout=timedelta(seconds=5)
        )
        return [seen_by_workflow, seen_by_activity]
