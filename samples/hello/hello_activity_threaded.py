"""Hello threaded activity: a synchronous activity runs on a thread pool and heartbeats.

Run: ``python -m samples.hello.hello_activity_threaded``
"""

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker

DSN = os.environ.get("HOTMESH_DSN", "postgresql://postgres@127.0.0.1:5432/test?schema=samples")
TASK_QUEUE = "hello-activity-threaded"


@activity.defn
def count_words_slowly(text: str) -> str:
    # Blocking work is fine here: this runs on the executor's thread, not the event loop.
    words = text.split()
    for index, _ in enumerate(words):
        activity.heartbeat(index)
        time.sleep(0.05)
    thread = threading.current_thread()
    on_worker_thread = thread is not threading.main_thread()
    return f"{len(words)} words, counted on a worker thread: {on_worker_thread}"


@workflow.defn
class WordCountWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            count_words_slowly,
            text,
            start_to_close_timeout=timedelta(seconds=10),
            heartbeat_timeout=timedelta(seconds=2),
        )


async def main() -> None:
    client = await Client.connect(DSN)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[WordCountWorkflow],
            activities=[count_words_slowly],
            activity_executor=executor,
        ):
            result = await client.execute_workflow(
                WordCountWorkflow.run,
                "the quick brown fox jumps over the lazy dog",
                id="hello-activity-threaded-workflow",
                task_queue=TASK_QUEUE,
            )
            print(f"Result: {result}")


if __name__ == "__main__":
    asyncio.run(main())
