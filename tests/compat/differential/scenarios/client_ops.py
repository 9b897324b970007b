"""Client operations: id reuse and conflict policies, signal-with-start, terminate and
cancel of closed runs, eager start, visibility (list/count, search attributes, memo)."""

from __future__ import annotations

import asyncio
from typing import Any

from ..harness import Ctx, outcome, scenario
from ..observe import description, history_events
from .workflows import wait_for_event


def waiter(ctx: Ctx) -> type:
    wf = ctx.wf

    @ctx.defn(name="Waits")
    class Waits:
        def __init__(self) -> None:
            self.done = False
            self.signals: list[Any] = []

        @ctx.run
        async def run(self, label: str) -> str:
            await wf.wait_condition(lambda: self.done)
            return f"{label} got {self.signals}"

        @wf.signal
        def poke(self, value: Any) -> None:
            self.signals.append(value)

        @wf.signal
        def finish(self) -> None:
            self.done = True

    return Waits


async def start(ctx: Ctx, label: str, workflow_id: str, **options: Any) -> Any:
    return await ctx.client.start_workflow(
        "Waits", label, id=workflow_id, task_queue=ctx.task_queue, **options
    )


@scenario("id-policies")
async def id_conflict_fail(ctx: Ctx) -> dict:
    async with ctx.running([waiter(ctx)]):
        workflow_id = ctx.id("Conflict")
        first = await start(ctx, "first", workflow_id)
        second = await outcome(start(ctx, "second", workflow_id))
        await first.terminate()
    return {"second": second}


@scenario("id-policies")
async def id_conflict_use_existing(ctx: Ctx) -> dict:
    policy = ctx.sdk.common.WorkflowIDConflictPolicy
    async with ctx.running([waiter(ctx)]):
        workflow_id = ctx.id("UseExisting")
        first = await start(ctx, "first", workflow_id)
        second = await start(ctx, "second", workflow_id, id_conflict_policy=policy.USE_EXISTING)
        await second.signal("finish")
        result = await first.result()
    return {
        "same_run": first.first_execution_run_id == second.first_execution_run_id,
        "second_run_id_set": second.first_execution_run_id is not None,
        "result": result,
    }


@scenario("id-policies")
async def id_conflict_terminate_existing(ctx: Ctx) -> dict:
    policy = ctx.sdk.common.WorkflowIDConflictPolicy
    async with ctx.running([waiter(ctx)]):
        workflow_id = ctx.id("TermExisting")
        first = await start(ctx, "first", workflow_id)
        second = await start(
            ctx, "second", workflow_id, id_conflict_policy=policy.TERMINATE_EXISTING
        )
        first_result = await outcome(first.result(follow_runs=False))
        first_run = ctx.client.get_workflow_handle(workflow_id, run_id=first.first_execution_run_id)
        first_history = history_events(await first_run.fetch_history())
        await second.signal("finish")
        second_result = await second.result()
    return {
        "first_result": first_result,
        "first_history_tail": first_history[-1:],
        "second_result": second_result,
        "different_runs": first.first_execution_run_id != second.first_execution_run_id,
    }


async def reuse_after(ctx: Ctx, name: str, policy_name: str, close: str) -> dict:
    policy = ctx.sdk.common.WorkflowIDReusePolicy
    async with ctx.running([waiter(ctx)]):
        workflow_id = ctx.id(name)
        first = await start(ctx, "first", workflow_id)
        if close == "complete":
            await first.signal("finish")
            await first.result()
        elif close == "terminate":
            await first.terminate("closing", "detail")
        else:
            await first.cancel()
            await outcome(first.result())
        second = await outcome(
            start(ctx, "second", workflow_id, id_reuse_policy=getattr(policy, policy_name))
        )
        if "result" in second:
            handle = second["result"]
            second = {
                "started_new_run": handle.first_execution_run_id != first.first_execution_run_id
            }
            await handle.terminate()
    return {"second": second}


@scenario("id-policies")
async def id_reuse_reject_duplicate(ctx: Ctx) -> dict:
    return await reuse_after(ctx, "RejectDup", "REJECT_DUPLICATE", "complete")


@scenario("id-policies")
async def id_reuse_failed_only_after_success(ctx: Ctx) -> dict:
    return await reuse_after(ctx, "FailedOnlyOk", "ALLOW_DUPLICATE_FAILED_ONLY", "complete")


@scenario("id-policies")
async def id_reuse_failed_only_after_terminate(ctx: Ctx) -> dict:
    return await reuse_after(ctx, "FailedOnlyTerm", "ALLOW_DUPLICATE_FAILED_ONLY", "terminate")


@scenario("id-policies")
async def id_reuse_allow_after_complete(ctx: Ctx) -> dict:
    return await reuse_after(ctx, "AllowDup", "ALLOW_DUPLICATE", "complete")


@scenario("id-policies")
async def terminated_run_reason_and_details(ctx: Ctx) -> dict:
    async with ctx.running([waiter(ctx)]):
        handle = await start(ctx, "x", ctx.id("Terminated"))
        await wait_for_event(handle, "WORKFLOW_TASK_COMPLETED")
        await handle.terminate("because", {"why": 1}, 2)
        observed = await outcome(handle.result())
        observed["describe"] = description(await handle.describe())
        observed["history"] = history_events(await handle.fetch_history())
    return observed


@scenario("client")
async def cancel_and_terminate_closed_runs(ctx: Ctx) -> dict:
    async with ctx.running([waiter(ctx)]):
        handle = await start(ctx, "x", ctx.id("Closed"))
        await handle.signal("finish")
        await handle.result()
        return {
            "cancel": await outcome(handle.cancel()),
            "terminate": await outcome(handle.terminate("late")),
            "describe_missing": await outcome(
                ctx.client.get_workflow_handle(ctx.id("NeverStarted")).describe()
            ),
            "result_missing": await outcome(
                ctx.client.get_workflow_handle(ctx.id("NeverStarted2")).result()
            ),
        }


@scenario("client")
async def signal_with_start(ctx: Ctx) -> dict:
    async with ctx.running([waiter(ctx)]):
        workflow_id = ctx.id("SignalWithStart")
        first = await ctx.client.start_workflow(
            "Waits",
            "swm",
            id=workflow_id,
            task_queue=ctx.task_queue,
            start_signal="poke",
            start_signal_args=["s1"],
        )
        second = await ctx.client.start_workflow(
            "Waits",
            "ignored",
            id=workflow_id,
            task_queue=ctx.task_queue,
            start_signal="poke",
            start_signal_args=["s2"],
        )
        await second.signal("finish")
        result = await first.result()
        history = history_events(await first.fetch_history())
    return {
        "result": result,
        "same_run": first.first_execution_run_id == second.first_execution_run_id,
        "signaled_run_set": second.first_execution_run_id is not None,
        "history": [e for e in history if "WORKFLOW_TASK" not in str(e)],
    }


@scenario("client")
async def eager_start_request(ctx: Ctx) -> dict:
    async with ctx.running([waiter(ctx)]):
        handle = await start(ctx, "eager", ctx.id("Eager"), request_eager_start=True)
        await handle.signal("finish")
        result = await handle.result()
    return {
        "result": result,
        "eagerly_started": getattr(handle, "__temporal_eagerly_started", "<absent>"),
    }


@scenario("client")
async def result_with_wrong_run_id(ctx: Ctx) -> dict:
    async with ctx.running([waiter(ctx)]):
        handle = await start(ctx, "x", ctx.id("WrongRun"))
        other = ctx.client.get_workflow_handle(
            ctx.id("WrongRun"), run_id="00000000-0000-4000-8000-000000000000"
        )
        observed = {"describe": await outcome(other.describe())}
        await handle.terminate()
    return observed


@scenario("visibility")
async def visibility_list_count_memo_search_attributes(ctx: Ctx) -> dict:
    common = ctx.sdk.common
    keyword = common.SearchAttributeKey.for_keyword("CustomKeywordField")
    number = common.SearchAttributeKey.for_int("CustomIntField")
    async with ctx.running([waiter(ctx)]):
        handles = []
        for i in range(3):
            handles.append(
                await start(
                    ctx,
                    f"v{i}",
                    ctx.id(f"Vis{i}"),
                    memo={"index": i, "note": "hello"},
                    search_attributes=common.TypedSearchAttributes(
                        [
                            common.SearchAttributePair(keyword, ctx.prefix),
                            common.SearchAttributePair(number, i),
                        ]
                    ),
                )
            )
        await handles[0].signal("finish")
        await handles[0].result()
        query = f"CustomKeywordField = '{ctx.prefix}'"
        deadline = asyncio.get_running_loop().time() + 15
        while True:  # visibility is eventually consistent on a Temporal server
            listed = [w async for w in ctx.client.list_workflows(query)]
            running = [
                w
                async for w in ctx.client.list_workflows(f"{query} AND ExecutionStatus = 'Running'")
            ]
            if (len(listed), len(running)) == (
                3,
                2,
            ) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.3)
        count = await ctx.client.count_workflows(query)
        grouped = await ctx.client.count_workflows(f"{query} GROUP BY ExecutionStatus")
        desc = await handles[1].describe()
        observed = {
            "listed": sorted([w.id, w.status, w.workflow_type] for w in listed),
            "running": sorted(w.id for w in running),
            "count": count.count,
            "groups": sorted(
                [[g.group_values[0] if g.group_values else None, g.count] for g in grouped.groups],
                key=repr,
            ),
            "int_filter": sorted(
                [w.id async for w in ctx.client.list_workflows(f"{query} AND CustomIntField >= 1")]
            ),
            "memo": await desc.memo(),
            "memo_value": await desc.memo_value("index"),
            "search_attributes": {
                "keyword": desc.typed_search_attributes.get(keyword),
                "int": desc.typed_search_attributes.get(number),
            },
            "bad_query": await outcome(ctx.client.count_workflows("NotAField = 'x'")),
        }
        for handle in handles[1:]:
            await handle.terminate()
    return observed


@scenario("visibility")
async def upsert_search_attributes(ctx: Ctx) -> dict:
    wf = ctx.wf
    common = ctx.sdk.common
    keyword = common.SearchAttributeKey.for_keyword("CustomKeywordField")

    @ctx.defn(name="Upserts")
    class Upserts:
        @ctx.run
        async def run(self) -> Any:
            wf.upsert_search_attributes([keyword.value_set("after-upsert")])
            wf.upsert_memo({"m": "v"})
            return wf.info().typed_search_attributes.get(keyword)

    async with ctx.running([Upserts]):
        handle = await ctx.client.start_workflow(
            "Upserts", id=ctx.id("Upserts"), task_queue=ctx.task_queue
        )
        result = await handle.result()
        desc = await handle.describe()
        history = history_events(await handle.fetch_history())
    return {
        "result": result,
        "described": desc.typed_search_attributes.get(keyword),
        "memo": await desc.memo(),
        "history": [e for e in history if "WORKFLOW_TASK" not in str(e)],
    }


@scenario("client")
async def start_unregistered_type_and_errors(ctx: Ctx) -> dict:
    return {
        "missing_task_queue": await outcome(
            ctx.client.start_workflow("Anything", id=ctx.id("NoTq"), task_queue="")
        ),
    }


@scenario("client")
async def describe_running_workflow(ctx: Ctx) -> dict:
    async with ctx.running([waiter(ctx)]):
        handle = await start(ctx, "x", ctx.id("Describe"), memo={"k": "v"})
        await asyncio.sleep(0.5)
        desc = await handle.describe()
        observed = {
            "describe": description(desc),
            "id": desc.id,
            "memo": await desc.memo(),
            "execution_time_set": desc.execution_time is not None,
        }
        await handle.signal("finish")
        await handle.result()
        observed["history"] = history_events(await handle.fetch_history())
    return observed
