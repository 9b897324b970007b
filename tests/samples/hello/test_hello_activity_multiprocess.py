import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import SharedStateManager, Worker
from samples.hello.hello_activity_multiprocess import SquaresWorkflow, sum_of_squares


async def test_activity_runs_in_another_process(client: Client):
    task_queue = str(uuid.uuid4())
    with ProcessPoolExecutor(max_workers=1) as executor, multiprocessing.Manager() as manager:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[SquaresWorkflow],
            activities=[sum_of_squares],
            activity_executor=executor,
            shared_state_manager=SharedStateManager.create_from_multiprocessing(manager),
        ):
            result = await client.execute_workflow(
                SquaresWorkflow.run, 10, id=str(uuid.uuid4()), task_queue=task_queue
            )
    assert result["sum"] == 385
    assert result["pid"] != os.getpid()
