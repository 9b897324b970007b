"""``HotMesh``: deploy, activate and run YAML apps on this engine.

    hm = await HotMesh.init(app_id="shop", engine=client, workers=[
        WorkerSpec("inventory.check", check_inventory), ...])
    await hm.deploy("app.yaml"); await hm.activate("1")
    result = await hm.pubsub("order.placed", {"sku": "a", "quantity": 2})

One ``HotMesh`` runs, in this process, one :class:`~hotmesh_temporal.worker.Worker`:
graph runs and the system activities on task queue ``hotmesh-<app>`` (unless
``engine_worker=False``), and the activity tasks of every worker topic it has a
callback for, each topic on its own queue ``hotmesh-<app>-<topic>`` (one claim loop
for all the queues). Everything else is client calls.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hotmesh_temporal import activity
from hotmesh_temporal.client import Client, WorkflowExecutionStatus
from hotmesh_temporal.client._hotmesh_extras import export_handle, semaphore
from hotmesh_temporal.common import TypedSearchAttributes
from hotmesh_temporal.exceptions import ApplicationError
from hotmesh_temporal.hotmesh.compiler import DeployError, compile_app
from hotmesh_temporal.hotmesh.interpreter import (
    APP_ATTRIBUTE,
    ESCALATE_ACTIVITY,
    ESCALATION_SIGNAL,
    HOOK_SIGNAL,
    INTERRUPT_ACTIVITY,
    SIGNAL_ACTIVITY,
    STATE_QUERY,
    VERSION_ATTRIBUTE,
    GraphRun,
    app_queue,
    hook_key,
    worker_queue,
)
from hotmesh_temporal.hotmesh.model import DEFAULT_CODE, CompiledApp, fingerprint
from hotmesh_temporal.hotmesh.pipe import PipeContext, resolve
from hotmesh_temporal.hotmesh.schema import schema_problems
from hotmesh_temporal.hotmesh.store import AppStore
from hotmesh_temporal.worker import Worker

WorkerCallback = Callable[[dict], Any]
logger = logging.getLogger("hotmesh_temporal.hotmesh")
# How far behind the newest close a subscription keeps looking (closes that commit
# out of order).
SUBSCRIPTION_MARGIN = timedelta(seconds=5)


@dataclass
class WorkerSpec:
    """A function that serves a worker topic: ``callback(data) -> result``, sync or async.

    The result is the activity's output data (a dict), or a :class:`WorkerResult` to
    report a status code that transitions can branch on (``conditions: {code: 404}``).
    An exception is retried per the activity's ``retry``; when the retries run out the
    activity ends with status 500 and ``{"message": ...}`` as its output data.
    """

    topic: str
    callback: WorkerCallback


@dataclass
class WorkerResult:
    data: dict = field(default_factory=dict)
    code: int = DEFAULT_CODE


@dataclass
class JobResult:
    """What ``pubsub`` returns: the job's data and its metadata (jid, app, vrs, ...)."""

    data: dict
    metadata: dict


class HotMeshError(RuntimeError):
    """A runtime call that cannot be served (no active version, unknown topic, ...)."""


def _filter_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class HotMesh:
    def __init__(
        self, app_id: str, client: Client, store: AppStore, *, colocated: bool = False
    ) -> None:
        self.app_id = app_id
        self.colocated = colocated
        self.client = client
        self.store = store
        self._compiled: dict[str, CompiledApp] = {}
        self._local_topics: set[str] = set()
        self._subsets: dict[tuple[str, str], tuple[CompiledApp, dict, str]] = {}
        self._workers: list[Worker] = []
        self._worker_tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def init(
        cls,
        app_id: str,
        engine: Client | str | None = None,
        workers: Iterable[WorkerSpec | Mapping[str, Any]] = (),
        *,
        engine_worker: bool = True,
        colocated: bool = False,
    ) -> HotMesh:
        """Connect (``engine`` is a connected Client, a DSN or a target; None means the
        default database, as ``Client.connect("localhost:7233")``), create the front
        end's tables if needed and start this process's workers.

        Worker topics are served on their own task queues (``hotmesh-<app>-<topic>``),
        so any process may serve any topic; this process's one Worker serves the app's
        queue and the queue of every topic in ``workers``, so a step whose topic is
        served here costs one round trip (handed over, then reported with the graph's
        next task), one served elsewhere four. ``colocated=True`` sends the steps of
        the runs it starts to the app queue instead; every process with an engine
        worker must then have every topic's callback."""
        client = (
            engine
            if isinstance(engine, Client)
            else await Client.connect(engine or "localhost:7233")
        )
        engine_service = await client._engine()
        store = AppStore(engine_service.pool, engine_service.schema)
        await store.ensure_schema()
        mesh = cls(app_id, client, store, colocated=colocated)
        specs = [_worker_spec(w) for w in workers]
        topics = [spec.topic for spec in specs]
        mesh._local_topics = set(topics)
        duplicated = {t for t in topics if topics.count(t) > 1}
        if duplicated:
            raise ValueError(f"more than one worker for topic(s) {sorted(duplicated)}")
        dispatchers = [_dispatcher(spec.topic, spec.callback) for spec in specs]
        if colocated and not engine_worker:
            raise ValueError(
                "colocated=True runs the callbacks in the engine worker: engine_worker must be True"
            )
        # One Worker serves everything of this process: the engine's queue and every
        # local topic's queue, with one claim loop and one wake-up for all of them;
        # a step whose topic is served here is handed to it as its workflow task
        # completes and reported with the next one (the engine's eager activities and
        # run-ahead), while any other process serving the topic may still claim it.
        topic_queues = [] if colocated else [worker_queue(app_id, t) for t in topics]
        if engine_worker:
            worker = Worker(
                client,
                task_queue=app_queue(app_id),
                workflows=[GraphRun],
                activities=mesh._system_activities() + dispatchers,
            )
        elif topic_queues:
            worker = Worker(client, task_queue=topic_queues[0], activities=dispatchers)
        else:
            return mesh
        if topic_queues:
            worker._also_run_activities_of(topic_queues)
        mesh._start(worker)
        return mesh

    def _start(self, worker: Worker) -> None:
        self._workers.append(worker)
        self._worker_tasks.append(asyncio.get_running_loop().create_task(worker.run()))

    async def stop(self) -> None:
        """Stop this process's workers (graph runs stay in the database)."""
        for worker in self._workers:
            await worker.shutdown()
        for task in self._worker_tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._workers.clear()
        self._worker_tasks.clear()

    async def __aenter__(self) -> HotMesh:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- versions

    async def deploy(self, source: str | Path) -> CompiledApp:
        """Compile and validate a manifest (path or YAML text) and store its version.
        Deploying the same version again with the same content is a no-op; with other
        content it is refused (versions are immutable: runs carry them)."""
        compiled = compile_app(source)
        file = (
            str(source)
            if isinstance(source, Path) or str(source).endswith((".yaml", ".yml"))
            else "<text>"
        )
        if compiled.id != self.app_id:
            raise DeployError(
                f"app.id is {compiled.id!r} but this HotMesh serves {self.app_id!r}", file=file
            )
        document = compiled.to_json()
        await self.store.execute(
            "insert_version",
            self.app_id,
            compiled.version,
            document,
            file if file != "<text>" else "",
        )
        row = await self.store.fetchrow("deployed_version", self.app_id, compiled.version)
        if _canonical(row["compiled"]) != _canonical(document):
            raise DeployError(
                f"version {compiled.version!r} is already deployed with other content; "
                "deploy a new version",
                file=file,
            )
        self._compiled[compiled.version] = compiled
        return compiled

    async def activate(self, version: str) -> None:
        """Make ``version`` the one every new run of the app uses, across the fleet, in
        one statement. Runs in flight finish on the version they started with."""
        status = await self.store.execute("activate_version", self.app_id, str(version))
        if status == "UPDATE 0":
            raise HotMeshError(f"version {version!r} of app {self.app_id!r} is not deployed")

    async def active_version(self) -> str | None:
        row = await self.store.fetchrow("active_version_label", self.app_id)
        return None if row is None else row["version"]

    async def _active_app(self) -> CompiledApp:
        row = await self.store.fetchrow("active_version_label", self.app_id)
        if row is None:
            raise HotMeshError(f"app {self.app_id!r} has no active version (deploy, then activate)")
        return await self._version(row["version"])

    async def _version(self, version: str) -> CompiledApp:
        compiled = self._compiled.get(version)
        if compiled is None:
            row = await self.store.fetchrow("deployed_version", self.app_id, version)
            if row is None:
                raise HotMeshError(f"version {version!r} of app {self.app_id!r} is not deployed")
            compiled = self._compiled[version] = CompiledApp.from_json(row["compiled"])
        return compiled

    async def _all_versions(self) -> list[CompiledApp]:
        rows = await self.store.fetch("list_versions", self.app_id)
        return [await self._version(r["version"]) for r in rows]

    # ------------------------------------------------------------------ running

    async def pub(self, topic: str, data: dict | None = None, *, job_id: str | None = None) -> str:
        """Start a run of the graph subscribed to ``topic``; returns its job id (the
        workflow id)."""
        return (await self._start_run(topic, data, job_id)).id

    async def pubsub(
        self,
        topic: str,
        data: dict | None = None,
        *,
        timeout: float = 60.0,
        job_id: str | None = None,
    ) -> JobResult:
        """Start a run and wait (up to ``timeout`` seconds) for its output."""
        handle = await self._start_run(topic, data, job_id)
        return _job_result(await asyncio.wait_for(handle.result(), timeout))

    def _run_graphs(self, app: CompiledApp, topic: str) -> tuple[CompiledApp, dict, str]:
        """The graphs a run of ``topic`` needs, as JSON with its fingerprint (cached:
        versions never change once deployed)."""
        key = (app.version, topic)
        cached = self._subsets.get(key)
        if cached is None:
            runs = app.subset_for(topic)
            document = runs.to_json()
            cached = self._subsets[key] = (runs, document, fingerprint(document))
        return cached

    async def _start_run(self, topic: str, data: dict | None, job_id: str | None) -> Any:
        app = await self._active_app()
        graph = app.graph_for(topic)
        if graph is None:
            raise HotMeshError(
                f"no graph of app {self.app_id!r} v{app.version} subscribes to {topic!r}"
            )
        problems = schema_problems(graph.input_schema, data or {})
        if problems:
            raise HotMeshError(
                f"input for {topic!r} (app {self.app_id!r} v{app.version}) does not fit the "
                f"graph's input schema: {'; '.join(problems)}"
            )
        runs, document, print_ = self._run_graphs(app, topic)
        if self.colocated:
            missing = {
                a.topic for g in runs.graphs for a in g.activities.values() if a.type == "worker"
            } - self._local_topics
            if missing:
                raise HotMeshError(
                    f"colocated runs need every worker topic served here; missing {sorted(missing)}"
                )
        return await self.client.start_workflow(
            topic,
            {
                "app": document,
                "fingerprint": print_,
                "topic": topic,
                "data": data or {},
                "routes": {"*": app_queue(self.app_id)} if self.colocated else {},
            },
            id=job_id or f"{topic}-{uuid.uuid4().hex}",
            task_queue=app_queue(self.app_id),
            search_attributes=TypedSearchAttributes(
                [APP_ATTRIBUTE.value_set(self.app_id), VERSION_ATTRIBUTE.value_set(app.version)]
            ),
        )

    async def result(self, job_id: str, *, timeout: float | None = None) -> JobResult:
        handle = self.client.get_workflow_handle(job_id)
        return _job_result(await asyncio.wait_for(handle.result(), timeout))

    # ------------------------------------------------------------------ signals

    async def signal(self, topic: str, data: dict) -> str | None:
        """Deliver ``data`` to the one job whose hook waits on ``topic`` with the key
        the graph's ``hooks:`` rule computes from ``data``; returns its job id, or None
        when no job waits (nothing is delivered then)."""
        found = await self._waiting_jobs(topic, data, None, first_only=True)
        for jid in found:
            await self.client.get_workflow_handle(jid).signal(
                HOOK_SIGNAL, {"topic": topic, "data": data}
            )
        return found[0] if found else None

    async def signal_all(self, topic: str, data: dict, *, key: Any = None) -> list[str]:
        """Deliver ``data`` to every job waiting on ``topic`` (with ``key`` when given,
        else the key computed from ``data``)."""
        found = await self._waiting_jobs(topic, data, key, first_only=False)
        for jid in found:
            await self.client.get_workflow_handle(jid).signal(
                HOOK_SIGNAL, {"topic": topic, "data": data}
            )
        return found

    async def _waiting_jobs(
        self, topic: str, data: dict, key: Any, *, first_only: bool
    ) -> list[str]:
        keys = [hook_key(topic, key)] if key is not None else await self._signal_keys(topic, data)
        found: list[str] = []
        for value in keys:
            query = (
                f"HotMeshHooks = {_filter_literal(value)} AND ExecutionStatus = 'Running' "
                f"AND HotMeshApp = {_filter_literal(self.app_id)}"
            )
            async for execution in self.client.list_workflows(query):
                if execution.id not in found:
                    found.append(execution.id)
                if first_only:
                    return found
        return found

    async def _signal_keys(self, topic: str, data: dict) -> list[str]:
        """The hook keys ``data`` names, per the ``hooks:`` rules of every deployed
        version (a job waiting on an older version keeps its version's rule)."""
        keys: list[str] = []
        for app in await self._all_versions():
            for graph in app.graphs:
                for rule in graph.hooks.get(topic, []):
                    ctx = PipeContext(
                        activities={rule.to: {"hook": {"data": data}}},
                        job={},
                        settings=app.settings,
                        now=_utcnow(),
                        self_id=rule.to,
                    )
                    value = resolve(rule.signal_key, ctx) if rule.signal_key is not None else None
                    key = hook_key(topic, value)
                    if key not in keys:
                        keys.append(key)
        return keys

    async def interrupt(self, job_id: str, reason: str = "interrupted") -> None:
        """Stop a job at once (a termination: its awaited children end with it)."""
        await self.client.get_workflow_handle(job_id).terminate(reason)

    # -------------------------------------------------------------------- reads

    async def get_status(self, job_id: str) -> int:
        """HotMesh's job semaphore: 0 completed, a positive count of activities still
        open while running, negative when interrupted, failed, or timed out."""
        handle = self.client.get_workflow_handle(job_id)
        return await semaphore(handle)

    async def get_state(self, job_id: str) -> dict:
        """The job's metadata, data and per-activity state (input, output, hook)."""
        handle = self.client.get_workflow_handle(job_id)
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.COMPLETED:
            outcome = await handle.result()
            return {
                "metadata": outcome.get("metadata"),
                "data": outcome.get("data"),
                "activities": None,
            }
        if description.status == WorkflowExecutionStatus.RUNNING:
            return await handle.query(STATE_QUERY)
        return {
            "metadata": {"jid": job_id, "js": -1, "status": description.status.name},
            "data": None,
            "activities": None,
        }

    async def export(self, job_id: str, allow: Sequence[str] | None = None) -> dict:
        """The job as one document: ``data``, ``state``, ``status`` and ``timeline``
        (its history as activities, timers, signals), filtered to ``allow``."""
        return await export_handle(self.client.get_workflow_handle(job_id), allow)

    # -------------------------------------------------------------- escalations

    async def list_escalations(
        self, *, role: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[dict]:
        rows = await self.store.fetch("list_escalations", self.app_id, role, status, limit)
        return [dict(r) for r in rows]

    async def claim_escalation(
        self, escalation_id: str, claimant: str, *, expire_seconds: float = 300
    ) -> dict | None:
        """Claim a pending escalation (or one whose claim is older than
        ``expire_seconds``); returns the row, or None when someone else holds it."""
        row = await self.store.fetchrow(
            "claim_escalation", escalation_id, claimant, float(expire_seconds)
        )
        return None if row is None else dict(row)

    async def resolve_escalation(self, escalation_id: str, data: dict) -> bool:
        """Resolve an escalation: its waiting hook resumes with ``data`` as hook data.
        False when it is unknown or already resolved."""
        row = await self.store.fetchrow("resolve_escalation", escalation_id, data)
        if row is None:
            return False
        await self.client.get_workflow_handle(row["job_id"]).signal(
            ESCALATION_SIGNAL, {"id": escalation_id, "data": data}
        )
        return True

    # --------------------------------------------------------- sub / psub

    async def sub(
        self, topic: str, callback: Callable[[JobResult], Any], *, poll_interval: float = 0.2
    ) -> Callable[[], Awaitable[None]]:
        """Call ``callback`` with the output of every job of the graph that
        ``publishes`` ``topic`` and completes after this call returns. Returns an async
        ``unsub``."""
        return await self._subscribe(lambda published: published == topic, callback, poll_interval)

    async def psub(
        self, pattern: str, callback: Callable[[JobResult], Any], *, poll_interval: float = 0.2
    ) -> Callable[[], Awaitable[None]]:
        """``sub`` for every publish topic matching ``pattern`` (``*`` is a wildcard)."""
        import fnmatch

        return await self._subscribe(
            lambda published: fnmatch.fnmatchcase(published, pattern), callback, poll_interval
        )

    async def _subscribe(
        self,
        wanted: Callable[[str], bool],
        callback: Callable[[JobResult], Any],
        poll_interval: float,
    ) -> Callable[[], Awaitable[None]]:
        engine_service = await self.client._engine()
        since = await engine_service.now()  # the database's clock, as CloseTime is
        task = asyncio.get_running_loop().create_task(
            self._poll_completions(wanted, callback, poll_interval, since)
        )

        async def unsub() -> None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

        return unsub

    async def _poll_completions(
        self,
        wanted: Callable[[str], bool],
        callback: Callable[[JobResult], Any],
        poll_interval: float,
        since: datetime,
    ) -> None:
        # The database is the source of truth: completed runs are read from visibility,
        # each delivered once per subscription. The window starts at subscription time
        # and moves up to the newest close seen (less a margin for runs whose close
        # commits out of order); runs already delivered are remembered until they fall
        # out of the window.
        delivered: dict[str, datetime] = {}
        while True:
            versions = await self._all_versions()
            publishes = {(a.version, g.subscribes): g.publishes for a in versions for g in a.graphs}
            types = {t for (_, t), p in publishes.items() if p and wanted(p)}
            query = (
                f"HotMeshApp = {_filter_literal(self.app_id)} AND ExecutionStatus = 'Completed' "
                f"AND CloseTime >= {_filter_literal(since.isoformat())}"
            )
            newest = since
            async for execution in self.client.list_workflows(query):
                closed = execution.close_time or since
                newest = max(newest, closed)
                if execution.run_id in delivered or execution.workflow_type not in types:
                    continue
                delivered[execution.run_id] = closed
                handle = self.client.get_workflow_handle(execution.id, run_id=execution.run_id)
                job = _job_result(await handle.result())
                topic = publishes.get((job.metadata.get("vrs"), execution.workflow_type), "")
                if topic and wanted(topic):
                    await _deliver(callback, job)
            since = max(since, newest - SUBSCRIPTION_MARGIN)
            delivered = {run: at for run, at in delivered.items() if at >= since}
            await asyncio.sleep(poll_interval)

    # -------------------------------------------------------- system activities

    def _system_activities(self) -> list[Callable[..., Any]]:
        mesh = self

        @activity.defn(name=SIGNAL_ACTIVITY)
        async def signal_jobs(request: dict) -> list:
            data = request.get("data") or {}
            if request.get("all"):
                return await mesh.signal_all(request["topic"], data, key=request.get("key"))
            found = await mesh._waiting_jobs(
                request["topic"], data, request.get("key"), first_only=True
            )
            for jid in found:
                await mesh.client.get_workflow_handle(jid).signal(
                    HOOK_SIGNAL, {"topic": request["topic"], "data": data}
                )
            return found

        @activity.defn(name=ESCALATE_ACTIVITY)
        async def open_escalation(row: dict) -> None:
            await mesh.store.execute(
                "open_escalation",
                row["id"],
                row["app_id"],
                row["job_id"],
                row["activity_id"],
                row["role"],
                row["type"],
                row["subtype"],
                int(row["priority"]),
                row["description"],
                row["metadata"],
                row["envelope"],
            )

        @activity.defn(name=INTERRUPT_ACTIVITY)
        async def interrupt_job(request: dict) -> None:
            await mesh.interrupt(request["job_id"], request.get("reason") or "interrupted")

        return [signal_jobs, open_escalation, interrupt_job]


def _worker_spec(worker: WorkerSpec | Mapping[str, Any]) -> WorkerSpec:
    """A WorkerSpec, or HotMesh's shape ``{"topic": ..., "callback": ...}``."""
    if isinstance(worker, WorkerSpec):
        spec = worker
    elif isinstance(worker, Mapping) and {"topic", "callback"} <= set(worker):
        spec = WorkerSpec(worker["topic"], worker["callback"])
    else:
        raise TypeError(
            f"a worker is a WorkerSpec or {{'topic': ..., 'callback': ...}}, not {worker!r}"
        )
    if not isinstance(spec.topic, str) or not spec.topic or not callable(spec.callback):
        raise TypeError(f"a worker needs a topic string and a callable callback, got {spec!r}")
    return spec


def _dispatcher(topic: str, callback: WorkerCallback) -> Callable[..., Any]:
    """The activity serving one worker topic: decode, call, normalise the result."""
    is_async = inspect.iscoroutinefunction(callback)

    @activity.defn(name=topic)
    async def dispatch(data: dict) -> dict:
        result = await callback(data) if is_async else await asyncio.to_thread(callback, data)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, WorkerResult):
            return {"code": int(result.code), "data": result.data or {}}
        if result is None:
            return {"code": DEFAULT_CODE, "data": {}}
        if not isinstance(result, dict):
            raise ApplicationError(
                f"worker {topic!r} returned {type(result).__name__}; return a dict or WorkerResult",
                non_retryable=True,
            )
        return {"code": DEFAULT_CODE, "data": result}

    return dispatch


async def _deliver(callback: Callable[[JobResult], Any], job: JobResult) -> None:
    """Call a subscriber; its failure is logged and does not end the subscription."""
    try:
        result = callback(job)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("hotmesh subscriber failed on job %s", job.metadata.get("jid"))


def _job_result(outcome: dict) -> JobResult:
    return JobResult(data=outcome.get("data") or {}, metadata=outcome.get("metadata") or {})


def _canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _utcnow() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


__all__ = ["HotMesh", "HotMeshError", "JobResult", "WorkerResult", "WorkerSpec"]
