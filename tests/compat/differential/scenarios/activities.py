"""Activities: results, each timeout kind, retries, non-retryable errors, heartbeats,
cancellation types, async completion, local activities."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from ..harness import Ctx, outcome, scenario
from ..observe import error_chain, history_events

FAST_RETRY = {"initial_interval": timedelta(milliseconds=100), "backoff_coefficient": 1.0}


def retry(ctx: Ctx, **kwargs: Any) -> Any:
    return ctx.sdk.common.RetryPolicy(**{**FAST_RETRY, **kwargs})


def activity_workflow(ctx: Ctx, name: str, call: Any) -> type:
    """A workflow that runs ``call(wf)`` and returns its result or the caught error chain."""
    wf = ctx.wf

    @ctx.defn(name=name)
    class ActivityWorkflow:
        @ctx.run
        async def run(self) -> Any:
            try:
                return {"result": await call(wf)}
            except Exception as exc:
                return {"error": error_chain(exc)}

    return ActivityWorkflow


async def run_activity_scenario(
    ctx: Ctx, name: str, activities: list[Any], call: Any, *, history: bool = True
) -> dict[str, Any]:
    workflow = activity_workflow(ctx, name, call)
    async with ctx.running([workflow], activities):
        handle = await ctx.client.start_workflow(name, id=ctx.id(name), task_queue=ctx.task_queue)
        observed = await outcome(handle.result())
        if history:
            observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("activities")
async def activity_result(ctx: Ctx) -> dict:
    @ctx.act.defn(name="shout")
    async def shout(text: str) -> str:
        return text.upper() + f" attempt={ctx.act.info().attempt}"

    return await run_activity_scenario(
        ctx,
        "ActResult",
        [shout],
        lambda wf: wf.execute_activity("shout", "hi", start_to_close_timeout=timedelta(seconds=10)),
    )


@scenario("activities")
async def activity_start_to_close_timeout(ctx: Ctx) -> dict:
    @ctx.act.defn(name="slow")
    async def slow() -> None:
        await asyncio.sleep(3)

    return await run_activity_scenario(
        ctx,
        "ActStartToClose",
        [slow],
        lambda wf: wf.execute_activity(
            "slow",
            start_to_close_timeout=timedelta(milliseconds=500),
            retry_policy=retry(ctx, maximum_attempts=2),
        ),
    )


@scenario("activities")
async def activity_schedule_to_close_timeout(ctx: Ctx) -> dict:
    @ctx.act.defn(name="always_fails")
    async def always_fails() -> None:
        raise RuntimeError("nope")

    return await run_activity_scenario(
        ctx,
        "ActScheduleToClose",
        [always_fails],
        lambda wf: wf.execute_activity(
            "always_fails",
            schedule_to_close_timeout=timedelta(seconds=1),
            retry_policy=retry(ctx, initial_interval=timedelta(milliseconds=300)),
        ),
        history=False,
    )


@scenario("activities")
async def activity_schedule_to_start_timeout(ctx: Ctx) -> dict:
    return await run_activity_scenario(
        ctx,
        "ActScheduleToStart",
        [],
        lambda wf: wf.execute_activity(
            "nobody_runs_me",
            task_queue=f"{ctx.task_queue}-empty",
            schedule_to_start_timeout=timedelta(milliseconds=500),
            start_to_close_timeout=timedelta(seconds=5),
        ),
    )


@scenario("activities")
async def activity_heartbeat_timeout(ctx: Ctx) -> dict:
    @ctx.act.defn(name="silent")
    async def silent() -> None:
        ctx.act.heartbeat("started")
        await asyncio.sleep(3)

    return await run_activity_scenario(
        ctx,
        "ActHeartbeatTimeout",
        [silent],
        lambda wf: wf.execute_activity(
            "silent",
            start_to_close_timeout=timedelta(seconds=10),
            heartbeat_timeout=timedelta(milliseconds=500),
            retry_policy=retry(ctx, maximum_attempts=1),
        ),
    )


@scenario("activities")
async def activity_retries_then_succeeds(ctx: Ctx) -> dict:
    @ctx.act.defn(name="flaky")
    async def flaky() -> int:
        attempt = ctx.act.info().attempt
        if attempt < 3:
            raise RuntimeError(f"attempt {attempt} fails")
        return attempt

    return await run_activity_scenario(
        ctx,
        "ActRetries",
        [flaky],
        lambda wf: wf.execute_activity(
            "flaky", start_to_close_timeout=timedelta(seconds=5), retry_policy=retry(ctx)
        ),
    )


@scenario("activities")
async def activity_maximum_attempts(ctx: Ctx) -> dict:
    @ctx.act.defn(name="fails")
    async def fails() -> None:
        raise ctx.sdk.exceptions.ApplicationError(
            f"failed attempt {ctx.act.info().attempt}", {"k": 1}, type="MyError"
        )

    return await run_activity_scenario(
        ctx,
        "ActMaxAttempts",
        [fails],
        lambda wf: wf.execute_activity(
            "fails",
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=retry(ctx, maximum_attempts=3),
        ),
    )


@scenario("activities")
async def activity_non_retryable_error_type(ctx: Ctx) -> dict:
    @ctx.act.defn(name="boom")
    async def boom() -> None:
        raise ctx.sdk.exceptions.ApplicationError("boom", type="Boom")

    return await run_activity_scenario(
        ctx,
        "ActNonRetryableType",
        [boom],
        lambda wf: wf.execute_activity(
            "boom",
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=retry(ctx, non_retryable_error_types=["Boom"]),
        ),
    )


@scenario("activities")
async def activity_non_retryable_flag(ctx: Ctx) -> dict:
    @ctx.act.defn(name="fatal")
    async def fatal() -> None:
        raise ctx.sdk.exceptions.ApplicationError("fatal", "d1", 2, non_retryable=True)

    return await run_activity_scenario(
        ctx,
        "ActNonRetryableFlag",
        [fatal],
        lambda wf: wf.execute_activity(
            "fatal", start_to_close_timeout=timedelta(seconds=5), retry_policy=retry(ctx)
        ),
    )


@scenario("activities")
async def activity_python_exception(ctx: Ctx) -> dict:
    @ctx.act.defn(name="value_error")
    async def value_error() -> None:
        raise ValueError("bad value")

    return await run_activity_scenario(
        ctx,
        "ActPythonException",
        [value_error],
        lambda wf: wf.execute_activity(
            "value_error",
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=retry(ctx, maximum_attempts=1),
        ),
    )


@scenario("activities")
async def activity_heartbeat_details_on_retry(ctx: Ctx) -> dict:
    @ctx.act.defn(name="resumes")
    async def resumes() -> list:
        info = ctx.act.info()
        if info.attempt == 1:
            ctx.act.heartbeat("checkpoint", 7)
            await asyncio.sleep(0.3)  # let the heartbeat reach the server
            raise RuntimeError("crash after checkpoint")
        return [info.attempt, list(info.heartbeat_details)]

    return await run_activity_scenario(
        ctx,
        "ActHeartbeatDetails",
        [resumes],
        lambda wf: wf.execute_activity(
            "resumes",
            start_to_close_timeout=timedelta(seconds=5),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=retry(ctx),
        ),
        history=False,
    )


def cancellation_scenario(ctx: Ctx, name: str, cancellation_type: str) -> Any:
    seen: list[str] = []

    @ctx.act.defn(name="long_heartbeater")
    async def long_heartbeater() -> str:
        try:
            for _ in range(100):
                ctx.act.heartbeat()
                await asyncio.sleep(0.1)
            return "not cancelled"
        except asyncio.CancelledError:
            seen.append("activity saw cancel")
            await asyncio.sleep(0.3)
            raise

    async def call(wf: Any) -> Any:
        handle = wf.start_activity(
            "long_heartbeater",
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=2),
            cancellation_type=getattr(wf.ActivityCancellationType, cancellation_type),
        )
        await wf.sleep(0.5)
        handle.cancel()
        return await handle

    async def observe() -> dict:
        observed = await run_activity_scenario(ctx, name, [long_heartbeater], call)
        observed["activity_saw_cancel"] = bool(seen)
        return observed

    return observe()


@scenario("activities")
async def activity_cancel_try_cancel(ctx: Ctx) -> dict:
    return await cancellation_scenario(ctx, "ActCancelTry", "TRY_CANCEL")


@scenario("activities")
async def activity_cancel_wait_completed(ctx: Ctx) -> dict:
    return await cancellation_scenario(ctx, "ActCancelWait", "WAIT_CANCELLATION_COMPLETED")


@scenario("activities")
async def activity_cancel_abandon(ctx: Ctx) -> dict:
    return await cancellation_scenario(ctx, "ActCancelAbandon", "ABANDON")


@scenario("activities")
async def activity_async_completion(ctx: Ctx) -> dict:
    tokens: asyncio.Queue = asyncio.Queue()

    @ctx.act.defn(name="external")
    async def external() -> str:
        tokens.put_nowait(ctx.act.info().task_token)
        ctx.act.raise_complete_async()

    wf = ctx.wf

    @ctx.defn(name="ActAsync")
    class ActAsync:
        @ctx.run
        async def run(self) -> list:
            results = []
            for _ in range(2):
                try:
                    results.append(
                        await wf.execute_activity(
                            "external",
                            start_to_close_timeout=timedelta(seconds=10),
                            retry_policy=retry(ctx, maximum_attempts=1),
                        )
                    )
                except Exception as exc:
                    results.append(error_chain(exc))
            return results

    async with ctx.running([ActAsync], [external]):
        handle = await ctx.client.start_workflow(
            "ActAsync", id=ctx.id("ActAsync"), task_queue=ctx.task_queue
        )
        first = ctx.client.get_async_activity_handle(task_token=await tokens.get())
        await first.heartbeat("progress")
        await first.complete("done externally")
        second = ctx.client.get_async_activity_handle(task_token=await tokens.get())
        await second.fail(ctx.sdk.exceptions.ApplicationError("failed externally", type="Ext"))
        observed = await outcome(handle.result())
        late = await outcome(first.complete("again"))
        observed["complete_twice"] = late
        observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("activities")
async def local_activity_result_and_retry(ctx: Ctx) -> dict:
    @ctx.act.defn(name="local_flaky")
    async def local_flaky(text: str) -> str:
        if ctx.act.info().attempt < 2:
            raise RuntimeError("first local attempt fails")
        return f"{text} local={ctx.act.info().is_local} attempt={ctx.act.info().attempt}"

    return await run_activity_scenario(
        ctx,
        "LocalAct",
        [local_flaky],
        lambda wf: wf.execute_local_activity(
            "local_flaky",
            "x",
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=retry(ctx),
        ),
    )


@scenario("activities")
async def local_activity_failure(ctx: Ctx) -> dict:
    @ctx.act.defn(name="local_fails")
    async def local_fails() -> None:
        raise ctx.sdk.exceptions.ApplicationError("local broke", type="LocalErr")

    return await run_activity_scenario(
        ctx,
        "LocalActFail",
        [local_fails],
        lambda wf: wf.execute_local_activity(
            "local_fails",
            start_to_close_timeout=timedelta(seconds=5),
            retry_policy=retry(ctx, maximum_attempts=2),
        ),
    )


@scenario("activities")
async def local_activity_timeout(ctx: Ctx) -> dict:
    @ctx.act.defn(name="local_slow")
    async def local_slow() -> None:
        await asyncio.sleep(3)

    return await run_activity_scenario(
        ctx,
        "LocalActTimeout",
        [local_slow],
        lambda wf: wf.execute_local_activity(
            "local_slow",
            start_to_close_timeout=timedelta(milliseconds=300),
            retry_policy=retry(ctx, maximum_attempts=1),
        ),
        history=False,
    )


@scenario("activities")
async def local_activity_non_retryable(ctx: Ctx) -> dict:
    @ctx.act.defn(name="local_fatal")
    async def local_fatal() -> None:
        raise ctx.sdk.exceptions.ApplicationError("local fatal", type="Broken", non_retryable=True)

    return await run_activity_scenario(
        ctx,
        "LocalActNonRetryable",
        [local_fatal],
        lambda wf: wf.execute_local_activity(
            "local_fatal", start_to_close_timeout=timedelta(seconds=5), retry_policy=retry(ctx)
        ),
        history=False,
    )


@scenario("activities")
async def activity_info_fields(ctx: Ctx) -> dict:
    @ctx.act.defn(name="describe_info")
    async def describe_info() -> dict:
        info = ctx.act.info()
        return {
            "task_token_type": type(info.task_token).__name__,
            "task_token_empty": len(info.task_token) == 0,
            "is_local": info.is_local,
            "attempt": info.attempt,
            "activity_type": info.activity_type,
            "heartbeat_details": list(info.heartbeat_details),
            "start_to_close_timeout": info.start_to_close_timeout.total_seconds()
            if info.start_to_close_timeout
            else None,
            "workflow_type": info.workflow_type,
        }

    async def call(wf: Any) -> Any:
        remote = await wf.execute_activity(
            "describe_info", start_to_close_timeout=timedelta(seconds=7)
        )
        local = await wf.execute_local_activity(
            "describe_info", start_to_close_timeout=timedelta(seconds=8)
        )
        return {"remote": remote, "local": local}

    return await run_activity_scenario(ctx, "ActInfo", [describe_info], call, history=False)
