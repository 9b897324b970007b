"""The worker's log records, as a temporalio user's log filters see them.

Each scenario here is written once against the temporalio API (``ctx.sdk``) and drives a
worker through something that makes it log: a failed workflow task, non-determinism, a
deadlock, activity failures and retries, a heartbeat timeout, unknown types and handlers,
a rejected update, a worker shutdown. :func:`capture` collects every record the SDK's
loggers emit meanwhile (DEBUG and up) and :func:`observed_record` keeps what a filter or
formatter can key on: the logger name (below the SDK's package), level, message, the
``extra`` attributes and whether a traceback is attached, with this run's ids replaced by
placeholders. ``record_logs`` stores temporalio's records (from a real dev server) in
``log_records.json``; ``test_log_records`` compares hotmesh_temporal's against them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from .harness import Ctx
from .observe import Normaliser

REFERENCE = Path(__file__).parent / "log_records.json"

LogScenarioFn = Callable[[Ctx], Awaitable[None]]
LOG_SCENARIOS: dict[str, LogScenarioFn] = {}

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# A task token as temporalio's messages print it (bytes repr), and a duration.
_BYTES_REPR = re.compile(r"(?<!\w)b'(?:[^'\\]|\\.)*'|(?<!\w)b\"(?:[^\"\\]|\\.)*\"")


# An object's address in its default repr.
_ADDRESS = re.compile(r"0x[0-9a-f]{6,}")


def log_scenario(fn: LogScenarioFn) -> LogScenarioFn:
    assert fn.__name__ not in LOG_SCENARIOS, fn.__name__
    LOG_SCENARIOS[fn.__name__] = fn
    return fn


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def capture(package: str) -> Iterator[list[logging.LogRecord]]:
    """Every record of ``package``'s loggers, DEBUG and up, while the block runs."""
    root = logging.getLogger(package)
    handler = _Collect()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def observed_record(record: logging.LogRecord, package: str, normalise: Normaliser) -> dict:
    """What a log filter can key on, with the SDK's package name and ids replaced."""

    def text(value: str) -> str:
        return _ADDRESS.sub("0x<address>", _BYTES_REPR.sub("<token>", normalise.text(value)))

    def value(raw: Any) -> Any:
        if isinstance(raw, str):
            return text(raw)
        if isinstance(raw, dict):
            return {str(k): value(v) for k, v in raw.items()}
        if isinstance(raw, list | tuple):
            return [value(v) for v in raw]
        return normalise(raw)

    extras = {
        key: value(raw) for key, raw in vars(record).items() if key not in _STANDARD_ATTRIBUTES
    }
    return {
        "logger": "<sdk>" + record.name[len(package) :],
        "level": record.levelname,
        "message": text(record.getMessage()),
        "extra": extras,
        "exc_info": record.exc_info is not None and record.exc_info[0] is not None,
    }


def sort_key(observed: dict) -> tuple[str, str, str]:
    # Workflow and activity workers log concurrently: compare as sorted lists.
    return (observed["logger"], observed["message"], observed["level"])


async def run_log_scenario(ctx: Ctx, name: str, package: str) -> list[dict]:
    with capture(package) as records:
        await LOG_SCENARIOS[name](ctx)
    normalise = ctx.normaliser()
    return sorted((observed_record(r, package, normalise) for r in records), key=sort_key)


# --- scenarios ---------------------------------------------------------------------------

FAST_RETRY = {"initial_interval": timedelta(milliseconds=100), "backoff_coefficient": 1.0}


def retry(ctx: Ctx, **kwargs: Any) -> Any:
    return ctx.sdk.common.RetryPolicy(**{**FAST_RETRY, **kwargs})


async def result_or_error(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except Exception as exc:
        return type(exc).__name__


def activity_caller(ctx: Ctx, name: str, activity: str, local: bool = False, **opts: Any) -> type:
    wf = ctx.wf

    @ctx.defn(name=name)
    class CallsActivity:
        @ctx.run
        async def run(self) -> Any:
            call = wf.execute_local_activity if local else wf.execute_activity
            try:
                return await call(activity, start_to_close_timeout=timedelta(seconds=10), **opts)
            except Exception as exc:
                return type(exc).__name__

    return CallsActivity


async def run_workflow(ctx: Ctx, workflow: str, *args: Any, **options: Any) -> Any:
    return await result_or_error(
        ctx.client.execute_workflow(
            workflow, *args, id=ctx.id(workflow), task_queue=ctx.task_queue, **options
        )
    )


@log_scenario
async def workflow_task_failure(ctx: Ctx) -> None:
    attempts: list[int] = []

    @ctx.defn(name="LogTaskFailure")
    class TaskFailure:
        @ctx.run
        async def run(self) -> str:
            attempts.append(1)
            if len(attempts) == 1:
                raise RuntimeError("bug in the first task")
            return "recovered"

    async with ctx.running([TaskFailure]):
        await run_workflow(ctx, "LogTaskFailure")


@log_scenario
async def workflow_failure(ctx: Ctx) -> None:
    wf_errors = ctx.sdk.exceptions

    @ctx.defn(name="LogWorkflowFails")
    class Fails:
        @ctx.run
        async def run(self) -> str:
            raise wf_errors.ApplicationError("the run fails", type="Mine")

    async with ctx.running([Fails]):
        await run_workflow(ctx, "LogWorkflowFails")


@log_scenario
async def benign_workflow_failure(ctx: Ctx) -> None:
    errors = ctx.sdk.exceptions

    @ctx.defn(name="LogWorkflowBenign")
    class Benign:
        @ctx.run
        async def run(self) -> str:
            raise errors.ApplicationError("benign", category=errors.ApplicationErrorCategory.BENIGN)

    async with ctx.running([Benign]):
        await run_workflow(ctx, "LogWorkflowBenign")


@log_scenario
async def non_determinism(ctx: Ctx) -> None:
    runs: list[int] = []
    wf = ctx.wf

    @ctx.defn(name="LogNonDeterminism")
    class Changes:
        @ctx.run
        async def run(self) -> str:
            runs.append(1)
            if len(runs) == 2:  # the replay of the second task takes another path
                await wf.sleep(0.1)
            else:
                await wf.execute_activity("nothing", start_to_close_timeout=timedelta(seconds=5))
            return "done"

    @ctx.act.defn(name="nothing")
    async def nothing() -> None:
        return None

    # No cache: each task replays the run from its history.
    async with ctx.running([Changes], [nothing], max_cached_workflows=0):
        await run_workflow(ctx, "LogNonDeterminism")


@log_scenario
async def deadlock(ctx: Ctx) -> None:
    attempts: list[int] = []

    @ctx.defn(name="LogDeadlock")
    class Deadlocks:
        @ctx.run
        async def run(self) -> str:
            attempts.append(1)
            if len(attempts) == 1:
                time.sleep(2.5)  # blocks the workflow thread past the 2 s deadlock timeout
            return "done"

    async with ctx.running([Deadlocks]):
        await run_workflow(ctx, "LogDeadlock")


@log_scenario
async def unknown_workflow_type(ctx: Ctx) -> None:
    @ctx.defn(name="LogKnown")
    class Known:
        @ctx.run
        async def run(self) -> str:
            return "known"

    async with ctx.running([Known]):
        handle = await ctx.client.start_workflow(
            "LogNotRegistered",
            id=ctx.id("LogNotRegistered"),
            task_queue=ctx.task_queue,
            execution_timeout=timedelta(seconds=2),
        )
        await result_or_error(handle.result())


@log_scenario
async def activity_retries(ctx: Ctx) -> None:
    attempts: list[int] = []
    errors = ctx.sdk.exceptions

    @ctx.act.defn(name="flaky")
    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise errors.ApplicationError(f"attempt {len(attempts)} fails")
        return "third time"

    workflow = activity_caller(ctx, "LogActRetries", "flaky", retry_policy=retry(ctx))
    async with ctx.running([workflow], [flaky]):
        await run_workflow(ctx, "LogActRetries")


@log_scenario
async def activity_python_exception(ctx: Ctx) -> None:
    @ctx.act.defn(name="raises")
    def raises() -> None:
        raise ValueError("plain python error")

    workflow = activity_caller(
        ctx, "LogActPython", "raises", retry_policy=retry(ctx, maximum_attempts=1)
    )
    async with ctx.running(
        [workflow], [raises], activity_executor=concurrent.futures.ThreadPoolExecutor(2)
    ):
        await run_workflow(ctx, "LogActPython")


@log_scenario
async def benign_activity_error(ctx: Ctx) -> None:
    errors = ctx.sdk.exceptions

    @ctx.act.defn(name="benign")
    async def benign() -> None:
        raise errors.ApplicationError(
            "nothing to worry about", category=errors.ApplicationErrorCategory.BENIGN
        )

    workflow = activity_caller(
        ctx, "LogActBenign", "benign", retry_policy=retry(ctx, maximum_attempts=2)
    )
    async with ctx.running([workflow], [benign]):
        await run_workflow(ctx, "LogActBenign")


@log_scenario
async def activity_heartbeat_timeout(ctx: Ctx) -> None:
    act = ctx.act

    @act.defn(name="stops_heartbeating")
    async def stops_heartbeating() -> str:
        act.heartbeat("first")
        await asyncio.sleep(2.5)
        act.heartbeat("too late")  # the attempt has timed out: the worker is told so
        await asyncio.sleep(2)
        return "finished anyway"

    workflow = activity_caller(
        ctx,
        "LogActHeartbeat",
        "stops_heartbeating",
        heartbeat_timeout=timedelta(seconds=1),
        retry_policy=retry(ctx, maximum_attempts=1),
    )
    async with ctx.running([workflow], [stops_heartbeating]):
        await run_workflow(ctx, "LogActHeartbeat")
        await asyncio.sleep(3)  # the attempt ends (cancelled) while the worker runs


@log_scenario
async def activity_heartbeat_error(ctx: Ctx) -> None:
    act = ctx.act

    class NotSerialisable:
        pass

    @act.defn(name="bad_heartbeat")
    async def bad_heartbeat() -> str:
        act.heartbeat(NotSerialisable())  # the converter cannot encode it
        await asyncio.sleep(5)
        return "not cancelled"

    workflow = activity_caller(
        ctx, "LogActBadHeartbeat", "bad_heartbeat", retry_policy=retry(ctx, maximum_attempts=1)
    )
    async with ctx.running([workflow], [bad_heartbeat]):
        await run_workflow(ctx, "LogActBadHeartbeat")


@log_scenario
async def activity_start_to_close_timeout(ctx: Ctx) -> None:
    @ctx.act.defn(name="overruns")
    async def overruns() -> str:
        await asyncio.sleep(2)
        return "too late"

    workflow = activity_caller(
        ctx,
        "LogActTimeout",
        "overruns",
        retry_policy=retry(ctx, maximum_attempts=1),
    )
    async with ctx.running([workflow], [overruns]):
        handle = await ctx.client.start_workflow(
            "LogActTimeout", id=ctx.id("LogActTimeout"), task_queue=ctx.task_queue
        )
        await handle.result()
        await asyncio.sleep(2.5)  # the attempt ends, and is reported, after its timeout


@log_scenario
async def workflow_cancelled(ctx: Ctx) -> None:
    wf = ctx.wf

    @ctx.defn(name="LogCancelled")
    class WaitsForever:
        @ctx.run
        async def run(self) -> None:
            await wf.wait_condition(lambda: False)

    async with ctx.running([WaitsForever]):
        handle = await ctx.client.start_workflow(
            "LogCancelled", id=ctx.id("LogCancelled"), task_queue=ctx.task_queue
        )
        await asyncio.sleep(0.5)
        await handle.cancel()
        await result_or_error(handle.result())


@log_scenario
async def child_workflow_failure(ctx: Ctx) -> None:
    wf = ctx.wf
    errors = ctx.sdk.exceptions

    @ctx.defn(name="LogChild")
    class Child:
        @ctx.run
        async def run(self) -> None:
            raise errors.ApplicationError("child fails", non_retryable=True)

    @ctx.defn(name="LogParent")
    class Parent:
        @ctx.run
        async def run(self, child_id: str) -> str:
            return await result_or_error(wf.execute_child_workflow("LogChild", id=child_id))

    async with ctx.running([Parent, Child]):
        await run_workflow(ctx, "LogParent", ctx.id("LogChild"))


@log_scenario
async def activity_cancelled_by_workflow(ctx: Ctx) -> None:
    act = ctx.act
    wf = ctx.wf

    @act.defn(name="waits")
    async def waits() -> str:
        while True:
            act.heartbeat()
            await asyncio.sleep(0.2)

    @ctx.defn(name="LogActCancel")
    class CancelsActivity:
        @ctx.run
        async def run(self) -> str:
            handle = wf.start_activity(
                "waits",
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=5),
                cancellation_type=wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
            await wf.sleep(1)
            handle.cancel()
            return await result_or_error(handle)

    async with ctx.running([CancelsActivity], [waits]):
        await run_workflow(ctx, "LogActCancel")


@log_scenario
async def unknown_activity_type(ctx: Ctx) -> None:
    @ctx.act.defn(name="registered")
    async def registered() -> None:
        return None

    workflow = activity_caller(
        ctx, "LogActUnknown", "not_registered", retry_policy=retry(ctx, maximum_attempts=1)
    )
    async with ctx.running([workflow], [registered]):
        await run_workflow(ctx, "LogActUnknown")


@log_scenario
async def local_activity_failure(ctx: Ctx) -> None:
    errors = ctx.sdk.exceptions

    @ctx.act.defn(name="local_fails")
    async def local_fails() -> None:
        raise errors.ApplicationError("local problem")

    workflow = activity_caller(
        ctx,
        "LogLocalFails",
        "local_fails",
        local=True,
        retry_policy=retry(ctx, maximum_attempts=2),
    )
    async with ctx.running([workflow], [local_fails]):
        await run_workflow(ctx, "LogLocalFails")


@log_scenario
async def async_activity_completion(ctx: Ctx) -> None:
    act = ctx.act
    tokens: list[bytes] = []

    @act.defn(name="completes_later")
    async def completes_later() -> str:
        tokens.append(act.info().task_token)
        act.raise_complete_async()

    workflow = activity_caller(ctx, "LogActAsync", "completes_later")
    async with ctx.running([workflow], [completes_later]):
        handle = await ctx.client.start_workflow(
            "LogActAsync", id=ctx.id("LogActAsync"), task_queue=ctx.task_queue
        )
        while not tokens:
            await asyncio.sleep(0.05)
        await ctx.client.get_async_activity_handle(task_token=tokens[0]).complete("later")
        await handle.result()


def message_workflow(ctx: Ctx, name: str) -> type:
    wf = ctx.wf

    @ctx.defn(name=name)
    class Messages:
        def __init__(self) -> None:
            self.done = False
            self.value = 0

        @ctx.run
        async def run(self) -> int:
            await wf.wait_condition(lambda: self.done)
            return self.value

        @wf.signal
        def finish(self) -> None:
            self.done = True

        @wf.signal
        def set_value(self, value: int) -> None:
            self.value = value

        @wf.query
        def value_now(self) -> int:
            return self.value

        @wf.query
        def broken_query(self) -> int:
            raise RuntimeError("query fails")

        @wf.update
        def set_positive(self, value: int) -> int:
            self.value = value
            return value

        @set_positive.validator
        def positive_only(self, value: int) -> None:
            if value <= 0:
                raise ValueError("must be positive")

        @wf.update
        def failing_update(self) -> None:
            raise ctx.sdk.exceptions.ApplicationError("update handler fails")

    return Messages


@log_scenario
async def signals_and_queries(ctx: Ctx) -> None:
    workflow = message_workflow(ctx, "LogMessages")
    async with ctx.running([workflow]):
        handle = await ctx.client.start_workflow(
            "LogMessages", id=ctx.id("LogMessages"), task_queue=ctx.task_queue
        )
        await handle.signal("no_such_signal", 1)
        await handle.signal("set_value", "not an int")
        await handle.signal("set_value", 3)
        assert await handle.query("value_now") == 3
        await result_or_error(handle.query("no_such_query"))
        await result_or_error(handle.query("broken_query"))
        await handle.signal("finish")
        await handle.result()


@log_scenario
async def update_rejections(ctx: Ctx) -> None:
    workflow = message_workflow(ctx, "LogUpdates")
    async with ctx.running([workflow]):
        handle = await ctx.client.start_workflow(
            "LogUpdates", id=ctx.id("LogUpdates"), task_queue=ctx.task_queue
        )
        await result_or_error(handle.execute_update("set_positive", -1))
        await result_or_error(handle.execute_update("no_such_update"))
        await result_or_error(handle.execute_update("failing_update"))
        await handle.execute_update("set_positive", 5)
        await handle.signal("finish")
        await handle.result()


@log_scenario
async def continue_as_new(ctx: Ctx) -> None:
    wf = ctx.wf

    @ctx.defn(name="LogContinues")
    class Continues:
        @ctx.run
        async def run(self, left: int) -> str:
            if left:
                wf.continue_as_new(left - 1)
            return "done"

    async with ctx.running([Continues]):
        await run_workflow(ctx, "LogContinues", 1)


@log_scenario
async def worker_shutdown_with_running_activity(ctx: Ctx) -> None:
    act = ctx.act
    started = asyncio.Event()

    @act.defn(name="outlives_worker")
    async def outlives_worker() -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    # Retried (no workflow task follows the cancelled attempt): which worker, if any,
    # runs a task that arrives while the worker stops is a matter of timing.
    workflow = activity_caller(ctx, "LogShutdown", "outlives_worker", retry_policy=retry(ctx))
    worker = ctx.worker([workflow], [outlives_worker])
    runner = asyncio.ensure_future(worker.run())
    await ctx.client.start_workflow(
        "LogShutdown", id=ctx.id("LogShutdown"), task_queue=ctx.task_queue
    )
    await started.wait()
    await worker.shutdown()
    await runner


@log_scenario
async def worker_run_cancelled(ctx: Ctx) -> None:
    @ctx.defn(name="LogIdle")
    class Idle:
        @ctx.run
        async def run(self) -> str:
            return "idle"

    worker = ctx.worker([Idle])
    runner = asyncio.ensure_future(worker.run())
    await asyncio.sleep(1)
    runner.cancel()
    try:
        await runner
    except asyncio.CancelledError:
        pass


# --- comparison --------------------------------------------------------------------------

# Lines whose tail is temporalio's core's own text (a protobuf dump of the completion it
# sends, or the reason core gives for an eviction): compared up to that tail.
_CORE_TEXT_PREFIXES = (
    "Completing activity with completion: ",
    "Evicting workflow with run ID <uuid>, message: ",
)
# hotmesh_temporal's engine logs its own work (leases, Postgres, interrupting a stuck
# workflow thread) under this name, which temporalio does not have.
ENGINE_LOGGERS = "<sdk>._engine"


@dataclass(frozen=True)
class KnownDifference:
    scenario: str
    side: str  # "temporalio": a line only temporalio logs; "hotmesh": one only we log
    message_start: str
    reason: str


KNOWN_DIFFERENCES = (
    KnownDifference(
        "deadlock",
        "temporalio",
        "Failed running eviction job for run ID",
        "temporalio cannot evict a run whose workflow thread is still stuck and says it "
        "retries the eviction forever; here the deadlocked task is given up and its "
        "thread interrupted, and the run is replayed afresh: there is no eviction to retry.",
    ),
    KnownDifference(
        "non_determinism",
        "hotmesh",
        "Failed activation on workflow",
        "temporalio's core fails a non-deterministic task and logs it (a WARN line of "
        "its Rust logger, outside Python's logging); with no core, the failure is logged "
        "here as every other failed workflow task is.",
    ),
)


def _record_key(record: dict) -> str:
    return json.dumps(record, sort_keys=True)


def comparable(records: list[dict], scenario: str, side: str) -> list[dict]:
    """The distinct records as compared: the core's own text cut from the lines that
    embed it, engine-only lines and known differences left out. Distinct, because how
    many times a line repeats (heartbeats, task retries, evictions) is a matter of
    timing on either side."""
    skipped = [
        k.message_start for k in KNOWN_DIFFERENCES if (k.scenario, k.side) == (scenario, side)
    ]
    out: dict[str, dict] = {}
    for record in records:
        message = record["message"]
        if record["logger"].startswith(ENGINE_LOGGERS) or message.startswith(tuple(skipped)):
            continue
        for prefix in _CORE_TEXT_PREFIXES:
            if message.startswith(prefix):
                message = prefix + "<core text>"
        record = {**record, "message": message}
        out[_record_key(record)] = record
    return sorted(out.values(), key=sort_key)
