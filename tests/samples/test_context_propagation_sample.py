import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.context_propagation.interceptor import ContextPropagationInterceptor, user_id
from samples.context_propagation.workflows import AuditedWorkflow, audit


async def test_user_id_reaches_workflow_and_activity(client: Client):
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
