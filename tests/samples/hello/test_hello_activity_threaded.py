import uuid
from concurrent.futures import ThreadPoolExecutor

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.hello.hello_activity_threaded import WordCountWorkflow, count_words_slowly


async def test_sync_activity_runs_on_a_thread(client: Client):
    task_queue = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=2) as executor:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[WordCountWorkflow],
            activities=[count_words_slowly],
            activity_executor=executor,
        ):
            result = await client.execute_workflow(
                WordCountWorkflow.run, "one two three", id=str(uuid.uuid4()), task_queue=task_queue
            )
    assert result == "3 words, counted on a worker thread: True"
