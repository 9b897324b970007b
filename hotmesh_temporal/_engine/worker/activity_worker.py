"""Run activity attempts: claim them (or take them eagerly from the workflow worker),
call the user's function, heartbeat, and report the outcome in one round trip.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hotmesh_temporal import activity as activity_api
from hotmesh_temporal._engine.observability.metrics import NO_METRICS, activity_attempt_meter
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime.interception import execute_activity_attempt
from hotmesh_temporal._engine.store.limits import (
    FAILURE_TOO_LARGE,
    HEARTBEAT_TOO_LARGE,
    PAYLOADS_ERROR,
    PAYLOADS_WARNING,
    RESULT_TOO_LARGE,
    Limits,
    payloads_message_size,
    server_failure,
    truncate_failure,
)
from hotmesh_temporal._engine.store.store import Store
from hotmesh_temporal._engine.worker.completion_batcher import CompletionBatcher
from hotmesh_temporal._engine.worker.polling import Poller
from hotmesh_temporal._engine.worker.rate_limit import TokenBucket
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.api.failure.v1 import Failure
from hotmesh_temporal.common import HeaderCodecBehavior, Priority, RawValue, RetryPolicy
from hotmesh_temporal.converter import (
    ActivitySerializationContext,
    DataConverter,
    StorageDriverActivityInfo,
    StorageDriverWorkflowInfo,
)
from hotmesh_temporal.exceptions import ApplicationError, ApplicationErrorCategory
from hotmesh_temporal.exceptions import CancelledError as TemporalCancelledError

# The loggers temporalio's activity worker writes to (temporalio.worker._activity and
# temporalio.activity's), so log filters and levels set on those names apply here.
logger = logging.getLogger("hotmesh_temporal.worker._activity")
activity_logger = logging.getLogger("hotmesh_temporal.activity")
# temporalio logs a cancellation with its core's reason number (ActivityCancelReason).
_CANCEL_REASON_NUMBERS = {"not_found": 0, "cancel_requested": 1, "worker_shutdown": 3}


def task_token(task_id: int, attempt: int) -> bytes:
    return f"{task_id}:{attempt}".encode()


def parse_task_token(token: bytes) -> tuple:
    task_id, _, attempt = token.decode().partition(":")
    return int(task_id), int(attempt)


def activity_converter(data_converter: Any, task: Mapping[str, Any]) -> Any:
    """The data converter in the context of one activity task, as temporalio gives it
    to the activity's arguments, result, heartbeats and failure; external storage
    stores its result and failure on behalf of the workflow that scheduled it (the
    activity itself when standalone)."""
    return _in_activity_context(data_converter, task)._with_store_target(
        _activity_task_target(task)
    )


def heartbeat_converter(data_converter: Any, task: Mapping[str, Any]) -> Any:
    """:py:func:`activity_converter` for heartbeat details, which temporalio stores on
    behalf of the activity (its run id only when standalone)."""
    standalone = task["workflow_id"] == ""
    target = StorageDriverActivityInfo(
        namespace=task["namespace"],
        id=task["activity_id"],
        type=task["activity_type"],
        run_id=str(task["run_id"]) if standalone else None,
    )
    return _in_activity_context(data_converter, task)._with_store_target(target)


def _activity_task_target(
    task: Mapping[str, Any],
) -> StorageDriverActivityInfo | StorageDriverWorkflowInfo:
    if task["workflow_id"] == "":
        return StorageDriverActivityInfo(
            namespace=task["namespace"],
            id=task["activity_id"] or None,
            type=task["activity_type"] or None,
            run_id=str(task["run_id"]) or None,
        )
    return StorageDriverWorkflowInfo(
        namespace=task["namespace"],
        id=task["workflow_id"],
        type=task["workflow_type"] or None,
        run_id=str(task["run_id"]) or None,
    )


def _in_activity_context(data_converter: Any, task: Mapping[str, Any]) -> Any:
    standalone = task["workflow_id"] == ""
    return data_converter.with_context(
        ActivitySerializationContext(
            namespace=task["namespace"],
            activity_id=task["activity_id"],
            activity_type=task["activity_type"],
            activity_task_queue=task["task_queue"],
            workflow_id=None if standalone else task["workflow_id"],
            workflow_type=None if standalone else task["workflow_type"],
            is_local=False,
        )
    )


async def _decode_raw(dc: Any, payloads: list[Payload]) -> list[Payload]:
    codec = dc._edge_codec
    return list(await codec.decode(payloads)) if codec else payloads


async def encode_attempt_failure(data_converter: Any, err: BaseException) -> tuple:
    """A failed attempt as the fail_activity_task arguments: (failure JSON, error type,
    non-retryable, next retry delay in seconds or None)."""
    failure = Failure()
    await data_converter.encode_failure(err, failure)
    info = (
        failure.application_failure_info if failure.HasField("application_failure_info") else None
    )
    error_type = info.type if info is not None else type(err).__name__
    non_retryable = bool(info.non_retryable) if info is not None else False
    next_delay = None
    if info is not None and info.HasField("next_retry_delay"):
        next_delay = info.next_retry_delay.ToTimedelta().total_seconds()
    return failure.to_json_dict(), error_type, non_retryable, next_delay


def limit_failure(
    limits: Limits,
    failure: dict[str, Any],
    error_type: str,
    non_retryable: bool,
    next_delay: float | None,
) -> tuple[dict[str, Any], str, bool, float | None]:
    """The server's rule for an activity failure over blob_size_error: a non-retryable
    failure of its own, the reported one (cut to blob_size_warn, without its payloads)
    as its cause. Other failures pass unchanged."""
    if Failure.from_json_dict(failure, ignore_unknown_fields=True).ByteSize() <= (
        limits.blob_size_error
    ):
        return failure, error_type, non_retryable, next_delay
    cause = truncate_failure(failure, limits.blob_size_warn)
    return server_failure(FAILURE_TOO_LARGE, cause), "", True, None


def _safe_str(value: BaseException) -> str:
    """str() of an exception, or its type when its __str__ itself raises."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure
        return f"<{type(value).__name__} whose str() raised>"


@dataclass
class _Running:
    task: Mapping[str, Any]
    context: activity_api._Context
    future: asyncio.Future | None = None
    cancel_reason: str | None = None
    pending_details: list[Any] | None = None
    last_sent: float = 0.0
    heartbeat_handle: asyncio.TimerHandle | None = None
    heartbeat_inflight: bool = False
    heartbeat_task: asyncio.Task | None = None
    process_cancel: Any = None  # the cancel event of an attempt in a process pool
    heartbeat_error: Exception | None = None  # details that could not be encoded
    oversized: _Refusal | None = None  # heartbeat details over the blob error limit


@dataclass
class ActivityWorkerConfig:
    namespace: str
    task_queue: str
    identity: str
    activities: dict[str, Any]  # name -> activity._Definition
    dynamic: Any | None
    executor: concurrent.futures.Executor | None
    max_concurrent: int
    data_converter: Any
    client: Any
    max_heartbeat_throttle: float = 60.0
    default_heartbeat_throttle: float = 30.0
    interceptors: Sequence[Any] = field(default_factory=list)
    header_codec_behavior: Any = None  # common.HeaderCodecBehavior; CODEC decodes headers
    shared_state_manager: Any = None  # worker.SharedStateManager, for process pools
    max_per_second: float | None = None  # Worker(max_activities_per_second=...)
    # Worker(max_task_queue_activities_per_second=...): the queue's rate, kept in
    # Postgres for all its workers (schema/0014).
    task_queue_per_second: float | None = None
    metric_meter: Any = None  # the runtime's meter, behind activity.metric_meter()
    # Further queues whose activity tasks this worker claims too, in the same claim
    # (Worker._also_run_activities_of); never with task_queue_per_second.
    also_queues: tuple[str, ...] = ()
    # temporalio's own check of results and heartbeat details against the blob error
    # limit (Worker(disable_payload_error_limit=True) turns it off: then the server's
    # rule applies, which fails the attempt for good).
    payload_error_limit: bool = True


@dataclass(frozen=True)
class _Refusal:
    """How an attempt fails when what it reports is over the blob error limit."""

    failure: dict[str, Any]
    error_type: str
    non_retryable: bool


@dataclass(frozen=True)
class _Completion:
    """A completed attempt waiting to be reported."""

    task_id: int
    attempt: int
    result: dict[str, Any] | None


class ActivityWorker:
    def __init__(self, store: Store, config: ActivityWorkerConfig) -> None:
        self.store = store
        self.config = config
        # By (task id, attempt): a timed-out attempt may still run beside the next one.
        self._running: dict[tuple, _Running] = {}
        self._tasks: set = set()
        # Slots promised to eager activities of a workflow task still being completed:
        # the poller must not fill them meanwhile.
        self._reserved_eager = 0
        self._shutdown = threading.Event()
        self._process_shutdown: Any = None  # the shutdown event process-pool attempts see
        self._async_shutdown = asyncio.Event()
        self._rate = TokenBucket(config.max_per_second) if config.max_per_second else None
        # When the task queue's bucket said its next token comes (loop time), if empty.
        self._queue_token_at: float | None = None
        self.poller = Poller(
            name=f"activity poller for {config.task_queue}",
            claim=self._claim,
            capacity=self._claimable,
            retry_after=self._seconds_until_a_token,
            notify_kind="a",
            namespace=config.namespace,
            task_queue=config.task_queue,
            store=store,
            also_queues=config.also_queues,
        )
        # The queues one claim asks, first to last; rotated after each claim so that
        # a busy queue cannot keep the others waiting.
        self._claim_order = [config.task_queue, *config.also_queues]
        # The workflow worker of the same Worker: takes the workflow task an activity's
        # report leased to us, and may run that task ahead of the report.
        self.on_workflow_task_ready: Callable[[Mapping[str, Any]], None] | None = None
        self.run_ahead: Callable[[Mapping[str, Any], Any], Awaitable[Any]] | None = None
        # Told when this worker cannot go on (its executor broke), as temporalio fails
        # the whole worker then.
        self.on_fatal: Callable[[BaseException], None] | None = None
        self.metrics: Any = NO_METRICS  # the Worker sets its runtime's metrics
        # Completions of one run that arrive while another of its reports is in flight
        # go together in one transaction (a fan-out's otherwise queue on the run's row).
        self._completions: CompletionBatcher[_Completion] = CompletionBatcher(
            self._send_completion, self._send_completions
        )

    def free_slots(self) -> int:
        return self.config.max_concurrent - len(self._tasks) - self._reserved_eager

    def _claimable(self) -> int:
        free = self.free_slots()
        return free if self._rate is None else min(free, self._rate.available())

    def reserve_eager(self, wanted: int) -> int:
        """Hold up to ``wanted`` free slots for eager activities; returns how many."""
        granted = max(0, min(wanted, self._claimable()))
        self._reserved_eager += granted
        return granted

    def start_eager(self, tasks: Sequence[dict[str, Any]], reserved: int) -> None:
        """Run the eager tasks the database gave us and free the rest of the hold."""
        self._reserved_eager -= reserved
        if self._rate is not None:
            self._rate.take(len(tasks))
        for task in tasks:
            self.start(task)
        if len(tasks) < reserved:
            self.poller.slot_freed()

    def _seconds_until_a_token(self) -> float | None:
        """How long until a rate limit lets this worker claim again; None when no
        limit holds it back (the poller then waits for a wake-up as usual)."""
        waits = []
        if self._rate is not None and self._rate.available() < 1:
            waits.append(self._rate.seconds_until_next() or 0.0)
        if self._queue_token_at is not None:
            waits.append(max(0.0, self._queue_token_at - asyncio.get_running_loop().time()))
        return max(waits) if waits else None

    async def _claim(self, limit: int) -> int:
        if self.config.task_queue_per_second:
            rows = await self._claim_at_queue_rate(limit)
        elif self.config.also_queues:
            rows = await self._claim_of_queues(limit)
        else:
            rows = await self.store.fetch(
                "claim_activity_tasks",
                self.config.namespace,
                self.config.task_queue,
                self.config.identity,
                limit,
            )
        if self._rate is not None:
            self._rate.take(len(rows))
        for row in rows:
            self.start(dict(row))
        return len(rows)

    async def _claim_of_queues(self, limit: int) -> list[Any]:
        order = self._claim_order
        rows = await self.store.fetch(
            "claim_activity_tasks_of_queues",
            self.config.namespace,
            order,
            self.config.identity,
            limit,
        )
        self._claim_order = order[1:] + order[:1]
        return rows

    async def _claim_at_queue_rate(self, limit: int) -> list[Any]:
        rows = await self.store.fetch(
            "claim_activity_tasks_at_rate",
            self.config.namespace,
            self.config.task_queue,
            self.config.identity,
            limit,
            self.config.task_queue_per_second,
        )
        # The tasks' columns, then token_wait; the bucket's row has no task (id NULL).
        wait = next((r["token_wait"] for r in rows if r["id"] is None), None)
        now = asyncio.get_running_loop().time()
        self._queue_token_at = None if wait is None else now + wait
        return [
            {k: v for k, v in r.items() if k != "token_wait"} for r in rows if r["id"] is not None
        ]

    def start(self, task: dict[str, Any]) -> None:
        """Run one claimed attempt in the background."""
        runner = asyncio.get_running_loop().create_task(self._run(task))
        self._tasks.add(runner)
        runner.add_done_callback(self._on_done)

    def _on_done(self, runner: asyncio.Task) -> None:
        self._tasks.discard(runner)
        self.poller.slot_freed()

    # ------------------------------------------------------------------ shutdown

    async def shutdown(self, graceful_timeout: float) -> None:
        self._shutdown.set()
        self._async_shutdown.set()
        if self._process_shutdown is not None:
            self._process_shutdown.set()
        await self.poller.stop()
        if self._tasks and graceful_timeout > 0:
            await asyncio.wait(set(self._tasks), timeout=graceful_timeout)
        for running in list(self._running.values()):
            self._cancel(running, "worker_shutdown")
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

    # ---------------------------------------------------------------- one attempt

    async def _run(self, task: dict[str, Any]) -> None:
        started, failed = time.monotonic(), True
        try:
            failed = not await self._run_attempt(task)
        except Exception:
            logger.exception("Failed running activity task %s", task.get("id"))
        self.metrics.activity(task.get("activity_type", ""), time.monotonic() - started, failed)

    async def _run_attempt(self, task: dict[str, Any]) -> bool:
        """Run one attempt and report it; True when it succeeded (or went async)."""
        cfg = self.config
        token = task_token(task["id"], task["attempt"])
        logger.debug("Running activity %s (token %s)", task["activity_type"], token)
        defn = cfg.activities.get(task["activity_type"]) or cfg.dynamic
        dc = activity_converter(cfg.data_converter, task)
        if defn is None:
            names = ", ".join(sorted(cfg.activities)) or "none"
            err = _not_registered_error(task["activity_type"], names)
            log_unregistered_failure(err)
            _log_completion(task, "failed")
            await self._report_failure(task, err)
            return False
        heartbeat_details = await dc.decode(h.parse_payloads(task.get("heartbeat_details")))
        info = _build_info(task, heartbeat_details)
        running = _Running(task=task, context=None)  # type: ignore[arg-type]
        context = activity_api._Context(
            info=lambda: info,
            heartbeat=lambda *details: self._heartbeat(running, details),
            cancelled=threading.Event(),
            worker_shutdown=self._shutdown,
            payload_converter_factory=lambda: dc.payload_converter,
            client=cfg.client,
            runtime_metric_meter=activity_attempt_meter(
                cfg.metric_meter, defn.is_async, cfg.executor
            ),
            async_cancelled=asyncio.Event() if defn.is_async else None,
            async_shutdown=self._async_shutdown if defn.is_async else None,
        )
        running.context = context
        self._running[(task["id"], task["attempt"])] = running
        try:
            payloads = h.parse_payloads(task.get("input"))
            if defn.name is None:  # dynamic: one Sequence[RawValue] argument
                args: list[Any] = [[RawValue(p) for p in await _decode_raw(dc, payloads)]]
            else:
                args = await dc.decode(payloads, defn.arg_types) if payloads else []
            activity_log(task, logging.DEBUG, "Starting activity")
            result = await self._execute_through_interceptors(defn, args, context, running, info)
            # A result that cannot be converted fails the attempt (as in temporalio).
            encoded = await dc.encode([result])
        except activity_api._CompleteAsyncError:
            activity_log(task, logging.DEBUG, "Completing asynchronously")
            _log_completion(task, "will_complete_async")
            return True
        except BaseException as err:  # noqa: BLE001 - every failure is reported
            await self._report_exception(task, running, err)
            return False
        finally:
            self._running.pop((task["id"], task["attempt"]), None)
            if running.process_cancel is not None:
                self.config.shared_state_manager.unregister_heartbeater(info.task_token)
            if running.heartbeat_handle is not None:
                running.heartbeat_handle.cancel()
        # An attempt failed for its heartbeat's size stays failed, whatever it returns.
        refusal = running.oversized or self._refuse_oversized(task, encoded, RESULT_TOO_LARGE)
        if refusal is not None:
            await self._report_failure_json(
                task, refusal.failure, refusal.error_type, refusal.non_retryable
            )
            return False
        _log_completion(task, "completed")
        await self._report_success(task, h.payloads(encoded))
        return True

    def _refuse_oversized(
        self, task: Mapping[str, Any], payloads: Sequence[Payload], server_text: str
    ) -> _Refusal | None:
        """Temporal's blob limits on a result or heartbeat details: a warning past
        blob_size_warn; past blob_size_error temporalio fails the attempt with its
        retryable PayloadsTooLarge error (or, with that check disabled, the server fails
        it for good with ``server_text``)."""
        limits = self.store.limits
        size = payloads_message_size([p.ByteSize() for p in payloads])
        if size > limits.blob_size_error:
            if not self.config.payload_error_limit:
                return _Refusal(server_failure(server_text), "", True)
            logger.error("%s size=%d limit=%d", PAYLOADS_ERROR, size, limits.blob_size_error)
            return _Refusal(_PAYLOADS_TOO_LARGE_FAILURE, "PayloadsTooLarge", False)
        if size > limits.blob_size_warn:
            logger.warning("%s size=%d limit=%d", PAYLOADS_WARNING, size, limits.blob_size_warn)
        return None

    async def _report_success(self, task: Mapping[str, Any], result: dict[str, Any] | None) -> None:
        """Report a completed attempt, with the workflow task it wakes when this
        worker could run that task ahead (WorkflowWorker.run_ahead)."""
        cfg = self.config
        ahead = (
            await self.run_ahead(task, result)
            if self.run_ahead is not None and not self._fanning_out(task)
            else None
        )
        if ahead is None:
            reply = await self._completions.send(
                task["run_id"], _Completion(task["id"], task["attempt"], result)
            )
            self._after_report(reply)
            return
        reply = None
        try:
            reply = await self.store.fetchval_repairing(
                "complete_activity_run_ahead",
                task["id"],
                task["attempt"],
                result,
                cfg.identity,
                cfg.identity,
                ahead.after,
                ahead.completion.to_json(),
            )
        finally:
            ahead.finish(reply)

    def _fanning_out(self, task: Mapping[str, Any]) -> bool:
        """Whether other activities of this attempt's run are running or being reported
        here: a fan-out. A task run ahead on this one result would be refused as soon as
        another one's report lands first (and its cached run dropped, then replayed);
        reported together, they wake one task that sees them all."""
        run_id = task["run_id"]
        return self._completions.busy(run_id) or any(
            other.task["run_id"] == run_id and other.task is not task
            for other in self._running.values()
        )

    async def _send_completion(self, done: _Completion) -> Any:
        cfg = self.config
        return await self.store.fetchval(
            "complete_activity_task",
            done.task_id,
            done.attempt,
            done.result,
            cfg.identity,
            cfg.identity,
            self.on_workflow_task_ready is not None,
        )

    async def _send_completions(self, batch: Sequence[_Completion]) -> list[Any]:
        cfg = self.config
        replies = await self.store.fetchval(
            "complete_activity_tasks",
            [done.task_id for done in batch],
            [done.attempt for done in batch],
            [done.result for done in batch],
            cfg.identity,
            cfg.identity,
            self.on_workflow_task_ready is not None,
        )
        return list(replies)

    async def _execute_through_interceptors(
        self, defn: Any, args: list[Any], context: Any, running: _Running, info: Any
    ) -> Any:
        """Run the attempt through the worker's activity interceptors."""
        return await execute_activity_attempt(
            self.config.interceptors,
            context=context,
            info=info,
            heartbeat=lambda *details: self._heartbeat(running, details),
            fn=defn.fn,
            args=args,
            executor=None if defn.is_async else self.config.executor,
            headers=await self._decode_headers(running.task),
            invoke=lambda fn, call_args: self._invoke(defn, fn, call_args, context, running),
        )

    async def _decode_headers(self, task: Mapping[str, Any]) -> dict[str, Payload]:
        """The attempt's headers; through the codec only with HeaderCodecBehavior.CODEC
        (WORKFLOW_ONLY_CODEC leaves activity headers alone, as temporalio does)."""

        headers = h.parse_payload_map((task.get("header") or {}).get("fields"))
        codec = self.config.data_converter.payload_codec
        if (
            not headers
            or codec is None
            or self.config.header_codec_behavior != HeaderCodecBehavior.CODEC
        ):
            return headers
        keys = list(headers)
        return dict(zip(keys, await codec.decode([headers[k] for k in keys]), strict=False))

    async def _invoke(
        self, defn: Any, fn: Callable[..., Any], args: list[Any], context: Any, running: _Running
    ) -> Any:
        if defn.is_async:
            token = activity_api._current_context.set(context)
            try:
                running.future = asyncio.ensure_future(fn(*args))
            finally:
                activity_api._current_context.reset(token)
            return await running.future
        executor = self.config.executor
        if executor is None:
            raise RuntimeError("sync activities need an activity_executor on the worker")
        if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
            running.future = asyncio.get_running_loop().run_in_executor(
                executor, _call_in_process, fn, args, *self._process_state(context, running)
            )
            return await running.future
        if isinstance(executor, concurrent.futures.ThreadPoolExecutor) and not getattr(
            defn, "no_thread_cancel_exception", False
        ):
            # As temporalio: only a thread pool's threads can be interrupted.
            context.thread_raiser = activity_api._ThreadCancelRaiser()
        ctx = contextvars.copy_context()
        ctx.run(activity_api._current_context.set, context)
        running.future = asyncio.get_running_loop().run_in_executor(
            executor, ctx.run, _call_in_thread, context.thread_raiser, fn, args
        )
        return await running.future

    # ---------------------------------------------------------------- reporting

    async def _report_exception(
        self, task: Mapping[str, Any], running: _Running, err: BaseException
    ) -> None:

        await self._flush_heartbeat(running)
        cancelled = isinstance(err, (asyncio.CancelledError, TemporalCancelledError))
        if cancelled and running.oversized is not None:
            refusal = running.oversized
            await self._report_failure_json(
                task, refusal.failure, refusal.error_type, refusal.non_retryable
            )
            return
        if cancelled and running.heartbeat_error is not None:
            err = running.heartbeat_error
            activity_log(
                task,
                logging.WARNING,
                f"Completing as failure during heartbeat with error of type {type(err)}: {err}",
            )
            _log_completion(task, "failed")
            await self._report_failure(task, err)
            return
        if cancelled and running.cancel_reason in ("cancel_requested", "worker_shutdown"):
            activity_log(task, logging.DEBUG, "Completing as cancelled")
            _log_completion(task, "cancelled")
        if cancelled and running.cancel_reason == "worker_shutdown":
            # temporalio's core reports a cancellation it caused by shutting down as this
            # failure (retryable), so the next attempt need not wait for a timeout.
            await self._report_failure_json(task, _WORKER_SHUTDOWN_FAILURE, "WorkerShutdown")
            return
        if cancelled and running.cancel_reason == "cancel_requested":
            reply = await self.store.fetchval(
                "cancel_activity_task",
                task["id"],
                task["attempt"],
                None,
                self.config.identity,
                self.config.identity,
                self.on_workflow_task_ready is not None,
            )
            self._after_report(reply)
            return
        if cancelled and running.cancel_reason == "not_found":
            # The attempt is gone (timed out or its run closed): nothing to report, but
            # temporalio logs it as failed all the same.
            log_activity_failure(task, err)
            _log_completion(task, "failed")
            return
        if not isinstance(err, Exception):
            raise err
        log_activity_failure(task, err)
        _log_completion(task, "failed")
        await self._report_failure(task, err)
        if isinstance(err, concurrent.futures.BrokenExecutor) and self.on_fatal is not None:
            self.on_fatal(err)

    async def _report_failure(self, task: Mapping[str, Any], err: BaseException) -> None:
        try:
            failure, error_type, non_retryable, next_delay = await encode_attempt_failure(
                activity_converter(self.config.data_converter, task), err
            )
        except Exception as inner:  # noqa: BLE001 - the attempt must still fail, as in temporalio
            logger.exception("Exception handling failed, original error: %s", _safe_str(err))
            failure = {
                "message": f"Failed building exception result: {_safe_str(inner)}",
                "applicationFailureInfo": {},
            }
            error_type, non_retryable, next_delay = "", False, None
        await self._report_failure_json(task, failure, error_type, non_retryable, next_delay)

    async def _report_failure_json(
        self,
        task: Mapping[str, Any],
        failure: dict[str, Any],
        error_type: str,
        non_retryable: bool = False,
        next_delay: float | None = None,
    ) -> None:
        failure, error_type, non_retryable, next_delay = limit_failure(
            self.store.limits, failure, error_type, non_retryable, next_delay
        )
        reply = await self.store.fetchval_repairing(
            "fail_activity_task",
            task["id"],
            task["attempt"],
            failure,
            error_type,
            non_retryable,
            next_delay,
            self.config.identity,
            self.config.identity,
            self.on_workflow_task_ready is not None,
        )
        self._after_report(reply)

    def _after_report(self, reply: Mapping[str, Any] | None) -> None:
        if reply and reply.get("next") and self.on_workflow_task_ready is not None:
            self.on_workflow_task_ready(reply["next"])

    # ---------------------------------------------------------------- heartbeats

    def _heartbeat(self, running: _Running, details: Sequence[Any]) -> None:
        """Called from activity code, possibly in another thread."""
        loop = self._loop
        if threading.current_thread() is threading.main_thread() or _on_loop(loop):
            self._queue_heartbeat(running, list(details))
        else:
            loop.call_soon_threadsafe(self._queue_heartbeat, running, list(details))

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return self.poller.loop

    def _queue_heartbeat(self, running: _Running, details: list[Any]) -> None:
        running.pending_details = details
        if running.heartbeat_inflight or running.heartbeat_handle is not None:
            return
        interval = self._throttle_interval(running.task)
        wait = running.last_sent + interval - self._loop.time()
        if wait <= 0:
            self._send_heartbeat(running)
        else:
            running.heartbeat_handle = self._loop.call_later(wait, self._send_heartbeat, running)

    def _throttle_interval(self, task: Mapping[str, Any]) -> float:
        timeout = task.get("heartbeat_timeout")
        if timeout:
            return min(float(timeout) * 0.8, self.config.max_heartbeat_throttle)
        return self.config.default_heartbeat_throttle

    def _send_heartbeat(self, running: _Running) -> None:
        running.heartbeat_handle = None
        task = running.task
        if running.pending_details is None or (task["id"], task["attempt"]) not in self._running:
            return
        details, running.pending_details = running.pending_details, None
        running.heartbeat_inflight = True
        running.last_sent = self._loop.time()
        running.heartbeat_task = self._loop.create_task(
            self._heartbeat_round_trip(running, details)
        )

    async def _heartbeat_round_trip(self, running: _Running, details: list[Any]) -> None:
        task = running.task
        try:
            dc = heartbeat_converter(self.config.data_converter, task)
            payloads = await dc.encode(details) if details else []
        except Exception as err:
            running.heartbeat_inflight = False
            self._fail_on_heartbeat_error(running, err)
            return
        refusal = self._refuse_oversized(task, payloads, HEARTBEAT_TOO_LARGE)
        if refusal is not None:
            # The details are not recorded; the attempt fails and the activity is
            # cancelled, as with temporalio (or the server, its check disabled).
            running.heartbeat_inflight = False
            running.oversized = refusal
            self._cancel(running, "heartbeat_too_large")
            return
        # As temporalio: logged once the details are encoded, as they are sent.
        if activity_logger.isEnabledFor(logging.DEBUG):
            activity_log(task, logging.DEBUG, f"Recording heartbeat with details {tuple(details)}")
        try:
            answer = await self.store.fetchval(
                "heartbeat_activity_task", task["id"], task["attempt"], h.payloads(payloads)
            )
        except Exception:
            logger.exception("heartbeat of activity %s failed", task["activity_id"])
            return
        finally:
            running.heartbeat_inflight = False
        if answer == "cancel":
            self._cancel(running, "cancel_requested")
        elif answer == "gone":
            self._cancel(running, "not_found")
        if running.pending_details is not None and running.heartbeat_handle is None:
            self._queue_heartbeat(running, running.pending_details)

    def _fail_on_heartbeat_error(self, running: _Running, err: Exception) -> None:
        """Details the converter cannot encode end the attempt with that error, as in
        temporalio: the activity is cancelled and its attempt reported as failed."""
        if (running.task["id"], running.task["attempt"]) not in self._running:
            activity_log(
                running.task,
                logging.ERROR,
                "Failed recording heartbeat (activity already done, cannot error)",
                exc_info=err,
            )
            return
        activity_log(
            running.task,
            logging.WARNING,
            "Cancelling activity because failed recording heartbeat",
            exc_info=err,
        )
        running.heartbeat_error = err
        self._cancel(running, "heartbeat_error")

    async def _flush_heartbeat(self, running: _Running) -> None:
        """Record the last heartbeat before the attempt fails, so the next attempt
        (and a timeout's lastHeartbeatDetails) sees it, as temporalio does."""
        if running.heartbeat_handle is not None:
            running.heartbeat_handle.cancel()
            running.heartbeat_handle = None
        if running.heartbeat_task is not None and not running.heartbeat_task.done():
            await asyncio.wait([running.heartbeat_task])
        if running.pending_details is not None:
            details, running.pending_details = running.pending_details, None
            running.heartbeat_inflight = True
            await self._heartbeat_round_trip(running, details)

    def _process_state(self, context: Any, running: _Running) -> tuple:
        """What a process-pool attempt gets: its info, events for cancellation and
        worker shutdown, and a heartbeat sender (see worker.SharedStateManager)."""
        info = context.info()
        manager = self.config.shared_state_manager
        if manager is None:
            return (info, None, None, None)
        if self._process_shutdown is None:
            self._process_shutdown = manager.new_event()
            if self._shutdown.is_set():
                self._process_shutdown.set()
        running.process_cancel = manager.new_event()
        sender = manager.register_heartbeater(info.task_token, context.heartbeat)
        return (info, running.process_cancel, self._process_shutdown, sender)

    def _cancel(self, running: _Running, reason: str) -> None:
        if running.cancel_reason is not None:
            return
        running.cancel_reason = reason
        if reason in _CANCEL_REASON_NUMBERS:
            token = task_token(running.task["id"], running.task["attempt"])
            logger.debug(
                "Cancelling activity %s, reason: %s", token, _CANCEL_REASON_NUMBERS[reason]
            )
        ctx = running.context
        ctx.cancellation_details = activity_api.ActivityCancellationDetails(
            cancel_requested=reason == "cancel_requested",
            not_found=reason == "not_found",
            worker_shutdown=reason == "worker_shutdown",
        )
        ctx.cancelled.set()
        if running.process_cancel is not None:
            running.process_cancel.set()
        if ctx.async_cancelled is not None:
            ctx.async_cancelled.set()
            if running.future is not None:
                running.future.cancel("Activity cancelled")  # the text temporalio gives
        elif ctx.thread_raiser is not None:
            ctx.thread_raiser.raise_in_thread(TemporalCancelledError)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _not_registered_error(activity_type: str, names: str) -> BaseException:

    return ApplicationError(
        f"Activity function {activity_type} is not registered on this worker, "
        f"available activities: {names}",
        type="NotFoundError",
    )


def _seconds_to_timedelta(value: Any) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))


def retry_policy_from_row(policy: Mapping[str, Any] | None) -> Any:
    """A task row's retry policy, with the defaults the SQL retry rules apply."""

    policy = policy or {}
    initial = policy.get("initial_interval", 1)
    return RetryPolicy(
        initial_interval=timedelta(seconds=initial),
        backoff_coefficient=policy.get("backoff_coefficient", 2.0),
        # As a Temporal server does, report the default the retries actually use.
        maximum_interval=timedelta(seconds=policy.get("maximum_interval", 100 * initial)),
        maximum_attempts=policy.get("maximum_attempts", 0),
        non_retryable_error_types=policy.get("non_retryable_error_types") or None,
    )


def _build_info(task: Mapping[str, Any], heartbeat_details: Sequence[Any]) -> activity_api.Info:

    # A standalone activity (started by a client) has no workflow: its task row holds
    # empty workflow columns, and its run id is the activity's own.
    standalone = task["workflow_id"] == ""
    return activity_api.Info(
        activity_id=task["activity_id"],
        activity_type=task["activity_type"],
        attempt=task["attempt"],
        current_attempt_scheduled_time=h.parse_time(task["attempt_scheduled_time"]),
        heartbeat_details=list(heartbeat_details),
        heartbeat_timeout=_seconds_to_timedelta(task.get("heartbeat_timeout")),
        is_local=False,
        namespace=task["namespace"],
        schedule_to_close_timeout=_seconds_to_timedelta(task.get("schedule_to_close")),
        scheduled_time=h.parse_time(task["scheduled_time"]),
        start_to_close_timeout=_seconds_to_timedelta(task.get("start_to_close")),
        started_time=h.parse_time(task.get("started_time") or task["scheduled_time"]),
        task_queue=task["task_queue"],
        task_token=task_token(task["id"], task["attempt"]),
        workflow_id=None if standalone else task["workflow_id"],
        workflow_namespace=None if standalone else task["namespace"],
        workflow_run_id=None if standalone else str(task["run_id"]),
        workflow_type=None if standalone else task["workflow_type"],
        priority=Priority(),
        retry_policy=retry_policy_from_row(task.get("retry_policy")),
        activity_run_id=str(task["run_id"]) if standalone else None,
    )


def _call_in_thread(raiser: Any, fn: Callable[..., Any], args: list[Any]) -> Any:
    """A sync activity in a thread pool: cancellation may be raised in this thread
    while ``fn`` runs (activity._ThreadCancelRaiser), and only then."""
    if raiser is None:
        return fn(*args)
    with raiser.running_here():
        return fn(*args)


def _call_in_process(
    fn: Callable[..., Any],
    args: list[Any],
    info: activity_api.Info,
    cancelled: Any,
    worker_shutdown: Any,
    heartbeat_sender: Any,
) -> Any:
    """Entry point of a sync activity in a process pool. Without a shared state
    manager the child gets events of its own and heartbeats go nowhere (the Worker
    refuses that setup, as temporalio does, so only direct engine use sees it)."""
    heartbeat = None
    if heartbeat_sender is not None:

        def heartbeat(*details: Any) -> None:
            heartbeat_sender.send_heartbeat(info.task_token, *details)

    context = activity_api._Context(
        info=lambda: info,
        heartbeat=heartbeat,
        cancelled=cancelled if cancelled is not None else threading.Event(),
        worker_shutdown=worker_shutdown if worker_shutdown is not None else threading.Event(),
        payload_converter_factory=_default_payload_converter,
    )
    activity_api._current_context.set(context)
    return fn(*args)


def _default_payload_converter() -> Any:

    return DataConverter.default.payload_converter


# The failure temporalio's core reports for an attempt cancelled by worker shutdown
# (its text and type, no source or stack trace).
# temporalio's failure for a result or heartbeat over the blob error limit (retryable).
_PAYLOADS_TOO_LARGE_FAILURE = {
    "message": PAYLOADS_ERROR,
    "applicationFailureInfo": {"type": "PayloadsTooLarge"},
}

_WORKER_SHUTDOWN_FAILURE = {
    "message": "Worker is shutting down and this activity did not complete in time",
    "applicationFailureInfo": {"type": "WorkerShutdown"},
}


def activity_log(
    task: Mapping[str, Any], level: int, message: str, exc_info: BaseException | None = None
) -> None:
    """A line on temporalio's activity logger, with the attempt's details appended and
    in the ``temporal_activity`` extra, as its LoggerAdapter writes them."""
    if not activity_logger.isEnabledFor(level):
        return  # built per attempt and heartbeat: skipped when nobody listens
    details = _log_details(task)
    activity_logger.log(
        level, f"{message} ({details})", exc_info=exc_info, extra={"temporal_activity": details}
    )


def _log_completion(task: Mapping[str, Any], outcome: str) -> None:
    log_completion(task_token(task["id"], task["attempt"]), outcome)


def log_completion(token: bytes, outcome: str) -> None:
    """temporalio's DEBUG line before an attempt's outcome is sent (its tail there is
    core's protobuf; here the token and the outcome)."""
    logger.debug("Completing activity with completion: task_token %s, %s", token, outcome)


def log_unregistered_failure(err: BaseException) -> None:
    """temporalio's record of an attempt of an unknown type: it has no activity
    context yet, so no details on the line."""
    activity_logger.warning(
        "Completing activity as failed",
        exc_info=err,
        extra={"__temporal_error_identifier": "ActivityFailure"},
    )


def log_details_of(info: activity_api.Info) -> dict[str, Any]:
    """An attempt's Info as the mapping the log helpers read (a task row's keys)."""
    return {
        "activity_id": info.activity_id,
        "activity_type": info.activity_type,
        "attempt": info.attempt,
        "namespace": info.namespace,
        "task_queue": info.task_queue,
        "workflow_id": info.workflow_id,
        "run_id": info.workflow_run_id,
        "workflow_type": info.workflow_type,
    }


def _log_details(task: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "activity_id": task["activity_id"],
        "activity_type": task["activity_type"],
        "attempt": task["attempt"],
        "namespace": task.get("namespace"),
        "task_queue": task.get("task_queue"),
        "workflow_id": task["workflow_id"],
        "workflow_run_id": str(task.get("run_id")),
        "workflow_type": task.get("workflow_type"),
    }


def log_activity_failure(task: Mapping[str, Any], err: BaseException) -> None:
    """temporalio's record of a failed attempt: WARNING with the traceback, DEBUG for a
    BENIGN application error, and the error identifier extra that log filters key on."""
    details = _log_details(task)
    benign = isinstance(err, ApplicationError) and err.category == ApplicationErrorCategory.BENIGN
    activity_logger.log(
        logging.DEBUG if benign else logging.WARNING,
        f"Completing activity as failed ({details})",
        exc_info=err,
        extra={"temporal_activity": details, "__temporal_error_identifier": "ActivityFailure"},
    )
