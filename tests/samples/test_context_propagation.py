import uuid

import pytest

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker


@pytest.mark.xfail(
    reason="waiting on workflow and activity interceptors being applied (interceptors)", strict=True
)
async def test_user_id_reaches_workflow_and_activity(client: Client):
    from samples.context_propagation.interceptor import ContextPropagationInterceptor, user_id
    from samples.context_propagation.workflows import AuditedWorkflow, audit

    config = client.config()
    config["interceptors"] = [ContextPropagationInterceptor()]
    propagating_client = Client(**config)
    task_queue = str(uuid.uuid4())
    async with Worker(
        propagating_client, task_queue=task_queue, workflows=[AuditedWorkflow], activities=[audit]
    ):
        token = user_id.set("grace@example.com")
        try:
            result = await propagating_client.execute_workflow(
                AuditedWorkflow.run, "publish", id=str(uuid.uuid4()), task_queue=task_queue
            )
        finally:
            user_id.reset(token)
    assert result == ["workflow saw grace@example.com", "publish by grace@example.com"]
