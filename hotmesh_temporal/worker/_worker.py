"""The Worker: polls one task queue for workflow and activity tasks and runs them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import os
import pickle
import socket
import uuid
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from hotmesh_temporal import activity as activity_api
from hotmesh_temporal._engine.service.limits import InvalidStringError, Limits, check_name
from hotmesh_temporal._engine.worker import timeskip
from hotmesh_temporal._engine.worker.activity_worker import ActivityWorker, ActivityWorkerConfig
from hotmesh_temporal._engine.worker.local_activities import LocalActivityExecutor
from hotmesh_temporal._engine.worker.sweeper import Sweeper
from hotmesh_temporal._engine.worker.workflow_worker import (
    WorkflowWorker,
    WorkflowWorkerConfig,
    workflow_interceptor_classes,
)
from hotmesh_temporal.runtime import Runtime, _worker_metrics
from hotmesh_temporal.worker._option_checks import check_worker_options
from hotmesh_temporal.worker._plugin import Plugin, configured_by_plugins, run_through_plugins
from hotmesh_temporal.worker._tuning import PollerBehavior, PollerBehaviorSimpleMaximum, slot_limits
from hotmesh_temporal.worker._workflow_runner import (
    PatchActivationInput,
    UnsandboxedWorkflowRunner,
    WorkflowRunner,
)
from hotmesh_temporal.worker.workflow_sandbox import SandboxedWorkflowRunner
from hotmesh_temporal.workflow._definition import WorkflowDefinition

logger = logging.getLogger("hotmesh_temporal.worker._worker")  # temporalio's name, below ours

_DEFAULT_POLLER = PollerBehaviorSimpleMaximum(maximum=5)

_UNSET: Any = object()


def default_identity() -> str:
    return f"{os.getpid()}@{socket.gethostname()}"


class Worker:
    """Polls a task queue and runs the workflows and activities registered on it.

    Same constructor as ``temporalio.worker.Worker``. Options that only make sense for
    a Temporal server's task-queue machinery (poller behaviours, tuners, deployment
    versioning, Nexus) are accepted and ignored; see docs/compatibility.md.
    """

    _plugins: list[Plugin]  # set by @configured_by_plugins before __init__ runs

    # Set by run_through_plugins (worker/_plugin.py) as the worker is built: the options
    # as given, and as the plugins changed them.
    _initial_config: dict[str, Any]
    _config: dict[str, Any]

    @configured_by_plugins
    def __init__(
        self,
        client: Any,
        *,
        task_queue: str,
        activities: Sequence[Callable] = [],
        nexus_service_handlers: Sequence[Any] = [],
        workflows: Sequence[type] = [],
        activity_executor: concurrent.futures.Executor | None = None,
        workflow_task_executor: concurrent.futures.ThreadPoolExecutor | None = None,
        nexus_task_executor: concurrent.futures.ThreadPoolExecutor | None = None,
        workflow_runner: WorkflowRunner = SandboxedWorkflowRunner(),  # noqa: B008 (as temporalio)
        unsandboxed_workflow_runner: WorkflowRunner = UnsandboxedWorkflowRunner(),  # noqa: B008
        plugins: Sequence[Any] = [],
        interceptors: Sequence[Any] = [],
        build_id: str | None = None,
        identity: str | None = None,
        max_cached_workflows: int = 1000,
        max_concurrent_workflow_tasks: int | None = None,
        max_concurrent_activities: int | None = None,
        max_concurrent_local_activities: int | None = None,
        max_concurrent_nexus_tasks: int | None = None,
        tuner: Any = None,
        max_concurrent_workflow_task_polls: int | None = None,
        nonsticky_to_sticky_poll_ratio: float = 0.2,
        max_concurrent_activity_task_polls: int | None = None,
        no_remote_activities: bool = False,
        sticky_queue_schedule_to_start_timeout: timedelta = timedelta(seconds=10),
        max_heartbeat_throttle_interval: timedelta = timedelta(seconds=60),
        default_heartbeat_throttle_interval: timedelta = timedelta(seconds=30),
        max_activities_per_second: float | None = None,
        max_task_queue_activities_per_second: float | None = None,
        max_eager_activity_reservations_per_workflow_task: int = 3,
        graceful_shutdown_timeout: timedelta = timedelta(),
        plugin_shutdown_timeout: timedelta | None = timedelta(seconds=60),
        workflow_failure_exception_types: Sequence[type[BaseException]] = [],
        shared_state_manager: Any = None,
        debug_mode: bool = False,
        disable_eager_activity_execution: bool = False,
        on_fatal_error: Callable[[BaseException], Awaitable[None]] | None = None,
        use_worker_versioning: bool = False,
        disable_safe_workflow_eviction: bool = False,
        deployment_config: Any = None,
        patch_activation_callback: Any = None,
        workflow_task_poller_behavior: PollerBehavior = _DEFAULT_POLLER,
        activity_task_poller_behavior: PollerBehavior = _DEFAULT_POLLER,
        nexus_task_poller_behavior: PollerBehavior = _DEFAULT_POLLER,
        disable_payload_error_limit: bool = False,
        max_workflow_task_external_storage_concurrency: int = 3,
    ) -> None:
        if not activities and not workflows:
            raise ValueError("At least one activity, Nexus service, or workflow must be specified")
        if not task_queue:
            raise ValueError("task_queue is required")
        check_worker_options(
            {
                "workflows": workflows,
                "workflow_task_executor": workflow_task_executor,
                "build_id": build_id,
                "use_worker_versioning": use_worker_versioning,
                "deployment_config": deployment_config,
                "max_workflow_task_external_storage_concurrency": (
                    max_workflow_task_external_storage_concurrency
                ),
                "max_eager_activity_reservations_per_workflow_task": (
                    max_eager_activity_reservations_per_workflow_task
                ),
                "max_cached_workflows": max_cached_workflows,
                "tuner": tuner,
                "max_concurrent_workflow_tasks": max_concurrent_workflow_tasks,
                "max_concurrent_activities": max_concurrent_activities,
                "max_concurrent_local_activities": max_concurrent_local_activities,
                "max_concurrent_nexus_tasks": max_concurrent_nexus_tasks,
                "workflow_task_poller_behavior": workflow_task_poller_behavior,
                "activity_task_poller_behavior": activity_task_poller_behavior,
                "max_concurrent_workflow_task_polls": max_concurrent_workflow_task_polls,
                "max_concurrent_activity_task_polls": max_concurrent_activity_task_polls,
                "max_activities_per_second": max_activities_per_second,
            }
        )
        _check_task_queue(client, task_queue)
        self._client = client
        self._task_queue = task_queue
        self._identity = identity or client.identity or default_identity()
        # Leases and the sticky cache are keyed per Worker object, so several workers
        # in one process (same identity) never mistake each other's cache.
        self._worker_key = f"{self._identity}/{uuid.uuid4().hex[:8]}"
        self._graceful_shutdown = graceful_shutdown_timeout.total_seconds()
        self._interceptors = list(client.config()["interceptors"] or []) + list(interceptors)
        self._interceptors = [i for i in self._interceptors if _is_worker_interceptor(i)]
        self._activity_defs = _activity_definitions(
            activities, activity_executor, shared_state_manager
        )
        self._shared_state_manager = shared_state_manager
        self._workflow_defs, self._dynamic_workflow = _workflow_definitions(workflows)
        self._workflow_interceptors = (
            workflow_interceptor_classes(self._interceptors)
            if self._workflow_defs or self._dynamic_workflow
            else ((), {})
        )
        self._activity_executor = activity_executor
        self._workflow_task_executor = workflow_task_executor
        # As given (None: the pool takes temporalio's default size).
        self._max_concurrent_workflow_tasks = max_concurrent_workflow_tasks
        slots = slot_limits(
            tuner,
            max_concurrent_workflow_tasks,
            max_concurrent_activities,
            max_concurrent_local_activities,
        )
        if activities:
            requested = max_concurrent_activities if tuner is None else slots["activity"]
            _warn_if_executor_smaller(activity_executor, requested)
        self._settings = dict(
            max_cached_workflows=max_cached_workflows,
            max_concurrent_workflow_tasks=slots["workflow"],
            max_concurrent_activities=slots["activity"],
            max_concurrent_local_activities=slots["local_activity"],
            max_heartbeat_throttle=max_heartbeat_throttle_interval.total_seconds(),
            default_heartbeat_throttle=default_heartbeat_throttle_interval.total_seconds(),
            # Eager activities skip the task queue, so a queue rate turns them off.
            max_eager=0
            if disable_eager_activity_execution
            or no_remote_activities
            or max_task_queue_activities_per_second
            else max_eager_activity_reservations_per_workflow_task,
            max_activities_per_second=max_activities_per_second,
            max_task_queue_activities_per_second=max_task_queue_activities_per_second,
            no_remote_activities=no_remote_activities,
            failure_exception_types=list(workflow_failure_exception_types),
            debug_mode=debug_mode,
            sticky_timeout=sticky_queue_schedule_to_start_timeout.total_seconds(),
            patch_activation_callback=patch_activation_callback,
            payload_error_limit=not disable_payload_error_limit,
            storage_concurrency=max_workflow_task_external_storage_concurrency,
        )
        self._refused_calls = _refused_calls(workflow_runner)
        self._on_fatal_error = on_fatal_error
        self._started = False
        self._shutdown_started = asyncio.Event() if _has_loop() else None
        self._run_task: asyncio.Task | None = None
        self._ready: asyncio.Event | None = None
        self._activity_worker: ActivityWorker | None = None
        self._workflow_worker: WorkflowWorker | None = None
        self._sweeper: Sweeper | None = None
        self._done: asyncio.Event | None = None
        self._live_queues: list[tuple] = []
        # Further queues whose activity tasks this worker runs (_also_run_activities_of).
        self._also_activity_queues: tuple[str, ...] = ()
        # A fatal error (the activity executor broke): run() and `async with` raise it.
        self._fatal: BaseException | None = None
        self._fatal_task: asyncio.Task | None = None
        self._stopping = False
        self._entered_task: asyncio.Task | None = None
        self._exiting = False
        self._announcements: list[timeskip.QueueAnnouncement] = []

    # ------------------------------------------------------------------- public

    @property
    def task_queue(self) -> str:
        return self._task_queue

    @property
    def client(self) -> Any:
        return self._client

    @client.setter
    def client(self, value: Any) -> None:
        self._client = value

    def _also_run_activities_of(self, task_queues: Sequence[str]) -> None:
        """Claim the activity tasks of ``task_queues`` too, besides ``task_queue``'s,
        with the same claim loop, wake-up and slots (one claim statement asks every
        queue), and take activities scheduled on them eagerly like the task queue's.
        Workflow tasks are still only those of ``task_queue``. Not part of temporalio's
        Worker: the YAML front end serves all the worker topics of a process this way
        (hotmesh/runtime.py). Call before the worker starts."""
        if self._started:
            raise RuntimeError("the worker's queues are fixed once it has started")
        if not (self._activity_defs[0] or self._activity_defs[1]):
            raise ValueError("a worker without activities cannot serve activity task queues")
        if self._settings["max_task_queue_activities_per_second"]:
            raise ValueError(
                "max_task_queue_activities_per_second is a rate of one task queue; "
                "it cannot be combined with further activity task queues"
            )
        queues: list[str] = []
        for queue in task_queues:
            if not queue:
                raise ValueError("a further activity task_queue must not be empty")
            _check_task_queue(self._client, queue)
            if queue != self._task_queue and queue not in queues:
                queues.append(queue)
        self._also_activity_queues = tuple(queues)

    @property
    def is_running(self) -> bool:
        return self._started and self._done is not None and not self._done.is_set()

    @property
    def is_shutdown(self) -> bool:
        return self._done is not None and self._done.is_set()

    def config(self, *, active_config: bool = False) -> dict[str, Any]:
        """The options this worker was created with, shallow-copied (for building a
        similar worker); ``active_config=True``: as the plugins changed them."""
        config = dict(self._config if active_config else self._initial_config)
        config["activities"] = list(config.get("activities", []))
        config["workflows"] = list(config.get("workflows", []))
        return config

    async def run(self) -> None:
        """Run until shutdown() is called (or the task running this is cancelled),
        through each plugin's ``run_worker``."""
        await run_through_plugins(self, self._plugins, Worker._run_until_shutdown)

    async def _run_until_shutdown(self) -> None:
        await self._start()
        assert self._done is not None
        try:
            await self._done.wait()
        except asyncio.CancelledError:
            logger.info("Worker cancelled, shutting down")
            await self.shutdown()
            raise
        if self._fatal is not None:
            raise self._fatal

    async def shutdown(self) -> None:
        """Stop polling, let running tasks finish (activities get
        ``graceful_shutdown_timeout``, then are cancelled), and return when done."""
        if not self._started or self._done is None or self._done.is_set():
            return
        if self._stopping:  # a shutdown is under way (a fatal error started it)
            await self._done.wait()
            return
        self._stopping = True
        logger.info(
            f"Beginning worker shutdown, will wait {timedelta(seconds=self._graceful_shutdown)} "
            "before cancelling activities"
        )
        if self._activity_worker is not None:
            await self._activity_worker.shutdown(self._graceful_shutdown)
        if self._workflow_worker is not None:
            await self._workflow_worker.shutdown()
        if self._sweeper is not None:
            await self._sweeper.release()
        for live in self._live_queues:
            timeskip.worker_stopped(*live)
        self._live_queues = []
        for announcement in self._announcements:
            await announcement.stop()
        self._announcements = []
        self._done.set()

    def _on_fatal(self, err: BaseException) -> None:
        """The activity executor broke: as temporalio, log, call on_fatal_error, shut
        down, and make run() / `async with` raise (the `async with` body is cancelled)."""
        if self._fatal is not None or self._stopping:
            return
        fatal = RuntimeError("Activity worker failed")
        fatal.__cause__ = err
        self._fatal = fatal
        logger.error("Worker failed, shutting down", exc_info=fatal)
        self._fatal_task = asyncio.get_running_loop().create_task(self._fail(fatal))

    async def _fail(self, fatal: BaseException) -> None:
        if self._on_fatal_error is not None:
            try:
                await self._on_fatal_error(fatal)
            except Exception:  # noqa: BLE001 - as temporalio: reported, then shut down
                logger.warning("Fatal error handler failed")
        await self.shutdown()
        entered = self._entered_task
        if entered is not None and not self._exiting and not entered.done():
            entered.cancel()

    async def __aenter__(self) -> Worker:
        self._entered_task = asyncio.current_task()
        if not self._plugins:
            await self._start()
            return self
        # Plugins wrap run(), so the worker runs as a task, as temporalio's does.
        self._ready = asyncio.Event()
        self._run_task = asyncio.get_running_loop().create_task(self.run())
        ready = asyncio.ensure_future(self._ready.wait())
        await asyncio.wait({ready, self._run_task}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self._run_task.done():
            self._run_task.result()  # a plugin or the start failed: raise it here
        return self

    async def __aexit__(self, exc_type: Any, *exc: Any) -> None:
        self._exiting = True
        await self.shutdown()
        if self._fatal_task is not None:
            await self._fatal_task
        if self._run_task is not None:
            await self._run_task
        # As temporalio: the fatal error replaces the cancellation it caused.
        if exc_type is asyncio.CancelledError and self._fatal is not None:
            raise self._fatal

    # ------------------------------------------------------------------ startup

    async def _start(self) -> None:
        await self._start_pollers()
        if self._ready is not None:
            self._ready.set()

    async def _start_pollers(self) -> None:
        if self._started:
            raise RuntimeError("Already started")
        self._started = True
        self._done = asyncio.Event()
        engine = await self._client._engine()
        store = engine.store  # the engine workers' connection
        self._sweeper = engine.sweeper()
        await self._sweeper.acquire()
        s = self._settings
        namespace = self._client.namespace
        runtime = self._client.service_client.config.runtime or Runtime.default()
        metrics = _worker_metrics(runtime, namespace, self._task_queue)
        for queue in (self._task_queue, *self._also_activity_queues):
            # Work on this queue now holds a time-skipping test clock (see timeskip.py).
            self._live_queues.append((store.schema, namespace, queue))
            timeskip.worker_started(*self._live_queues[-1])
            # ... and that of an environment in another process (a no-op elsewhere).
            self._announcements.append(timeskip.QueueAnnouncement(store, namespace, queue))
            await self._announcements[-1].start()
        if self._activity_defs[0] or self._activity_defs[1]:
            self._activity_worker = ActivityWorker(
                store,
                ActivityWorkerConfig(
                    namespace=namespace,
                    task_queue=self._task_queue,
                    identity=self._worker_key,
                    activities=self._activity_defs[0],
                    dynamic=self._activity_defs[1],
                    executor=self._activity_executor,
                    max_concurrent=s["max_concurrent_activities"],
                    data_converter=self._client.data_converter,
                    client=self._client,
                    max_heartbeat_throttle=s["max_heartbeat_throttle"],
                    default_heartbeat_throttle=s["default_heartbeat_throttle"],
                    interceptors=self._interceptors,
                    header_codec_behavior=self._client.config()["header_codec_behavior"],
                    shared_state_manager=self._shared_state_manager,
                    max_per_second=s["max_activities_per_second"],
                    task_queue_per_second=s["max_task_queue_activities_per_second"],
                    metric_meter=runtime.metric_meter,
                    also_queues=self._also_activity_queues,
                    payload_error_limit=s["payload_error_limit"],
                ),
            )
        if self._activity_worker is not None:
            self._activity_worker.metrics = metrics
            self._activity_worker.on_fatal = self._on_fatal
        if self._workflow_defs or self._dynamic_workflow:
            activity_worker = self._activity_worker
            self._workflow_worker = WorkflowWorker(
                store,
                WorkflowWorkerConfig(
                    namespace=namespace,
                    task_queue=self._task_queue,
                    identity=self._worker_key,
                    workflows=self._workflow_defs,
                    dynamic=self._dynamic_workflow,
                    data_converter=self._client.data_converter,
                    max_concurrent=s["max_concurrent_workflow_tasks"],
                    max_cached=s["max_cached_workflows"],
                    payload_error_limit=s["payload_error_limit"],
                    failure_exception_types=s["failure_exception_types"],
                    interceptors=self._interceptors,
                    workflow_interceptors=self._workflow_interceptors,
                    header_codec_behavior=self._client.config()["header_codec_behavior"],
                    max_eager_activities=s["max_eager"],
                    storage_concurrency=s["storage_concurrency"],
                    also_activity_queues=frozenset(self._also_activity_queues),
                    debug_mode=s["debug_mode"],
                    sticky_timeout=s["sticky_timeout"],
                    patch_activation_callback=_patch_question(s["patch_activation_callback"]),
                    run_ahead=os.environ.get("HOTMESH_RUN_AHEAD", "1") != "0",
                    refused_calls=self._refused_calls,
                    metric_meter=runtime.metric_meter,
                    workflow_task_executor=self._workflow_task_executor,
                    workflow_threads=self._max_concurrent_workflow_tasks,
                    local_activities=LocalActivityExecutor(
                        activities=self._activity_defs[0],
                        dynamic=self._activity_defs[1],
                        executor=self._activity_executor,
                        data_converter=self._client.data_converter,
                        client=self._client,
                        max_concurrent=s["max_concurrent_local_activities"],
                        interceptors=self._interceptors,
                        metric_meter=runtime.metric_meter,
                    ),
                ),
                eager_activity_slots=activity_worker.reserve_eager
                if activity_worker
                else (lambda n: 0),
                start_activity=activity_worker.start_eager
                if activity_worker and s["max_eager"]
                else None,
            )
            self._workflow_worker.metrics = metrics
            if activity_worker is not None:
                activity_worker.on_workflow_task_ready = self._workflow_worker.start
                activity_worker.run_ahead = self._workflow_worker.run_ahead
            await self._workflow_worker.start_polling()
        if self._activity_worker is not None and not s["no_remote_activities"]:
            await self._activity_worker.poller.start()


def _refused_calls(runner: WorkflowRunner) -> Any:
    """The calls the determinism guard refuses under ``runner`` (none unsandboxed)."""
    if runner is None:  # a plugin's configuration may leave it unset: the default
        runner = SandboxedWorkflowRunner()
    if isinstance(runner, SandboxedWorkflowRunner):
        return runner._refused_calls()
    if isinstance(runner, WorkflowRunner):
        return None
    raise TypeError(f"workflow_runner must be a WorkflowRunner, not {type(runner).__name__}")


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


def _is_worker_interceptor(interceptor: Any) -> bool:
    return hasattr(interceptor, "intercept_activity") or hasattr(
        interceptor, "workflow_interceptor_class"
    )


def _activity_definitions(
    activities: Sequence[Callable], executor: Any, shared_state: Any
) -> tuple:
    by_name: dict[str, Any] = {}
    dynamic = None
    for fn in activities:
        defn = activity_api._Definition.must_from_callable(fn)
        if defn.name is not None and defn.name in by_name:
            raise ValueError(f"More than one activity named {defn.name}")
        _check_activity_registration(fn, defn, executor, shared_state)
        if defn.name is not None:
            by_name[defn.name] = defn
        elif dynamic is not None:
            raise TypeError("More than one dynamic activity")
        else:
            dynamic = defn
    return by_name, dynamic


def _warn_if_executor_smaller(executor: Any, max_concurrent: int | None) -> None:
    """temporalio's warning: more activity slots than the executor has threads or
    processes means slots wait for a free thread, not for work."""
    max_workers = getattr(executor, "_max_workers", None)
    if isinstance(max_workers, int) and max_workers < (max_concurrent or 0):
        warnings.warn(
            f"Worker max_concurrent_activities is {max_concurrent} "
            f"but activity_executor's max_workers is only {max_workers}",
            stacklevel=3,
        )


def _check_activity_registration(fn: Callable, defn: Any, executor: Any, shared_state: Any) -> None:
    """Temporal's registration checks, in its order and with its messages."""
    # A decorated callable class runs through its instances' __call__.
    if inspect.isclass(fn):
        raise TypeError(f"Activity named {defn.name} is a class instead of an instance")
    if inspect.isfunction(fn):
        params = list(inspect.signature(fn).parameters)
        if params and params[0] == "self":
            warnings.warn(
                f"Activity named {defn.name} has a first parameter named self "
                "but is not bound to an instance, did you mean to register it "
                "from an instance of the class?",
                stacklevel=4,
            )
    if defn.is_async:
        return
    if executor is None:
        raise ValueError(
            f"Activity {defn.name} is not async so an activity_executor must be present"
        )
    if shared_state is None and not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        # Heartbeats and cancellation cannot reach another process without it.
        raise ValueError(
            f"Activity {defn.name} is not async and executor is not thread-pool executor, "
            "so a shared_state_manager must be present"
        )
    if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        # Fail at registration rather than on the first task.
        try:
            pickle.dumps(fn)
        except Exception as err:
            raise TypeError(
                f"Activity {defn.name} must be picklable when using a process executor"
            ) from err


def _workflow_definitions(workflows: Sequence[type]) -> tuple:
    by_name: dict[str, Any] = {}
    dynamic = None
    for cls in workflows:
        defn = WorkflowDefinition.from_class(cls)
        if defn.name is None:
            if dynamic is not None:
                raise ValueError("More than one dynamic workflow")
            dynamic = defn
        elif defn.name in by_name:
            raise ValueError(f"More than one workflow named {defn.name}")
        else:
            by_name[defn.name] = defn
    return by_name, dynamic


def _check_task_queue(client: Any, task_queue: str) -> None:
    """Refuse at construction a task queue the database could never serve (NUL, lone
    surrogates, longer than the deployment's id limit), instead of a claim loop that
    fails forever."""
    engine = getattr(client.service_client, "_engine_obj", None)
    limits = engine.store.limits if engine is not None else Limits()
    try:
        check_name("TaskQueue", task_queue, limits)
    except InvalidStringError as err:
        raise ValueError(f"invalid task_queue: {err}") from None


def _patch_question(
    callback: Callable[[PatchActivationInput], bool] | None,
) -> Callable[[Any, str], bool] | None:
    """The engine asks (workflow info, patch id); the user's callback takes temporalio's
    ``PatchActivationInput``."""
    if callback is None:
        return None
    return lambda info, patch_id: callback(
        PatchActivationInput(workflow_info=info, patch_id=patch_id)
    )
