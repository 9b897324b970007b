"""Workflow-side behaviour: timers, failures, cancellation, children and parent-close
policies, continue-as-new, cron, patching, converters and the replayer."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from ..harness import Ctx, outcome, scenario
from ..observe import description, error_chain, event_types, history_events


async def wait_for_status(handle: Any, status: str, timeout: float = 10.0) -> Any:
    """Polls describe() until the run reaches ``status`` (or the timeout passes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        desc = await handle.describe()
        if desc.status is not None and desc.status.name == status:
            return desc
        if asyncio.get_running_loop().time() > deadline:
            return desc
        await asyncio.sleep(0.1)


async def wait_for_event(handle: Any, event_type: str, timeout: float = 10.0) -> list[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        types = event_types(await handle.fetch_history())
        if event_type in types or asyncio.get_running_loop().time() > deadline:
            return types
        await asyncio.sleep(0.1)


@scenario("timers", time_skipping=True)
async def timer_sleep(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="Sleeper")
    class Sleeper:
        @ctx.run
        async def run(self) -> str:
            await asyncio.sleep(30)
            await wf.sleep(timedelta(minutes=5))
            return "awake"

    async with ctx.running([Sleeper]):
        handle = await ctx.client.start_workflow(
            "Sleeper", id=ctx.id("Sleeper"), task_queue=ctx.task_queue
        )
        observed = await outcome(handle.result())
        observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("timers", time_skipping=True)
async def timer_wait_condition_timeout(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="Waiter")
    class Waiter:
        @ctx.run
        async def run(self) -> Any:
            try:
                await wf.wait_condition(lambda: False, timeout=timedelta(hours=1))
                return "condition met"
            except asyncio.TimeoutError as exc:
                return {"timed_out": type(exc).__name__}

    async with ctx.running([Waiter]):
        handle = await ctx.client.start_workflow(
            "Waiter", id=ctx.id("Waiter"), task_queue=ctx.task_queue
        )
        observed = await outcome(handle.result())
        observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("timers", time_skipping=True)
async def timer_cancelled(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="TimerCancel")
    class TimerCancel:
        @ctx.run
        async def run(self) -> str:
            task = asyncio.create_task(asyncio.sleep(3600))
            await wf.sleep(1)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                return "timer cancelled"
            return "timer fired"

    async with ctx.running([TimerCancel]):
        handle = await ctx.client.start_workflow(
            "TimerCancel", id=ctx.id("TimerCancel"), task_queue=ctx.task_queue
        )
        observed = await outcome(handle.result())
        observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("failures")
async def workflow_application_error(ctx: Ctx) -> dict:
    exceptions = ctx.sdk.exceptions

    @ctx.defn(name="Fails")
    class Fails:
        @ctx.run
        async def run(self) -> None:
            try:
                raise exceptions.ApplicationError("inner", "x", type="Inner")
            except exceptions.ApplicationError as inner:
                raise exceptions.ApplicationError(
                    "outer", {"a": [1, 2]}, type="Outer", non_retryable=True
                ) from inner

    async with ctx.running([Fails]):
        handle = await ctx.client.start_workflow(
            "Fails", id=ctx.id("Fails"), task_queue=ctx.task_queue
        )
        observed = await outcome(handle.result())
        observed["describe"] = description(await handle.describe())
        observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("failures")
async def workflow_task_failure_keeps_running(ctx: Ctx) -> dict:

    @ctx.defn(name="Buggy")
    class Buggy:
        @ctx.run
        async def run(self) -> None:
            raise ValueError("a bug, not a workflow failure")

    async with ctx.running([Buggy]):
        handle = await ctx.client.start_workflow(
            "Buggy", id=ctx.id("Buggy"), task_queue=ctx.task_queue
        )
        types = await wait_for_event(handle, "WORKFLOW_TASK_FAILED")
        desc = await handle.describe()
        await handle.terminate("cleanup")
    return {"status_while_failing": desc.status, "first_events": types[:4]}


@scenario("failures")
async def workflow_failure_exception_types(ctx: Ctx) -> dict:

    @ctx.defn(name="FailsOnValueError", failure_exception_types=[ValueError])
    class FailsOnValueError:
        @ctx.run
        async def run(self) -> None:
            raise ValueError("declared failure type")

    async with ctx.running([FailsOnValueError]):
        handle = await ctx.client.start_workflow(
            "FailsOnValueError", id=ctx.id("FailsOnValueError"), task_queue=ctx.task_queue
        )
        observed = await outcome(handle.result())
        observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("failures")
async def workflow_cancel_requested(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="Cancellable")
    class Cancellable:
        @ctx.run
        async def run(self) -> str:
            await wf.wait_condition(lambda: False)
            return "never"

    async with ctx.running([Cancellable]):
        handle = await ctx.client.start_workflow(
            "Cancellable", id=ctx.id("Cancellable"), task_queue=ctx.task_queue
        )
        await wait_for_event(handle, "WORKFLOW_TASK_COMPLETED")
        await handle.cancel()
        observed = await outcome(handle.result())
        observed["describe"] = description(await handle.describe())
        observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("failures")
async def workflow_cancel_handled(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="CleansUp")
    class CleansUp:
        @ctx.run
        async def run(self) -> str:
            try:
                await wf.wait_condition(lambda: False)
            except asyncio.CancelledError:
                return "cleaned up after cancel"
            return "never"

    async with ctx.running([CleansUp]):
        handle = await ctx.client.start_workflow(
            "CleansUp", id=ctx.id("CleansUp"), task_queue=ctx.task_queue
        )
        await wait_for_event(handle, "WORKFLOW_TASK_COMPLETED")
        await handle.cancel()
        observed = await outcome(handle.result())
        observed["describe"] = description(await handle.describe())
    return observed


@dataclasses.dataclass
class Order:
    item: str
    quantity: int
    tags: list[str]


@scenario("converters")
async def converter_dataclass_round_trip(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.act.defn(name="double_order")
    async def double_order(order: Order) -> Order:
        return Order(order.item, order.quantity * 2, [*order.tags, type(order).__name__])

    @ctx.defn(name="Orders")
    class Orders:
        @ctx.run
        async def run(self, order: Order) -> Order:
            doubled = await wf.execute_activity(
                double_order, order, start_to_close_timeout=timedelta(seconds=5)
            )
            return Order(doubled.item, doubled.quantity, [*doubled.tags, type(doubled).__name__])

    async with ctx.running([Orders], [double_order]):
        typed = await ctx.client.execute_workflow(
            Orders.run, Order("pen", 2, ["a"]), id=ctx.id("Orders"), task_queue=ctx.task_queue
        )
        untyped = await ctx.client.get_workflow_handle(ctx.id("Orders")).result()
    return {"typed": [type(typed).__name__, dataclasses.asdict(typed)], "untyped": untyped}


@scenario("converters")
async def converter_unserialisable_result(ctx: Ctx) -> dict:

    @ctx.defn(name="BadResult")
    class BadResult:
        @ctx.run
        async def run(self) -> Any:
            return object()

    async with ctx.running([BadResult]):
        handle = await ctx.client.start_workflow(
            "BadResult", id=ctx.id("BadResult"), task_queue=ctx.task_queue
        )
        types = await wait_for_event(handle, "WORKFLOW_TASK_FAILED")
        status = (await handle.describe()).status
        await handle.terminate()
    return {"status": status, "events": types[:4]}


@scenario("children")
async def child_result_and_failure(ctx: Ctx) -> dict:
    wf = ctx.wf
    exceptions = ctx.sdk.exceptions

    @ctx.defn(name="Child")
    class Child:
        @ctx.run
        async def run(self, fail: bool) -> str:
            if fail:
                raise exceptions.ApplicationError("child says no", type="ChildErr")
            return f"child of {wf.info().parent.workflow_id if wf.info().parent else None}"

    @ctx.defn(name="Parent")
    class Parent:
        @ctx.run
        async def run(self) -> list:
            results: list = [
                await wf.execute_child_workflow(Child.run, False, id=f"{wf.info().workflow_id}-ok")
            ]
            try:
                await wf.execute_child_workflow(
                    Child.run,
                    True,
                    id=f"{wf.info().workflow_id}-bad",
                    retry_policy=ctx.sdk.common.RetryPolicy(maximum_attempts=1),
                )
            except Exception as exc:
                results.append(error_chain(exc))
            return results

    async with ctx.running([Parent, Child]):
        handle = await ctx.client.start_workflow(
            "Parent", id=ctx.id("Parent"), task_queue=ctx.task_queue
        )
        observed = await outcome(handle.result())
        observed["history"] = history_events(await handle.fetch_history())
        child = ctx.client.get_workflow_handle(f"{ctx.id('Parent')}-ok")
        observed["child_describe"] = description(await child.describe())
    return observed


@scenario("children")
async def child_already_started(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="Lingering")
    class Lingering:
        @ctx.run
        async def run(self) -> None:
            await wf.wait_condition(lambda: False)

    @ctx.defn(name="DoubleParent")
    class DoubleParent:
        @ctx.run
        async def run(self) -> Any:
            child_id = f"{wf.info().workflow_id}-child"
            await wf.start_child_workflow(
                Lingering.run,
                id=child_id,
                parent_close_policy=wf.ParentClosePolicy.TERMINATE,
            )
            try:
                await wf.start_child_workflow(Lingering.run, id=child_id)
                return "started twice"
            except Exception as exc:
                return error_chain(exc)

    async with ctx.running([DoubleParent, Lingering]):
        observed = await outcome(
            ctx.client.execute_workflow(
                "DoubleParent", id=ctx.id("DoubleParent"), task_queue=ctx.task_queue
            )
        )
    return observed


async def parent_close(ctx: Ctx, name: str, policy: str) -> dict:
    wf = ctx.wf

    @ctx.defn(name="Orphan")
    class Orphan:
        @ctx.run
        async def run(self) -> str:
            try:
                await wf.wait_condition(lambda: False, timeout=timedelta(seconds=10))
            except asyncio.CancelledError:
                return "child saw cancel"
            return "child timed out"

    @ctx.defn(name=name)
    class ClosingParent:
        @ctx.run
        async def run(self) -> str:
            await wf.start_child_workflow(
                Orphan.run,
                id=f"{wf.info().workflow_id}-child",
                parent_close_policy=getattr(wf.ParentClosePolicy, policy),
            )
            await wf.sleep(1)  # the child's first task completes before the parent closes
            return "parent done"

    async with ctx.running([ClosingParent, Orphan]):
        handle = await ctx.client.start_workflow(name, id=ctx.id(name), task_queue=ctx.task_queue)
        observed = await outcome(handle.result())
        child = ctx.client.get_workflow_handle(f"{ctx.id(name)}-child")
        await asyncio.sleep(1.5)
        observed["child"] = description(await child.describe())
        observed["child_history"] = event_types(await child.fetch_history())
        if observed["child"]["status"].name == "RUNNING":
            await child.terminate()
    return observed


@scenario("children")
async def parent_close_terminate(ctx: Ctx) -> dict:
    return await parent_close(ctx, "PCTerminate", "TERMINATE")


@scenario("children")
async def parent_close_request_cancel(ctx: Ctx) -> dict:
    return await parent_close(ctx, "PCCancel", "REQUEST_CANCEL")


@scenario("children")
async def parent_close_abandon(ctx: Ctx) -> dict:
    return await parent_close(ctx, "PCAbandon", "ABANDON")


@scenario("continue-as-new")
async def continue_as_new_chain(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="Counter")
    class Counter:
        @ctx.run
        async def run(self, count: int, seen: list) -> list:
            seen = [*seen, wf.info().continued_run_id is not None]
            if count < 3:
                wf.continue_as_new(args=[count + 1, seen])
            return seen

    async with ctx.running([Counter]):
        handle = await ctx.client.start_workflow(
            "Counter", args=[1, []], id=ctx.id("Counter"), task_queue=ctx.task_queue
        )
        observed = await outcome(handle.result())
        first = ctx.client.get_workflow_handle(
            ctx.id("Counter"), run_id=handle.first_execution_run_id
        )
        observed["first_run"] = description(await first.describe())
        observed["first_run_history"] = history_events(await first.fetch_history())
        latest = ctx.client.get_workflow_handle(ctx.id("Counter"))
        observed["latest_is_other_run"] = (await latest.describe()).run_id != handle.result_run_id
        observed["first_run_result_follows"] = await outcome(first.result())
        observed["first_run_result_no_follow"] = await outcome(first.result(follow_runs=False))
    return observed


@scenario("cron")
async def cron_schedule_started(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="CronJob")
    class CronJob:
        @ctx.run
        async def run(self) -> str:
            return f"cron={wf.info().cron_schedule}"

    async with ctx.running([CronJob]):
        handle = await ctx.client.start_workflow(
            "CronJob",
            id=ctx.id("CronJob"),
            task_queue=ctx.task_queue,
            cron_schedule="0 0 1 1 *",
        )
        desc = await handle.describe()
        history = history_events(await handle.fetch_history())
        await handle.terminate("stop cron")
        result = await outcome(handle.result())
    return {"describe": description(desc), "history": history, "after_terminate": result}


@scenario("cron")
async def cron_invalid_schedule(ctx: Ctx) -> dict:
    return await outcome(
        ctx.client.start_workflow(
            "CronJob", id=ctx.id("BadCron"), task_queue=ctx.task_queue, cron_schedule="not cron"
        )
    )


@scenario("patching")
async def patching_markers(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="Patched")
    class Patched:
        @ctx.run
        async def run(self) -> list:
            first = wf.patched("my-change")
            again = wf.patched("my-change")
            wf.deprecate_patch("old-change")
            await wf.sleep(0.1)
            return [first, again]

    async with ctx.running([Patched]):
        handle = await ctx.client.start_workflow(
            "Patched", id=ctx.id("Patched"), task_queue=ctx.task_queue
        )
        observed = await outcome(handle.result())
        history = await handle.fetch_history()
        observed["history"] = history_events(history)
    return observed


@scenario("replayer")
async def replayer_detects_nondeterminism(ctx: Ctx) -> dict:
    wf = ctx.wf

    def define(steps: list[str]) -> type:
        @ctx.defn(name="Replayed")
        class Replayed:
            @ctx.run
            async def run(self) -> str:
                for step in steps:
                    if step == "sleep":
                        await wf.sleep(0.1)
                    else:
                        await wf.execute_activity(step, start_to_close_timeout=timedelta(seconds=5))
                return "done"

        return Replayed

    @ctx.act.defn(name="step_a")
    async def step_a() -> None:
        return None

    original = define(["step_a", "sleep"])
    async with ctx.running([original], [step_a]):
        handle = await ctx.client.start_workflow(
            "Replayed", id=ctx.id("Replayed"), task_queue=ctx.task_queue
        )
        await handle.result()
        history = await handle.fetch_history()

    def replayer(workflow: type) -> Any:
        return ctx.sdk.worker.Replayer(
            workflows=[workflow], workflow_runner=ctx.sdk.worker.UnsandboxedWorkflowRunner()
        )

    same = await replayer(original).replay_workflow(history, raise_on_replay_failure=False)
    changed = await replayer(define(["sleep", "step_a"])).replay_workflow(
        history, raise_on_replay_failure=False
    )
    raised = await outcome(replayer(define(["sleep"])).replay_workflow(history))
    json_round_trip = await replayer(original).replay_workflow(
        type(history).from_json(history.workflow_id, history.to_json()),
        raise_on_replay_failure=False,
    )
    return {
        "same_code_failure": error_chain(same.replay_failure),
        "changed_code_failure": [e["class"] for e in error_chain(changed.replay_failure)],
        "raise_on_failure": [e["class"] for e in raised.get("error", [])],
        "json_round_trip_failure": error_chain(json_round_trip.replay_failure),
    }


@scenario("timers", time_skipping=True)
async def workflow_execution_timeout(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="TooSlow")
    class TooSlow:
        @ctx.run
        async def run(self) -> str:
            await wf.sleep(timedelta(hours=2))
            return "finished"

    async with ctx.running([TooSlow]):
        handle = await ctx.client.start_workflow(
            "TooSlow",
            id=ctx.id("TooSlow"),
            task_queue=ctx.task_queue,
            execution_timeout=timedelta(hours=1),
        )
        observed = await outcome(handle.result())
        observed["describe"] = description(await handle.describe())
        observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("signals", time_skipping=True)
async def signal_and_query_between_timers(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="Ticker")
    class Ticker:
        def __init__(self) -> None:
            self.ticks = 0
            self.signals: list[str] = []

        @ctx.run
        async def run(self) -> list:
            while len(self.signals) < 2:
                await wf.sleep(timedelta(minutes=10))
                self.ticks += 1
            return self.signals

        @wf.signal
        def note(self, text: str) -> None:
            self.signals.append(text)

        @wf.query
        def seen(self) -> list:
            return list(self.signals)

    async with ctx.running([Ticker]):
        handle = await ctx.client.start_workflow(
            "Ticker", id=ctx.id("Ticker"), task_queue=ctx.task_queue
        )
        await handle.signal("note", "first")
        after_first = await handle.query("seen")
        await handle.signal("note", "second")
        observed = await outcome(handle.result())
        observed["after_first"] = after_first
    return observed


@scenario("children", time_skipping=True)
async def child_timer_and_parent_timeout(ctx: Ctx) -> dict:
    wf = ctx.wf

    @ctx.defn(name="SlowChild")
    class SlowChild:
        @ctx.run
        async def run(self) -> str:
            await wf.sleep(timedelta(days=1))
            return "child done"

    @ctx.defn(name="WaitingParent")
    class WaitingParent:
        @ctx.run
        async def run(self) -> Any:
            try:
                return await wf.execute_child_workflow(
                    SlowChild.run,
                    id=f"{wf.info().workflow_id}-child",
                    execution_timeout=timedelta(hours=1),
                )
            except Exception as exc:
                return error_chain(exc)

    async with ctx.running([WaitingParent, SlowChild]):
        observed = await outcome(
            ctx.client.execute_workflow(
                "WaitingParent", id=ctx.id("WaitingParent"), task_queue=ctx.task_queue
            )
        )
    return observed
