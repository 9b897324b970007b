import asyncio
import uuid

import pytest

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker


async def test_update_changes_state_and_validator_rejects(client: Client):
    from hotmesh_temporal.client import WorkflowUpdateFailedError
    from samples.hello.hello_update import MultilingualGreetingWorkflow

    task_queue = str(uuid.uuid4())
    async with Worker(client, task_queue=task_queue, workflows=[MultilingualGreetingWorkflow]):
        handle = await client.start_workflow(
            MultilingualGreetingWorkflow.run, id=str(uuid.uuid4()), task_queue=task_queue
        )
        update = handle.execute_update(MultilingualGreetingWorkflow.set_language, "french")
        assert await asyncio.wait_for(update, timeout=5) == "english"
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(MultilingualGreetingWorkflow.set_language, "klingon")
        assert "klingon is not supported" in str(rejected.value.cause)
        await handle.signal(MultilingualGreetingWorkflow.finish)
        assert await handle.result() == "Bonjour, World!"
