import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_continue_as_new import CountdownWorkflow, Tally


async def test_each_iteration_is_a_new_run(client: Client):
    task_queue = str(uuid.uuid4())
    async with Worker(client, task_queue=task_queue, workflows=[CountdownWorkflow]):
        handle = await client.start_workflow(
            CountdownWorkflow.run, Tally(remaining=3), id=str(uuid.uuid4()), task_queue=task_queue
        )
        run_ids = await handle.result()
    assert len(run_ids) == 4
    assert len(set(run_ids)) == 4
    assert run_ids[0] == handle.first_execution_run_id
    latest = client.get_workflow_handle(handle.id)
    assert (await latest.describe()).run_id == run_ids[-1]
