import uuid
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.worker import Worker


@activity.defn
async def say_hello(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class HelloWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            say_hello, name, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_hello(client, task_queue):
    async with Worker(
        client, task_queue=task_queue, workflows=[HelloWorkflow], activities=[say_hello]
    ):
        result = await client.execute_workflow(
            HelloWorkflow.run, "Temporal", id=f"wf-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == "Hello, Temporal!"
