"""Client and worker plugins: they edit options before the client or worker is built
and wrap connecting and running, as temporalio's plugins do."""

from __future__ import annotations

import uuid
from datetime import timedelta

import hotmesh_temporal.client
import hotmesh_temporal.worker
from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@workflow.defn
class GreetWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=10)
        )


class CountingInterceptor(hotmesh_temporal.client.Interceptor):
    def __init__(self) -> None:
        self.started: list[str] = []

    def intercept_client(self, next):
        outer = self

        class Outbound(hotmesh_temporal.client.OutboundInterceptor):
            async def start_workflow(self, input):
                outer.started.append(input.id)
                return await super().start_workflow(input)

        return Outbound(next)


class ClientAndWorkerPlugin(hotmesh_temporal.client.Plugin, hotmesh_temporal.worker.Plugin):
    """Adds an interceptor to the client and the activity to every worker."""

    def __init__(self) -> None:
        self.interceptor = CountingInterceptor()
        self.events: list[str] = []

    def configure_client(self, config):
        config["interceptors"] = list(config.get("interceptors") or []) + [self.interceptor]
        return config

    async def connect_service_client(self, config, next):
        self.events.append(f"connect identity={config.identity}")
        return await next(config)

    def configure_worker(self, config):
        config["activities"] = list(config.get("activities") or []) + [greet]
        return config

    async def run_worker(self, worker, next):
        self.events.append("worker starting")
        await next(worker)
        self.events.append("worker stopped")

    def configure_replayer(self, config):
        return config

    def run_replayer(self, replayer, histories, next):
        return next(replayer, histories)


async def test_client_and_worker_plugin(dsn):
    plugin = ClientAndWorkerPlugin()
    client = await Client.connect(dsn, plugins=[plugin], identity="plugin-test")
    assert plugin.events == ["connect identity=plugin-test"]
    assert plugin.interceptor in client.config()["interceptors"]
    queue = f"plugins-{uuid.uuid4()}"
    workflow_id = f"plugin-{uuid.uuid4()}"
    # The worker gets its activity from the client's plugin alone.
    async with Worker(client, task_queue=queue, workflows=[GreetWorkflow]):
        assert plugin.events[-1] == "worker starting"
        result = await client.execute_workflow(
            GreetWorkflow.run, "plugins", id=workflow_id, task_queue=queue
        )
    assert result == "hello plugins"
    assert plugin.events[-1] == "worker stopped"
    assert plugin.interceptor.started == [workflow_id]


class RenameQueuePlugin(hotmesh_temporal.worker.Plugin):
    def __init__(self, queue: str) -> None:
        self.queue = queue

    def configure_worker(self, config):
        config["task_queue"] = self.queue
        return config

    async def run_worker(self, worker, next):
        await next(worker)

    def configure_replayer(self, config):
        return config

    def run_replayer(self, replayer, histories, next):
        return next(replayer, histories)


async def test_worker_plugin_changes_options(client):
    queue = f"renamed-{uuid.uuid4()}"
    worker = Worker(
        client,
        task_queue="ignored",
        workflows=[GreetWorkflow],
        activities=[greet],
        plugins=[RenameQueuePlugin(queue)],
    )
    assert worker.task_queue == queue
    async with worker:
        result = await client.execute_workflow(
            GreetWorkflow.run, "renamed", id=f"plugin-{uuid.uuid4()}", task_queue=queue
        )
    assert result == "hello renamed"


class AddActivityPlugin(hotmesh_temporal.worker.Plugin):
    """Adds an activity and a cache size, as plugins commonly do."""

    def configure_worker(self, config):
        config["activities"] = list(config.get("activities") or []) + [greet]
        config["max_cached_workflows"] = 7
        return config

    async def run_worker(self, worker, next):
        await next(worker)

    def configure_replayer(self, config):
        return config

    def run_replayer(self, replayer, histories, next):
        return next(replayer, histories)


async def test_worker_config_reports_given_and_plugin_options(client):
    worker = Worker(
        client,
        task_queue="config-tq",
        workflows=[GreetWorkflow],
        plugins=[AddActivityPlugin()],
    )
    given = worker.config()
    active = worker.config(active_config=True)
    # As temporalio: every WorkerConfig key, activities and workflows as fresh lists.
    assert set(given) == set(hotmesh_temporal.worker.WorkerConfig.__annotations__)
    assert given["activities"] == [] and given["max_cached_workflows"] == 1000
    assert active["activities"] == [greet] and active["max_cached_workflows"] == 7
    assert active["workflows"] == [GreetWorkflow] and active["task_queue"] == "config-tq"
    active["activities"].append(None)
    assert worker.config(active_config=True)["activities"] == [greet]
