"""Run workflow tasks: claim, replay what the cached instance has not seen, run the new
activation, and complete the task with its commands in one round trip.

Runs stay in a sticky LRU cache between tasks (``max_cached_workflows``), so a cached
run only processes new events. After an eviction, or on another worker, the run is
rebuilt by replaying its whole history.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.observability.metrics import NO_METRICS
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime import visibility
from hotmesh_temporal._engine.runtime.codec import PayloadCodecs, RunIdentity, TaskStorageMetrics
from hotmesh_temporal._engine.runtime.completion import TaskContext, build_completion
from hotmesh_temporal._engine.runtime.driver import RunDriver, TaskFacts, continue_as_new_suggested
from hotmesh_temporal._engine.runtime.instance import WorkflowInstance
from hotmesh_temporal._engine.store.limits import (
    MEMO_ERROR,
    MEMO_WARNING,
    PAYLOADS_ERROR,
    PAYLOADS_WARNING,
    InvalidStringError,
    Limits,
    check_name,
    largest_payloads,
    memo_size,
    payloads_json_size,
    payloads_message_size,
)
from hotmesh_temporal._engine.store.store import Store
from hotmesh_temporal._engine.worker.activations import (
    STEPS_AT_ONCE,
    WorkflowTaskExecutor,
    _DeadlockError,
)
from hotmesh_temporal._engine.worker.local_activities import (
    InFlightLocalActivities,
    LocalActivityExecutor,
    LocalActivityRun,
    heartbeat_deadline,
    is_local_activity,
    run_with_local_activities,
)
from hotmesh_temporal._engine.worker.polling import Poller
from hotmesh_temporal.api.failure.v1 import Failure
from hotmesh_temporal.common import HeaderCodecBehavior, Priority
from hotmesh_temporal.converter import WorkflowSerializationContext
from hotmesh_temporal.exceptions import ApplicationError, FailureError
from hotmesh_temporal.worker import _interceptor as wi
from hotmesh_temporal.workflow import NondeterminismError

# The lines temporalio's workflow worker writes go to its logger names (under this
# package): temporalio.worker._workflow and temporalio.worker._workflow_instance. Lines
# of this engine's own (leases, Postgres) go to engine_logger, a name temporalio lacks.
logger = logging.getLogger("hotmesh_temporal.worker._workflow")
engine_logger = logging.getLogger(__name__)
# Where temporalio logs a failed workflow task (temporalio.worker._workflow_instance).
task_logger = logging.getLogger("hotmesh_temporal.worker._workflow_instance")

# The workflow workers polling in this process, by (store, namespace, task queue): a
# client on the same Store that starts a run on such a queue hands its first task to
# the worker directly (start_workflow leases it), as Temporal's eager workflow start.
_LOCAL_WORKERS: dict[tuple, WorkflowWorker] = {}

# How long a worker shutting down lets its in-flight workflow tasks finish before it
# hands them back (an activation cannot take longer than the deadlock timeout; a task
# still waiting on local activities is handed back rather than left to lease expiry).
SHUTDOWN_GRACE_SECONDS = 3.0

# Workflow tasks a worker works on at once (WorkflowWorker.claim_room): enough to keep
# its STEPS_AT_ONCE turns busy while the others wait on the database.
CLAIMED_AT_ONCE = 8 * STEPS_AT_ONCE


def local_worker_for(
    store: Any, namespace: str, task_queue: str, workflow_type: str
) -> WorkflowWorker | None:
    worker = _LOCAL_WORKERS.get((store, namespace, task_queue))
    if worker is not None and worker.takes_started_runs_of(workflow_type):
        worker.reserve_started_run()
        return worker
    return None


@dataclass
class WorkflowWorkerConfig:
    namespace: str
    task_queue: str
    identity: str
    workflows: dict[str, Any]  # name -> WorkflowDefinition
    dynamic: Any | None
    data_converter: Any
    max_concurrent: int = 100
    max_cached: int = 1000
    failure_exception_types: Sequence[type] = field(default_factory=list)
    interceptors: Sequence[Any] = field(default_factory=list)
    header_codec_behavior: Any = None  # common.HeaderCodecBehavior
    max_eager_activities: int = 3
    storage_concurrency: int = 3  # max_workflow_task_external_storage_concurrency
    debug_mode: bool = False
    sticky_timeout: float = 10.0
    # Run a sticky run's next workflow task before reporting the activity that wakes
    # it (WorkflowWorker.run_ahead); HOTMESH_RUN_AHEAD=0 turns it off.
    run_ahead: bool = True
    # (type name, method name) calls the sandbox refuses in workflow code.
    refused_calls: Any = None  # workflow_sandbox.CallRefusals; None: nothing refused
    local_activities: LocalActivityExecutor | None = None
    metric_meter: Any = None  # the runtime's meter, behind workflow.metric_meter()
    # Where workflow code runs (worker/activations.py): the user's executor, else a
    # pool of ``workflow_threads`` threads (None: temporalio's default).
    workflow_task_executor: concurrent.futures.ThreadPoolExecutor | None = None
    workflow_threads: int | None = None
    # Worker(patch_activation_callback=...): whether a new patch activates, asked with
    # (workflow info, patch id) -- the public Worker wraps the user's callback.
    patch_activation_callback: Callable[[Any, str], bool] | None = None
    # The workflow inbound classes and extern functions of ``interceptors`` (see
    # ``workflow_interceptor_classes``); worked out here when not given. Asked once
    # per worker, as temporalio does, so an interceptor refusing the worker's setup
    # fails the worker, not each workflow task.
    workflow_interceptors: tuple | None = None
    # Fail a workflow task whose payloads exceed the deployment's blob_size_error, as
    # temporalio does (Worker(disable_payload_error_limit=True) turns it off).
    payload_error_limit: bool = True
    # Further queues whose activity tasks this Worker's activity worker claims too:
    # activities scheduled on them are handed over eagerly like the task queue's.
    also_activity_queues: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.workflow_interceptors is None:
            self.workflow_interceptors = workflow_interceptor_classes(self.interceptors)


class WorkflowWorker:
    def __init__(
        self,
        store: Store,
        config: WorkflowWorkerConfig,
        *,
        eager_activity_slots: Callable[[int], int],
        start_activity: Callable[[list[dict[str, Any]], int], None] | None,
    ) -> None:
        self.store = store
        self.config = config
        self._eager_slots = eager_activity_slots
        self._start_activity = start_activity
        self._cache: collections.OrderedDict[str, RunDriver] = collections.OrderedDict()
        self._codecs = PayloadCodecs(
            config.data_converter,
            headers=_codec_applies_to_headers(config.header_codec_behavior),
            storage_concurrency=config.storage_concurrency,
        )
        self._tasks: set = set()
        self._leased: dict[str, Mapping[str, Any]] = {}  # run id -> task in flight
        self.metrics: Any = NO_METRICS  # the Worker sets its runtime's metrics
        self.executor = WorkflowTaskExecutor(
            config.workflow_task_executor,
            max_concurrent_workflow_tasks=config.workflow_threads,
            debug_mode=config.debug_mode,
        )
        # Run-ahead (see below): tasks being run ahead now, the workflow types that use
        # local activities (never run ahead), and the database's clock as of the last
        # lease (its time, and the event loop's time then).
        self._ahead = 0
        self._starting = 0  # room held for runs being started in this process
        self._waiting_for_local_activities = 0  # tasks of _tasks that only wait
        # run id -> local activities a task heartbeat left running for the run's next
        # task (which complete_workflow_task leased to this worker at once)
        self._in_flight_locals: dict[str, InFlightLocalActivities] = {}
        self._stopping = False
        self._no_run_ahead: set = set()
        self._ahead_tally: dict[str, list[int]] = {}  # type -> [kept, refused]
        self._clock: tuple | None = None
        self.poller = Poller(
            name=f"workflow poller for {config.task_queue}",
            claim=self._claim,
            capacity=self.claim_room,
            notify_kind="w",
            namespace=config.namespace,
            task_queue=config.task_queue,
            store=store,
        )

        self.query_poller = Poller(
            name=f"query poller for {config.task_queue}",
            claim=self._claim_queries,
            capacity=lambda: 20,
            notify_kind="q",
            namespace=config.namespace,
            task_queue=config.task_queue,
            store=store,
        )

    def free_slots(self) -> int:
        return self.config.max_concurrent - len(self._tasks) - self._ahead - self._starting

    def claim_room(self) -> int:
        """How many more tasks to take on (the poller's claims, runs started in this
        process): within max_concurrent_workflow_tasks, and no more being worked on
        than CLAIMED_AT_ONCE. Only STEPS_AT_ONCE steps run at a time, so more would
        only wait here, holding their leases, while in the database other workers could
        take them. Above all, a full set of slots stops run-ahead (it needs a free slot),
        and under load that turned most activity reports into three statements instead
        of one (bench/README.md, run K). A task waiting for its local activities does not
        count: it needs no turn until one finishes."""
        working = len(self._tasks) + self._starting - self._waiting_for_local_activities
        return min(self.free_slots(), CLAIMED_AT_ONCE - working)

    def _local_activities_waiting(self, waiting: bool) -> None:
        self._waiting_for_local_activities += 1 if waiting else -1
        if waiting:
            self.poller.slot_freed()

    async def start_polling(self) -> None:
        await self.poller.start()
        await self.query_poller.start()
        _LOCAL_WORKERS[self._local_key] = self

    @property
    def _local_key(self) -> tuple:
        return (self.store, self.config.namespace, self.config.task_queue)

    def takes_started_runs_of(self, workflow_type: str) -> bool:
        """Whether a run of this type, started in this process, may be handed to this
        worker with its first task already leased (see local_worker_for)."""
        return (
            not self._stopping
            and self.claim_room() > 0
            and (workflow_type in self.config.workflows or self.config.dynamic is not None)
        )

    def reserve_started_run(self) -> None:
        """Hold room for the first task of a run about to be started in this process
        (local_worker_for): many starts at once must not all count on the same room.
        take_started_run() ends the hold, whether the start leased a task or not."""
        self._starting += 1

    def take_started_run(self, task: Mapping[str, Any] | None) -> None:
        """The first task of a run started in this process, leased to this worker
        (None: the start leased none, or failed)."""
        self._starting -= 1
        if task is None:
            self.poller.slot_freed()
            return
        if self._stopping:  # shut down meanwhile: give the task back to everyone
            asyncio.get_running_loop().create_task(self._release(task, delay=0))
        else:
            self.start(task)

    async def _claim(self, limit: int) -> int:
        rows = await self.store.fetch(
            "claim_workflow_tasks",
            self.config.namespace,
            self.config.task_queue,
            self.config.identity,
            limit,
        )
        for row in rows:
            self.start(row[0])
        return len(rows)

    def start(self, task: Mapping[str, Any]) -> None:
        runner = asyncio.get_running_loop().create_task(self._process(task))
        self._tasks.add(runner)
        runner.add_done_callback(self._on_done)
        self._report_slots()

    def _on_done(self, runner: asyncio.Task) -> None:
        self._tasks.discard(runner)
        self.poller.slot_freed()
        self._report_slots()

    def _report_slots(self) -> None:
        free = max(self.free_slots(), 0)
        self.metrics.workflow_slots(len(self._cache), self.config.max_concurrent - free, free)

    def describe(self) -> dict[str, int]:
        """The limits this worker runs with and how full they are now."""
        return {
            "max_cached_workflows": self.config.max_cached,
            "cached_workflows": len(self._cache),
            "max_concurrent_workflow_tasks": self.config.max_concurrent,
            "workflow_tasks_running": self.config.max_concurrent - self.free_slots(),
            "workflow_threads": self.executor.max_threads,
            "stuck_workflow_threads": self.executor.stuck_threads,
        }

    async def shutdown(self) -> None:
        self._stopping = True
        if _LOCAL_WORKERS.get(self._local_key) is self:
            del _LOCAL_WORKERS[self._local_key]
        await self.poller.stop()
        await self.query_poller.stop()
        if self._tasks:
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_GRACE_SECONDS)
            if unfinished:
                await self._hand_back(unfinished)
        self._cache.clear()
        self.executor.shutdown()
        try:
            await self.store.fetchval("forget_worker", self.config.identity)
        except Exception:  # the database is gone: the sticky timeout covers it
            engine_logger.warning("could not hand sticky runs back on shutdown", exc_info=True)

    async def _hand_back(self, unfinished: set) -> None:
        """Stop the tasks still running and release their leases for any worker to
        take at once (a lease that already ended is left alone: release checks it)."""
        held = list(self._leased.values())
        for runner in unfinished:
            runner.cancel()
        await asyncio.wait(unfinished, timeout=1)
        for task in held:
            engine_logger.info(
                "handing back the workflow task of run %s on shutdown", task["run_id"]
            )
            await self._release(task, delay=0)

    # -------------------------------------------------------------------- tasks

    async def _process(self, task: Mapping[str, Any] | None) -> None:
        while task is not None:
            run_id = str(task["run_id"])
            self._leased[run_id] = task
            try:
                task = await self._process_one(task)
            except Exception:
                engine_logger.exception(
                    "workflow task of run %s could not be processed", task.get("run_id")
                )
                self._cache.pop(str(task["run_id"]), None)
                await self._release(task, delay=1.0)
                task = None
            finally:
                self._leased.pop(run_id, None)

    async def _process_one(self, task: Mapping[str, Any]) -> Mapping[str, Any] | None:
        started = time.monotonic()
        next_task = await self._run_task(task)
        failed = next_task is _FAILED
        self.metrics.workflow_task(
            task.get("workflow_type") or "", time.monotonic() - started, failed
        )
        return None if failed else next_task

    async def _run_task(self, task: Mapping[str, Any]) -> Any:
        """Process one workflow task; the next one to process, None, or _FAILED."""
        run_id = str(task["run_id"])
        begun = asyncio.get_running_loop().time()
        self._clock = (h.parse_time(task["started_at"]), begun)
        carried = self._in_flight_locals.pop(run_id, None)
        in_flight: InFlightLocalActivities | None = None
        try:
            driver = await self._driver_for(task)
            driver.deliver_updates(task.get("updates") or [])
            driver.begin_task(live_task_facts(task, self.store.limits))
            outcome = await run_with_local_activities(
                driver,
                h.parse_time(task["started_at"]),
                int(task["next_event_id"]) - 1,
                self.config.local_activities,
                _local_activity_run(task),
                keep_alive=lambda: self.store.fetchval(
                    "extend_workflow_task_lease", task["run_id"], task["lease_id"]
                ),
                keep_alive_every=_lease_keep_alive_interval(driver.started_attrs),
                waiting=self._local_activities_waiting,
                carried=carried,
                heartbeat_at=heartbeat_deadline(begun, _task_timeout(driver.started_attrs)),
                after_first_activation=(
                    None if carried is None else lambda: self._answer_queries_live(driver)
                ),
            )
        except Exception as err:  # nondeterminism found while replaying or matching
            if carried is not None:
                carried.cancel()
            result = None
            failure: BaseException | None = err
        else:
            result, in_flight = outcome.result, outcome.in_flight
            failure = result.failure
        if failure is not None:
            self._log_task_failure(task, failure)
            self._cache.pop(run_id, None)
            _log_eviction(run_id, f"Workflow activation completion failed: {failure}")
            await self._record_failure(task, failure)
            await self._wait_for_stuck_thread(run_id)
            return _FAILED
        try:
            next_task = await self._complete(task, driver, result.commands, begun, in_flight)
        except BaseException:
            if in_flight is not None:
                in_flight.cancel()
            raise
        if in_flight is not None:
            self._carry_local_activities(run_id, in_flight, next_task)
        return next_task

    def _carry_local_activities(
        self, run_id: str, in_flight: InFlightLocalActivities, next_task: Any
    ) -> None:
        """After a heartbeat: the run's next task was leased to this worker with the
        completion, and its local activities go on in it. Without it (the completion
        was stale, or refused) they stop; whoever runs the run next runs them again."""
        if isinstance(next_task, Mapping) and str(next_task.get("run_id")) == run_id:
            self._in_flight_locals[run_id] = in_flight
        else:
            in_flight.cancel()

    async def _complete(
        self,
        task: Mapping[str, Any],
        driver: RunDriver,
        commands: list[c.Command],
        begun: float,
        in_flight: InFlightLocalActivities | None,
    ) -> Any:
        """Complete the task with its commands (forcing a new task for a heartbeat,
        as Core's force_create_new_workflow_task); the next task to process, or
        _FAILED."""
        run_id = str(task["run_id"])
        reserved = self._reserve_eager()
        try:
            completion = self._completion(task, driver, commands, reserved, begun)
            too_large = self._completion_refused(task, completion)
            if too_large is not None:
                self._start_eager([], reserved)
                self._log_task_failure(task, too_large)
                self._cache.pop(run_id, None)
                _log_eviction(run_id, f"Workflow activation completion failed: {too_large}")
                await self._record_failure(task, too_large)
                return _FAILED
            payload = completion.to_json()
            if in_flight is not None:
                payload["force_new_task"] = True
            reply = await self.store.fetchval_repairing(
                "complete_workflow_task",
                task["run_id"],
                task["lease_id"],
                self.config.identity,
                payload,
                True,
            )
        except BaseException:
            self._start_eager([], reserved)
            raise
        return self._completed(task, driver, completion, reply, reserved)

    def _completion(
        self,
        task: Mapping[str, Any],
        driver: RunDriver,
        commands: list[c.Command],
        reserved: int,
        begun: float,
    ) -> Any:
        context = self._task_context(task, driver, reserved)
        # The database's time now: the lease time plus what this task took here.
        context.completed_at = h.parse_time(task["started_at"]) + timedelta(
            seconds=asyncio.get_running_loop().time() - begun
        )
        return build_completion(context, commands, driver)

    def _completed(
        self,
        task: Mapping[str, Any],
        driver: RunDriver,
        completion: Any,
        reply: Mapping[str, Any],
        reserved: int,
    ) -> Mapping[str, Any] | None:
        """Take complete_workflow_task's reply: keep the run cached when the database
        kept the completion, start the eager activities; the next task to run, if any."""
        run_id = str(task["run_id"])
        if reply.get("queries"):
            # Queries wait while their run has a task pending (claim_queries): the ones
            # held back for this task can be answered now.
            self.query_poller.wake()
        if reply["status"] == "bad_search_attributes":
            # The database refused the task's search attributes and released it for a
            # retry, as a Temporal server fails it (cause BAD_SEARCH_ATTRIBUTES).
            logger.warning(
                "Error while completing workflow activation of run %s: %s",
                run_id,
                reply.get("message"),
            )
        if reply["status"] != "ok" or reply.get("discarded"):
            # stale: another worker took over after our lease expired; rejected: new
            # events arrived while the workflow tried to close; discarded: a speculative
            # task that only rejected updates left no events, though the driver replayed
            # its WorkflowTaskScheduled. Either way our in-memory state is not the run's
            # state any more, so the driver is dropped.
            self._start_eager([], reserved)
            self._cache.pop(run_id, None)
            engine_logger.debug("workflow task of run %s was %s", run_id, reply["status"])
            return None
        before = (driver.last_event_id, driver.history_size)
        driver.last_event_id = int(reply["last_event_id"])
        if reply.get("last_event_time"):
            driver.last_event_time = h.parse_time(reply["last_event_time"])
        driver.history_size = int(reply.get("history_size") or 0)
        self._warn_history_limits(task, before, (driver.last_event_id, driver.history_size))
        if completion.close is None:
            driver.task_facts = _run_facts(task)
            self._remember(run_id, driver)
        else:
            _log_eviction(run_id, "Workflow completed")
        self._start_eager(reply.get("activities") or [], reserved)
        return reply.get("next")

    # ----------------------------------------------------------------- run-ahead
    #
    # When an activity of a run held in this worker's sticky cache completes, the run's
    # next workflow task is predictable: the cached history, then the attempt's
    # ActivityTaskStarted and ActivityTaskCompleted, then WorkflowTaskScheduled. The
    # worker runs that task before reporting the activity, and one statement
    # (complete_activity_run_ahead) records both, saving a round trip and a commit per
    # activity. The database keeps the task's completion only if the prediction held;
    # otherwise the prediction's driver is dropped and the task the database leased
    # instead is run the usual way, replaying the run.

    async def run_ahead(
        self, activity: Mapping[str, Any], result: dict[str, Any] | None
    ) -> RunAhead | None:
        """The workflow task this successful attempt wakes, already run; None when it
        cannot be run ahead (the activity is then reported the usual way)."""
        run_id = str(activity["run_id"])
        if not self._can_run_ahead(run_id):
            return None
        # One turn for the whole task, and only if one is free now: the activity's
        # report waits for the task, and must not wait behind other runs' steps (a
        # worker taking runs over replays them, ~100 ms each in
        # tests/integration/test_isolation.py), or the attempt could miss its heartbeat
        # or start-to-close timeout. With at most CLAIMED_AT_ONCE tasks in hand a turn
        # is free for most activities even under load (91 % in the 500 x 3 workload).
        if not self.executor.take_turn_if_free():
            return None
        try:
            driver = self._cache.pop(run_id)  # ours alone until the reply comes
            self._ahead += 1
            try:
                ahead = await self._run_ahead(driver, activity, result)
            except BaseException:
                self._ahead_done()
                raise
            if ahead is None:
                self._ahead_done()
            return ahead
        finally:
            self.executor.give_back_turn()

    def _can_run_ahead(self, run_id: str) -> bool:
        driver = self._cache.get(run_id)
        return not (
            not self.config.run_ahead
            or driver is None
            or self._clock is None
            or driver.task_facts is None
            or driver.owes_local_activities
            or driver.task_facts["workflow_type"] in self._no_run_ahead
            or self.free_slots() <= 0  # max_concurrent_workflow_tasks holds for it too
        )

    async def _run_ahead(
        self, driver: RunDriver, activity: Mapping[str, Any], result: dict[str, Any] | None
    ) -> RunAhead | None:
        loop = asyncio.get_running_loop()
        begun = loop.time()
        database_time, measured_at = self._clock  # type: ignore[misc]
        now = database_time + timedelta(seconds=begun - measured_at)
        if driver.last_event_time is not None:
            now = max(now, driver.last_event_time)
        after = driver.last_event_id
        events = _predicted_events(activity, result, after, self.config.identity, driver.task_facts)
        task = dict(
            driver.task_facts,
            run_id=activity["run_id"],
            lease_id=None,
            attempt=1,
            after=after,
            next_event_id=after + len(events) + 1,
            started_at=now.isoformat(),
            history_size=driver.history_size + len(json.dumps(events)),
            updates=[],
            events=events,
        )
        # The caller holds a turn for all of this task's steps.
        run_step, driver.run_step = (
            driver.run_step,
            self.executor.steps_in_turn(str(activity["run_id"])),
        )
        try:
            await driver.replay(events)
            driver.begin_task(live_task_facts(task, self.store.limits))
            outcome = await driver.run_current(now, after + len(events))
        except Exception:
            return None  # the leased task will replay the run and meet the same error
        finally:
            driver.run_step = run_step
        if outcome.failure is not None:
            return None
        if any(is_local_activity(cmd) for cmd in outcome.commands):
            # Local activities run inside the task, which would hold back the activity's
            # report; this workflow type's tasks are run the usual way from now on.
            self._no_run_ahead.add(task["workflow_type"])
            return None
        reserved = self._reserve_eager()
        try:
            completion = self._completion(task, driver, outcome.commands, reserved, begun)
        except BaseException:
            self._start_eager([], reserved)
            raise
        # A memo upsert is checked against the run's memo when the task is completed
        # (complete_workflow_task), which the run-ahead path does not go through.
        if (
            self._completion_refused(task, completion) is not None
            or "memo" in completion.visibility
        ):
            self._start_eager([], reserved)
            return None  # the leased task fails the same way, and says so
        return RunAhead(self, task, driver, completion, reserved, time.monotonic())

    def _count_run_ahead(self, workflow_type: str, kept: bool) -> None:
        """A refused run-ahead costs a replay of the run. A workflow type whose runs
        often get messages while their activities run (over a quarter refused) is run
        the usual way from then on."""
        tally = self._ahead_tally.setdefault(workflow_type, [0, 0])
        tally[0 if kept else 1] += 1
        kept_count, refused = tally
        if refused >= 8 and refused * 4 > kept_count + refused:
            self._no_run_ahead.add(workflow_type)
            engine_logger.debug(
                "workflow type %s: run-ahead refused too often, turned off", workflow_type
            )

    def _ahead_done(self) -> None:
        self._ahead -= 1
        self.poller.slot_freed()

    def finish_run_ahead(self, ahead: RunAhead, reply: Mapping[str, Any] | None) -> None:
        """Take complete_activity_run_ahead's reply (None: the statement failed)."""
        self._ahead_done()
        kept = (reply or {}).get("ran_ahead")
        self._count_run_ahead(ahead.task["workflow_type"], kept is not None)
        if kept is None:
            # The prediction did not hold (or the attempt was over): drop its driver;
            # the task leased instead, if any, replays the run.
            self._start_eager([], ahead.reserved)
            if reply and reply.get("next"):
                self.start(reply["next"])
            return
        next_task = self._completed(
            ahead.task, ahead.driver, ahead.completion, kept, ahead.reserved
        )
        self.metrics.workflow_task(
            ahead.task["workflow_type"], time.monotonic() - ahead.started, False
        )
        if next_task:
            self.start(next_task)

    async def _driver_for(self, task: Mapping[str, Any]) -> RunDriver:
        run_id = str(task["run_id"])
        after = int(task["after"])
        events = task["events"]
        driver = self._cache.pop(run_id, None)
        if driver is None or driver.last_event_id != after:
            driver = self._new_driver(task)
            if after != 0:  # the database thought we had it cached: fetch everything
                events = await self.store.fetchval("events_after", task["run_id"], 0)
        await driver.replay(events)
        return driver

    def _new_driver(self, task: Mapping[str, Any]) -> RunDriver:
        driver = RunDriver(
            run_id=str(task["run_id"]),
            create_instance=lambda job, attrs: self._create_instance(task, job, attrs),
            codecs=self._codecs.for_run(run_identity(task)),
            public_nondeterminism_error=NondeterminismError,
            run_step=self.executor.steps_for_run(str(task["run_id"])),
        )
        what = f"workflow activation of run {task['run_id']}"
        driver.storage_reporter = functools.partial(_log_task_storage, what)
        return driver

    async def _wait_for_stuck_thread(self, run_id: str) -> None:
        """A task failed as deadlocked keeps its slot until its thread gives up, as
        temporalio's eviction waits for it (the task itself is already released)."""
        stuck = self.executor.stuck.get(run_id)
        if stuck is not None:
            logger.debug("Waiting for deadlocked task to complete on run %s", run_id)
            await asyncio.wait({stuck})

    def _remember(self, run_id: str, driver: RunDriver) -> None:
        self._cache[run_id] = driver
        while len(self._cache) > self.config.max_cached:
            evicted, _ = self._cache.popitem(last=False)
            _log_eviction(evicted, "Workflow cache full")
        self._report_slots()

    def evict(self, run_id: str) -> None:
        self._cache.pop(run_id, None)

    async def _release(self, task: Mapping[str, Any], delay: float) -> None:
        try:
            await self.store.fetchval(
                "release_workflow_task", task["run_id"], task["lease_id"], delay
            )
        except Exception:
            engine_logger.exception("could not release workflow task of run %s", task["run_id"])

    async def _record_failure(self, task: Mapping[str, Any], err: BaseException) -> None:
        """Fail the task as Temporal does: history shows the first failure of a streak
        (WorkflowTaskFailed, its cause and failure), and the task is retried later."""
        delay = _retry_delay(int(task.get("attempt") or 1))
        try:
            failure = await self._task_failure_json(task, err)
            await self.store.fetchval(
                "fail_workflow_task",
                task["run_id"],
                task["lease_id"],
                delay,
                h.parse_time(task["started_at"]),
                self.config.identity,
                task_failure_cause(err),
                failure,
            )
        except Exception:
            engine_logger.exception(
                "could not record the workflow task failure of run %s", task["run_id"]
            )
            await self._release(task, delay=delay)

    async def _task_failure_json(
        self, task: Mapping[str, Any], err: BaseException
    ) -> dict[str, Any] | None:
        # The run's context, as temporalio converts a workflow task failure.
        converter = self.config.data_converter.with_context(
            WorkflowSerializationContext(
                namespace=task["namespace"], workflow_id=task["workflow_id"]
            )
        )
        failure = Failure()
        converter.failure_converter.to_failure(err, converter.payload_converter, failure)
        await self._codecs.for_run(run_identity(task)).encode_failure(failure)
        return h.failure(failure)

    def _reserve_eager(self) -> int:
        """Activity slots held for this task's eager activities (released by _start_eager)."""
        if self._start_activity is None:
            return 0
        return self._eager_slots(self.config.max_eager_activities)

    def _start_eager(self, tasks: list[dict[str, Any]], reserved: int) -> None:
        if self._start_activity is not None:
            self._start_activity(tasks, reserved)

    def _task_context(
        self, task: Mapping[str, Any], driver: RunDriver, eager_slots: int = 0
    ) -> TaskContext:
        return TaskContext(
            run_id=str(task["run_id"]),
            workflow_id=task["workflow_id"],
            namespace=task["namespace"],
            task_queue=task["task_queue"],
            first_event_id=int(task["next_event_id"]),
            scheduled_event_id=driver.last_scheduled_id,
            identity=self.config.identity,
            history_size=int(task.get("history_size") or 0),
            suggest_continue_as_new=live_task_facts(
                task, self.store.limits
            ).suggest_continue_as_new,
            started_attrs=driver.started_attrs,
            started_at=task["started_at"],
            sticky_timeout=self.config.sticky_timeout if self.config.max_cached > 0 else 0.0,
            eager_activity_slots=eager_slots,
            also_activity_queues=self.config.also_activity_queues,
        )

    def _warn_history_limits(
        self, task: Mapping[str, Any], before: tuple[int, int], after: tuple[int, int]
    ) -> None:
        """Temporal's history warn limits: logged once, when a task crosses them (at
        the error limits the database terminates the run)."""
        limits = self.store.limits
        crossed = [
            (kind, value, limit)
            for kind, old, value, limit in (
                ("count", before[0], after[0], limits.history_count_warn),
                ("size", before[1], after[1], limits.history_size_warn),
            )
            if old < limit <= value
        ]
        for kind, value, limit in crossed:
            logger.warning(
                "history %s exceeds warn limit. workflow_id=%s run_id=%s %s=%d limit=%d",
                kind,
                task.get("workflow_id"),
                task.get("run_id"),
                kind,
                value,
                limit,
            )

    def _completion_refused(self, task: Mapping[str, Any], completion: Any) -> Exception | None:
        """Why the server would fail this workflow task rather than take its
        commands, checked before any SQL: ids and names over the limits (or holding
        what Postgres cannot store), payloads over the blob-size limit."""
        try:
            check_command_names(completion, self.store.limits)
        except InvalidStringError as err:
            return BadCommandAttributesError(str(err))
        return self._payloads_too_large(task, completion)

    def _payloads_too_large(
        self, task: Mapping[str, Any], completion: Any
    ) -> PayloadsTooLargeError | None:
        """Temporal's blob-size limits on a completion: a warning past blob_size_warn,
        a failed workflow task past blob_size_error (temporalio's TMPRL1103 messages;
        the failure's cause is PAYLOADS_TOO_LARGE)."""
        limits = self.store.limits
        memo_refused = self._memo_too_large(task, completion)
        if memo_refused is not None:
            return memo_refused
        size = largest_payloads(completion.to_json())
        # temporalio counts an upserted memo as payloads, against the blob limit.
        upserted = list((completion.visibility.get("memo") or {}).values())
        size = max(size, payloads_message_size([payloads_json_size([p]) for p in upserted]))
        if size > limits.blob_size_error and self.config.payload_error_limit:
            return PayloadsTooLargeError(PAYLOADS_ERROR, size, limits.blob_size_error)
        if size > limits.blob_size_warn:
            logger.warning(
                "%s size=%d limit=%d run_id=%s",
                PAYLOADS_WARNING,
                size,
                limits.blob_size_warn,
                task.get("run_id"),
            )
        return None

    def _memo_too_large(
        self, task: Mapping[str, Any], completion: Any
    ) -> PayloadsTooLargeError | None:
        """temporalio's memo-size check on the memo of a child it starts or of the run
        it continues as: a warning past memo_size_warn, a failed workflow task past
        memo_size_error. (A memo upsert is the server's to check: see 0004.)"""
        limits = self.store.limits
        starts = [child["start"] for child in completion.children]
        if completion.close is not None and completion.close.get("continue_as_new"):
            starts.append(completion.close["continue_as_new"])
        size = max((memo_size(start.get("memo")) for start in starts), default=0)
        if size > limits.memo_size_error and self.config.payload_error_limit:
            return PayloadsTooLargeError(MEMO_ERROR, size, limits.memo_size_error)
        if size > limits.memo_size_warn:
            logger.warning(
                "%s size=%d limit=%d run_id=%s",
                MEMO_WARNING,
                size,
                limits.memo_size_warn,
                task.get("run_id"),
            )
        return None

    def _log_task_failure(self, task: Mapping[str, Any], err: BaseException) -> None:
        # temporalio's records: its logger names (under this package), messages and
        # extras, so log filters keyed on the error identifier work unchanged. A task that
        # failed before or around the workflow's code (its type unknown, a deadlock) is
        # logged by temporalio's worker, not its workflow instance.
        if isinstance(err, _DeadlockError) or getattr(err, "_hotmesh_no_instance", False):
            logger.error(
                "Failed handling activation on workflow with run ID %s",
                task.get("run_id"),
                exc_info=err,
            )
            return
        task_logger.warning(
            f"Failed activation on workflow {task.get('workflow_type')} with ID "
            f"{task.get('workflow_id')} and run ID {task.get('run_id')}",
            exc_info=err,
            extra={
                "temporal_workflow": {
                    "attempt": int(task.get("attempt") or 1),
                    "namespace": self.config.namespace,
                    "run_id": str(task.get("run_id")),
                    "task_queue": self.config.task_queue,
                    "workflow_id": task.get("workflow_id"),
                    "workflow_type": task.get("workflow_type"),
                },
                "__temporal_error_identifier": "WorkflowTaskFailure",
            },
        )

    # ------------------------------------------------------------------ queries

    async def _claim_queries(self, limit: int) -> int:
        rows = await self.store.fetch(
            "claim_queries",
            self.config.namespace,
            self.config.task_queue,
            self.config.identity,
            limit,
        )
        for row in rows:
            runner = asyncio.get_running_loop().create_task(self._answer_query(dict(row)))
            self._tasks.add(runner)
            runner.add_done_callback(self._tasks.discard)
        return len(rows)

    async def _answer_queries_live(self, driver: RunDriver) -> None:
        """In the task after a heartbeat: answer the queries that waited for the run,
        from its live state (what this task's activation just handed the workflow
        included), as Core answers the queries the server buffers into the next task.
        Without this, a query would wait for the local activities to end."""
        rows = await self.store.fetch(
            "claim_queries_of_run", uuid.UUID(driver.run_id), self.config.identity
        )
        for row in rows:
            await self._answer_query(dict(row), driver)

    async def _answer_query(self, row: dict[str, Any], live: RunDriver | None = None) -> None:
        request = row["request"]
        # A query's own storage work, reported as temporalio reports its query
        # activation's (apart from any workflow task of the run running meanwhile).
        storage = TaskStorageMetrics()
        try:
            driver = live or await self._driver_for_query(str(row["run_id"]))
            codecs = driver.codecs
            with storage.download.track():
                args = await codecs.decode_payloads(h.parse_payloads(request.get("args")))
                headers = await codecs.decode_headers(
                    h.parse_payload_map((request.get("header") or {}).get("fields"))
                )
            instance = driver.instance
            result = await driver.run_step(
                lambda: instance.query(
                    request["name"], args, query_id=str(row["id"]), headers=headers
                )
            )
            with storage.upload.track():
                encoded = await codecs.encode_payloads([result] if result is not None else [])
            answer: dict[str, Any] = {"result": h.payloads(encoded)}
        except KeyError as err:
            answer = {"error": err.args[0] if err.args else str(err)}
        except Exception as err:  # the handler raised: the caller gets its message
            # A failure error's own message (Temporal's failure.message), not its str()
            # (which puts an ApplicationError's type in front).
            message = err.message if isinstance(err, FailureError) else str(err)
            answer = {"error": message or type(err).__name__}
        _log_task_storage(f"query of run {row['run_id']}", storage)
        await self.store.fetchval("answer_query", row["id"], answer)

    async def _driver_for_query(self, run_id: str) -> RunDriver:
        """The cached run, or one rebuilt from history (a closed run, another worker's
        run, or one evicted). State is as of the last completed workflow task."""
        cached = self._cache.get(run_id)
        if cached is not None and cached.instance is not None:
            return cached
        execution = await self.store.fetchrow("run_row", uuid.UUID(run_id))
        task = {
            "run_id": run_id,
            "namespace": execution["namespace"],
            "task_queue": execution["task_queue"],
            "workflow_id": execution["workflow_id"],
            "workflow_type": execution["workflow_type"],
            "start_time": execution["start_time"],
            "started_at": execution["start_time"],
        }
        driver = self._new_driver(task)
        await driver.replay(await self.store.fetchval("events_after", uuid.UUID(run_id), 0))
        if driver.instance is None:  # no task completed yet: run its first activation
            driver.begin_task(live_task_facts(execution, self.store.limits))
            await driver.run_current(execution["start_time"], int(execution["next_event_id"]) - 1)
        return driver

    # ----------------------------------------------------------------- instances

    def _create_instance(
        self, task: Mapping[str, Any], job: c.InitializeWorkflow, attrs: Mapping[str, Any]
    ) -> Any:
        return create_instance(self.config, task, job, attrs)


def _log_task_storage(what: str, metrics: TaskStorageMetrics) -> None:
    """Report the external storage work of a workflow activation (or query), as
    temporalio hands it to its core for the workflow task's log (nothing when there
    was none)."""
    download, upload = metrics.download, metrics.upload
    if not (download.payload_count or upload.payload_count):
        return
    logger.debug(
        "%s: external storage retrieved %d payload(s), %d bytes "
        "in %s via %s; stored %d payload(s), %d bytes in %s via %s",
        what,
        download.payload_count,
        download.total_size,
        download.total_duration,
        sorted(download.driver_names),
        upload.payload_count,
        upload.total_size,
        upload.total_duration,
        sorted(upload.driver_names),
        extra={"payload_download_metrics": download, "payload_upload_metrics": upload},
    )


def run_identity(task: Mapping[str, Any]) -> RunIdentity:
    """The run of a workflow task, for the serialization contexts of its payloads."""
    return RunIdentity(
        namespace=task["namespace"],
        workflow_id=task["workflow_id"],
        workflow_type=task.get("workflow_type", ""),
        task_queue=task["task_queue"],
        run_id=str(task.get("run_id") or ""),
    )


def create_instance(
    config: WorkflowWorkerConfig,
    task: Mapping[str, Any],
    job: c.InitializeWorkflow,
    attrs: Mapping[str, Any],
) -> Any:
    """A workflow instance for the run of ``task`` (also used by the Replayer)."""
    definition = config.workflows.get(job.workflow_type) or config.dynamic
    if definition is None:
        names = ", ".join(sorted(config.workflows)) or "none"
        err = RuntimeError(
            f"Workflow class {job.workflow_type} is not registered on this worker, "
            f"available workflows: {names}"
        )
        err._hotmesh_no_instance = True  # type: ignore[attr-defined]  # see _log_task_failure
        raise err
    info = build_workflow_info(task, attrs, job)
    classes, extern_functions = config.workflow_interceptors
    return WorkflowInstance(
        definition,
        info,
        config.data_converter,
        workflow_failure_exception_types=list(config.failure_exception_types),
        interceptor_classes=classes,
        extern_functions=extern_functions,
        metric_meter=config.metric_meter,
        refused_calls=config.refused_calls,
        patch_activation_callback=config.patch_activation_callback,
    )


def _log_eviction(run_id: str, message: str) -> None:
    """temporalio's DEBUG line when a run leaves the worker's memory (its sticky cache)."""
    logger.debug("Evicting workflow with run ID %s, message: %s", run_id, message)


def task_failure_cause(err: BaseException) -> str:
    """The WorkflowTaskFailedCause Temporal's SDK reports for a failed activation."""
    known = getattr(type(err), "task_failure_cause", None)  # the limits' own failures
    if isinstance(known, str):
        return known
    if "Nondeterminism" in type(err).__name__:
        return "WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR"
    return "WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE"


def _task_timeout(started_attrs: Mapping[str, Any]) -> float:
    """The run's workflow task timeout, in seconds (Temporal's default 10 s)."""
    timeout = h.parse_duration(started_attrs.get("workflowTaskTimeout")) or timedelta(seconds=10)
    return timeout.total_seconds()


def _lease_keep_alive_interval(started_attrs: Mapping[str, Any]) -> float:
    """Extend a task's lease at half its workflow task timeout while local activities
    run (the lease lasts one whole timeout)."""
    return max(_task_timeout(started_attrs) / 2, 0.05)


def _local_activity_run(task: Mapping[str, Any]) -> LocalActivityRun:
    return LocalActivityRun(
        namespace=task["namespace"],
        workflow_id=task["workflow_id"],
        run_id=str(task["run_id"]),
        workflow_type=task.get("workflow_type") or "",
        task_queue=task["task_queue"],
    )


def live_task_facts(task: Mapping[str, Any], limits: Limits) -> TaskFacts:
    """The facts of a task about to run: its WorkflowTaskStarted event will take the
    run's next event id, and the history size is the one when it was leased."""
    started_id = int(task["next_event_id"])
    size = int(task.get("history_size") or 0)
    suggest = continue_as_new_suggested(
        started_id, size, limits.history_count_suggest_can, limits.history_size_suggest_can
    )
    return TaskFacts(started_id, size, suggest)


@dataclass
class RunAhead:
    """A workflow task run ahead of its activity's report (WorkflowWorker.run_ahead)."""

    worker: WorkflowWorker
    task: dict[str, Any]  # the task as predicted, shaped like a leased one
    driver: RunDriver
    completion: Any
    reserved: int  # activity slots held for its eager activities
    started: float  # time.monotonic() when it started

    @property
    def after(self) -> int:
        """The last event of the run the worker had: the prediction starts after it."""
        return int(self.task["after"])

    def finish(self, reply: Mapping[str, Any] | None) -> None:
        self.worker.finish_run_ahead(self, reply)


def _run_facts(task: Mapping[str, Any]) -> dict[str, Any]:
    """What a run-ahead needs of a run's last task to shape the next one."""
    return {
        key: task.get(key)
        for key in ("namespace", "task_queue", "workflow_id", "workflow_type", "start_time")
    }


def _predicted_events(
    activity: Mapping[str, Any],
    result: dict[str, Any] | None,
    after: int,
    identity: str,
    facts: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The events complete_activity_task appends for a successful attempt, then the
    WorkflowTaskScheduled of the task it wakes, shaped as a lease returns them. Only
    what replay reads matters: the ids, the activity's scheduled event and its result."""
    scheduled = str(activity["scheduled_event_id"])
    started = {
        "scheduledEventId": scheduled,
        "identity": identity,
        "attempt": activity.get("attempt"),
    }
    completed = {
        "result": result,
        "scheduledEventId": scheduled,
        "startedEventId": str(after + 1),
        "identity": identity,
    }
    task_queue = {"name": facts["task_queue"], "kind": "TASK_QUEUE_KIND_NORMAL"}
    return [
        {"id": after + 1, "type": "ActivityTaskStarted", "attrs": h.strip_none(started)},
        {"id": after + 2, "type": "ActivityTaskCompleted", "attrs": h.strip_none(completed)},
        {
            "id": after + 3,
            "type": "WorkflowTaskScheduled",
            "attrs": {"taskQueue": task_queue, "attempt": 1},
        },
    ]


_FAILED: Any = object()  # _run_task's answer for a workflow task that failed


class BadCommandAttributesError(ApplicationError):
    """A command names an activity, child or next run by an id, type or task queue the
    server refuses (too long, or not storable): the workflow task fails, as Temporal
    fails it with a BAD_*_ATTRIBUTES cause, instead of retrying a statement that
    Postgres rejects."""

    task_failure_cause = "WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES"

    def __init__(self, message: str) -> None:
        super().__init__(message, type="BadCommandAttributes")


def check_command_names(completion: Any, limits: Limits) -> None:
    """The ids, types and task queues of a completion's commands (InvalidStringError)."""
    for activity in completion.activities:
        check_name("ActivityId", activity["activity_id"], limits)
        check_name("ActivityType", activity["activity_type"], limits)
        check_name("TaskQueue", activity["task_queue"], limits)
    starts = [child["start"] for child in completion.children]
    if completion.close is not None and completion.close.get("continue_as_new"):
        starts.append(completion.close["continue_as_new"])
    for start in starts:
        check_name("WorkflowId", start.get("workflow_id", ""), limits)
        check_name("WorkflowType", start.get("workflow_type", ""), limits)
        check_name("TaskQueue", start.get("task_queue", ""), limits)


class PayloadsTooLargeError(ApplicationError):
    """A workflow task's completion carries payloads over the deployment's blob-size
    error limit. The task fails (and is retried) as temporalio fails it: cause
    WORKFLOW_TASK_FAILED_CAUSE_PAYLOADS_TOO_LARGE, failure type PayloadsTooLarge,
    temporalio's TMPRL1103 message."""

    task_failure_cause = "WORKFLOW_TASK_FAILED_CAUSE_PAYLOADS_TOO_LARGE"

    def __init__(self, message: str, size: int, limit: int) -> None:
        super().__init__(message, type="PayloadsTooLarge")
        self.size = size
        self.limit = limit


def _codec_applies_to_headers(behavior: Any) -> bool:
    """Workflow headers go through the codec unless the client said NO_CODEC."""

    return behavior is not None and behavior != HeaderCodecBehavior.NO_CODEC


def _retry_delay(attempt: int) -> float:
    # The exponent is capped: past attempt ~1000, 2 ** n no longer fits in a float.
    return min(0.5 * (2 ** min(attempt - 1, 10)), 10.0)


def workflow_interceptor_classes(interceptors: Sequence[Any]) -> tuple:
    """The workflow inbound classes of the worker's interceptors, and the extern
    functions they registered (what ``workflow.extern_functions()`` returns)."""
    classes = []
    extern_functions: dict[str, Any] = {}
    for interceptor in interceptors:
        hook = getattr(interceptor, "workflow_interceptor_class", None)
        if hook is None:
            continue
        cls = hook(wi.WorkflowInterceptorClassInput(unsafe_extern_functions=extern_functions))
        if cls is not None:
            classes.append(cls)
    return classes, extern_functions


def build_workflow_info(
    task: Mapping[str, Any], attrs: Mapping[str, Any], job: c.InitializeWorkflow
) -> Any:

    start_time = h.parse_time(task.get("start_time") or task["started_at"])
    parent = None
    parent_exec = attrs.get("parentWorkflowExecution")
    if parent_exec:
        parent = workflow.ParentInfo(
            namespace=attrs.get("parentWorkflowNamespace", task["namespace"]),
            run_id=parent_exec.get("runId", ""),
            workflow_id=parent_exec.get("workflowId", ""),
        )
    root = None
    root_exec = attrs.get("rootWorkflowExecution")
    if root_exec:
        root = workflow.RootInfo(
            run_id=root_exec.get("runId", ""), workflow_id=root_exec.get("workflowId", "")
        )
    retry = attrs.get("retryPolicy")
    search_attributes, typed_search_attributes = visibility.decode_both(
        h.payload_map(job.search_attributes)
    )
    return workflow.Info(
        attempt=int(attrs.get("attempt") or 1),
        continued_run_id=attrs.get("continuedExecutionRunId"),
        cron_schedule=attrs.get("cronSchedule"),
        execution_timeout=h.parse_duration(attrs.get("workflowExecutionTimeout")),
        first_execution_run_id=attrs.get("firstExecutionRunId") or str(task["run_id"]),
        headers=dict(job.headers),
        namespace=task["namespace"],
        original_execution_run_id=attrs.get("originalExecutionRunId"),
        parent=parent,
        root=root,
        priority=Priority(),
        raw_memo=dict(job.memo),
        retry_policy=h.parse_retry_policy(retry),
        run_id=str(task["run_id"]),
        run_timeout=h.parse_duration(attrs.get("workflowRunTimeout")),
        search_attributes=search_attributes,
        start_time=start_time,
        task_queue=task["task_queue"],
        task_timeout=h.parse_duration(attrs.get("workflowTaskTimeout")) or timedelta(seconds=10),
        typed_search_attributes=typed_search_attributes,
        workflow_id=task["workflow_id"],
        workflow_start_time=start_time,
        workflow_type=job.workflow_type,
    )
