import uuid

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.batch_sliding_window.workflows import (
    BatchInput,
    BatchWorkflow,
    fetch_page,
    in_flight,
    process_record,
)


async def test_every_record_processed_within_the_window(client: Client):
    in_flight.most = 0
    task_queue = str(uuid.uuid4())
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[BatchWorkflow],
        activities=[fetch_page, process_record],
    ):
        handle = await client.start_workflow(
            BatchWorkflow.run,
            BatchInput(total_records=23, page_size=10, window_size=3),
            id=str(uuid.uuid4()),
            task_queue=task_queue,
        )
        assert await handle.result() == 23
    assert 1 < in_flight.most <= 3
    # Three pages: the first run continued as new twice.
    latest = await client.get_workflow_handle(handle.id).describe()
    assert latest.run_id != handle.first_execution_run_id
