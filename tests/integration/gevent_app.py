"""A worker run as temporalio's gevent sample runs one: gevent patches everything, the
asyncio loop runs in a thread of gevent's pool, activities and workflow tasks go to an
executor built on that pool. Used by test_gevent.py in a process of its own.

    python gevent_app.py DSN TASK_QUEUE run           # run workflows, stop the worker
    python gevent_app.py DSN TASK_QUEUE foreign-loop  # the loop made in the main thread
    python gevent_app.py DATA_DIR - embedded          # start an embedded Postgres there
"""

from gevent import monkey

monkey.patch_all()

import asyncio  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import Future  # noqa: E402
from datetime import timedelta  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from gevent import threadpool  # noqa: E402

from hotmesh_temporal import activity, workflow  # noqa: E402
from hotmesh_temporal.client import Client  # noqa: E402
from hotmesh_temporal.worker import Worker  # noqa: E402


class GeventPoolExecutor(threadpool.ThreadPoolExecutor):
    """gevent's thread pool handing out standard futures (gevent's own do not call
    done callbacks reliably), as the sample's executor does."""

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        future: Future = Future()

        def run() -> None:
            try:
                outcome = fn(*args, **kwargs)
            except BaseException as err:  # noqa: BLE001 - handed to the future
                if not future.cancelled():
                    future.set_exception(err)
            else:
                if not future.cancelled():
                    future.set_result(outcome)

        super().submit(run)
        return future


@activity.defn
def greet_in_thread(name: str) -> str:
    return f"Hello, {name}"


@activity.defn
async def greet_on_loop(name: str) -> str:
    await asyncio.sleep(0.05)
    return f"Hi, {name}"


@activity.defn
def outlives_worker() -> None:
    while not activity.is_cancelled():
        activity.heartbeat()
        time.sleep(0.05)


@workflow.defn
class Greetings:
    @workflow.run
    async def run(self, name: str) -> str:
        first = await workflow.execute_activity(
            greet_in_thread, name, start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.sleep(0.1)
        second = await workflow.execute_activity(
            greet_on_loop, name, start_to_close_timeout=timedelta(seconds=10)
        )
        return f"{first} / {second}"


@workflow.defn
class StillRunning:
    """Cached in the worker, with an activity running, when the worker stops."""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            outlives_worker,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=5),
        )


async def run_worker(dsn: str, task_queue: str, serve: bool = False) -> None:
    stop = None
    if serve:  # until SIGINT, which gevent delivers to the main thread's hub
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        STOP_CALLBACKS.append(lambda: loop.call_soon_threadsafe(stop.set))
    client = await Client.connect(dsn)
    with GeventPoolExecutor(max_workers=20) as executor:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[Greetings, StillRunning],
            activities=[greet_in_thread, greet_on_loop, outlives_worker],
            activity_executor=executor,
            workflow_task_executor=executor,
            max_concurrent_activities=10,
            max_concurrent_workflow_tasks=10,
        ):
            for n in range(3):
                result = await client.execute_workflow(
                    Greetings.run, f"gevent {n}", id=f"{task_queue}-{n}", task_queue=task_queue
                )
                print(result, flush=True)
            await client.start_workflow(
                StillRunning.run, id=f"{task_queue}-running", task_queue=task_queue
            )
            await asyncio.sleep(1)
            if stop is not None:
                print("worker ready", flush=True)
                await stop.wait()
    print("worker stopped", flush=True)


STOP_CALLBACKS: list = []


def main() -> None:
    dsn, task_queue, mode = sys.argv[1:4]
    gevent.signal_handler(signal.SIGINT, lambda: [stop() for stop in STOP_CALLBACKS])
    with GeventPoolExecutor(max_workers=1) as runner:
        if mode == "embedded":  # what a host:port target uses with no Postgres around
            from hotmesh_temporal._engine.store.embedded import start_embedded

            runner.submit(asyncio.run, start_embedded(dsn)).result()
        elif mode == "foreign-loop":
            loop = asyncio.new_event_loop()  # made here, run in the pool's thread
            runner.submit(loop.run_until_complete, Client.connect(dsn)).result()
        else:
            runner.submit(asyncio.run, run_worker(dsn, task_queue, mode == "serve")).result()
    print("exited", flush=True)


if __name__ == "__main__":
    main()
