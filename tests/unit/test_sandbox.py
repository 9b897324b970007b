"""Sandbox surface: the configuration API, and the determinism guard it drives."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import random
import time
import uuid

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client, WorkflowFailureError
from hotmesh_temporal.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from hotmesh_temporal.worker.workflow_sandbox import (
    RestrictedWorkflowAccessError,
    SandboxedWorkflowRunner,
    SandboxMatcher,
    SandboxRestrictions,
)
from hotmesh_temporal.worker.workflow_sandbox._restrictions import RestrictionContext


def runtime_context() -> RestrictionContext:
    context = RestrictionContext()
    context.is_runtime = True
    return context


# ------------------------------------------------------------------ matcher API


def test_matcher_access_use_children_and_runtime_only() -> None:
    matcher = SandboxMatcher(
        access={"a"},
        use={"u"},
        children={
            "c": SandboxMatcher(use={"x"}),
            "r": SandboxMatcher(use={"y"}, only_runtime=True),
        },
    )
    importing = RestrictionContext()
    assert matcher.match_access(importing, "a")
    assert not matcher.match_access(importing, "u")
    assert matcher.match_access(importing, "u", include_use=True)
    assert matcher.match_access(importing, "c", "x", include_use=True)
    assert not matcher.match_access(importing, "c", "z", include_use=True)
    assert not matcher.match_access(importing, "r", "y", include_use=True)
    assert matcher.match_access(runtime_context(), "r", "y", include_use=True)
    assert matcher.child_matcher("a") is SandboxMatcher.all
    assert matcher.child_matcher("c") == SandboxMatcher(use={"x"})
    assert matcher.child_matcher("nope") is None


def test_matcher_combine_exclude_nested_and_unrestrict() -> None:
    left = SandboxMatcher(use={"a"}, children={"m": SandboxMatcher(use={"x"})})
    right = SandboxMatcher(use={"b"}, children={"m": SandboxMatcher(use={"y"})})
    both = left | right
    assert both.use == {"a", "b"}
    assert both.children["m"].use == {"x", "y"}
    assert (left | SandboxMatcher.all) is SandboxMatcher.all
    with pytest.raises(ValueError):
        left | SandboxMatcher.all_runtime
    nested = SandboxMatcher.nested_child(["p", "q"], SandboxMatcher(use={"z"}))
    assert nested.match_access(runtime_context(), "p", "q", "z", include_use=True)
    excluding = SandboxMatcher(use={"*"}, exclude={"safe"})
    assert excluding.match_access(runtime_context(), "anything", include_use=True)
    assert not excluding.match_access(runtime_context(), "safe", include_use=True)
    freed = both.with_child_unrestricted("m", "x")
    assert freed.children["m"].use == {"y"}
    assert both.children["m"].use == {"x", "y"}  # immutable
    with pytest.raises(ValueError):
        SandboxMatcher(leaf_message="needs match_self")


def test_restrictions_api() -> None:
    default = SandboxRestrictions.default
    assert "datetime" in default.passthrough_modules
    more = default.with_passthrough_modules("my_models", "pydantic")
    assert {"my_models", "pydantic"} <= more.passthrough_modules
    assert "my_models" not in default.passthrough_modules
    assert default.with_passthrough_all_modules().passthrough_all_modules is True
    members = SandboxRestrictions.invalid_module_members_default
    assert members.match_access(runtime_context(), "datetime", "datetime", "now", include_use=True)
    assert members.children["datetime"].children["date"].use == {"today"}
    freed = members.with_child_unrestricted("datetime", "datetime", "now")
    assert not freed.match_access(
        runtime_context(), "datetime", "datetime", "now", include_use=True
    )
    assert freed.match_access(runtime_context(), "datetime", "datetime", "utcnow", include_use=True)


def test_runners() -> None:
    runner = SandboxedWorkflowRunner()
    assert isinstance(runner, WorkflowRunner)
    assert runner.restrictions is SandboxRestrictions.default
    assert runner.runner_class is UnsandboxedWorkflowRunner
    runner.prepare_workflow(object())
    custom = SandboxedWorkflowRunner(
        restrictions=dataclasses.replace(
            SandboxRestrictions.default,
            invalid_module_members=SandboxRestrictions.invalid_module_members_default.with_child_unrestricted(
                "datetime"
            ),
        )
    )
    refused, unrestricted = runner._refused_calls(), custom._refused_calls()
    for path in [
        ("datetime", "date", "today"),
        ("datetime", "datetime", "now"),
        ("datetime", "datetime", "today"),
        ("datetime", "datetime", "utcnow"),
    ]:
        assert refused.verdict(path) is not None
        assert unrestricted.verdict(path) is None
    assert refused.verdict(("datetime", "datetime", "fromisoformat")) is None
    assert refused.verdict(("os", "getcwd")) is not None
    assert refused.verdict(("os", "stat")) is None  # excluded, as in temporalio
    waits = refused.verdict(("asyncio", "wait"))
    assert waits is not None and waits.node.leaf_warning is UserWarning
    assert waits.name == "asyncio.wait.__call__"


def test_worker_default_runner_and_bad_runner(client: Client) -> None:
    assert Worker(client, task_queue="q", workflows=[NowWorkflow])._refused_calls
    with pytest.raises(TypeError, match="WorkflowRunner"):
        Worker(client, task_queue="q", workflows=[NowWorkflow], workflow_runner=object())  # type: ignore[arg-type]


def test_guard_is_only_paid_by_modules_that_read_the_clock() -> None:
    from hotmesh_temporal._engine.runtime.determinism import may_read_datetime_clock
    from samples import demo

    assert may_read_datetime_clock(NowWorkflow) is True
    assert may_read_datetime_clock(demo.OrderWorkflow) is False  # uses workflow.now()


def test_unsafe_outside_workflows() -> None:
    assert workflow.unsafe.in_sandbox() is False
    assert workflow.unsafe.is_sandbox_unrestricted() is False
    with workflow.unsafe.sandbox_unrestricted():
        assert workflow.unsafe.is_sandbox_unrestricted() is True
    with workflow.unsafe.imports_passed_through():
        import json  # noqa: F401
    assert workflow.unsafe.is_sandbox_unrestricted() is False


# ----------------------------------------------------------- guard in workflows


@workflow.defn
class NowWorkflow:
    @workflow.run
    async def run(self) -> str:
        return datetime.datetime.now(datetime.timezone.utc).isoformat()


@workflow.defn
class UnrestrictedNowWorkflow:
    @workflow.run
    async def run(self) -> list[bool]:
        with workflow.unsafe.sandbox_unrestricted():
            datetime.date.today()
            unrestricted = workflow.unsafe.is_sandbox_unrestricted()
        return [workflow.unsafe.in_sandbox(), unrestricted]


@workflow.defn
class FollowsWorkflowWorkflow:
    """time, random and uuid4 follow workflow time and the seeded random."""

    @workflow.run
    async def run(self) -> list[float]:
        return [time.time() - workflow.now().timestamp(), float(random.random() < 1)]


@workflow.defn
class CatchesRestrictedWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            datetime.datetime.utcnow()
        except RestrictedWorkflowAccessError as err:
            return err.qualified_name
        return "allowed"


@workflow.defn(sandboxed=False)
class NotSandboxedWorkflow:
    @workflow.run
    async def run(self) -> bool:
        datetime.datetime.now()
        return workflow.unsafe.in_sandbox()


async def test_datetime_now_fails_the_workflow_task(client: Client) -> None:
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[NowWorkflow]):
        handle = await client.start_workflow(
            NowWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        # The task fails and is retried; the run stays open (Temporal's behaviour).
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(handle.result(), 1.5)
        description = await handle.describe()
        assert description.status is not None and description.status.name == "RUNNING"
        await handle.terminate("test over")


async def test_failure_exception_types_can_fail_the_workflow(client: Client) -> None:
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[NowWorkflow],
        workflow_failure_exception_types=[RestrictedWorkflowAccessError],
    ):
        with pytest.raises(WorkflowFailureError) as failure:
            await client.execute_workflow(
                NowWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
            )
    assert "datetime.datetime.now" in str(failure.value.cause)


async def test_unsandboxed_runner_allows_datetime_now(client: Client) -> None:
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[NowWorkflow, NotSandboxedWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        stamp = await client.execute_workflow(
            NowWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
    assert datetime.datetime.fromisoformat(stamp).year >= 2024


async def test_escape_hatches_and_follow_semantics(client: Client) -> None:
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[
            UnrestrictedNowWorkflow,
            FollowsWorkflowWorkflow,
            CatchesRestrictedWorkflow,
            NotSandboxedWorkflow,
        ],
    ):
        assert await client.execute_workflow(
            UnrestrictedNowWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
        ) == [True, True]
        skew, drew = await client.execute_workflow(
            FollowsWorkflowWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        assert skew == 0 and drew == 1
        assert (
            await client.execute_workflow(
                CatchesRestrictedWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
            )
            == "datetime.datetime.utcnow.__call__"  # temporalio's name for the call
        )
        assert (
            await client.execute_workflow(
                NotSandboxedWorkflow.run, id=f"wf-{uuid.uuid4()}", task_queue=queue
            )
            is False
        )


def test_clock_scan_survives_imported_generic_classes():
    # A workflow module importing collections.abc.Callable (what ruff's UP035 writes)
    # holds classes whose classmethods wrap no function: the scan must skip them,
    # not fail every workflow task.
    import types as _types
    from collections.abc import Callable  # noqa: F401

    from hotmesh_temporal._engine.runtime.determinism import may_read_datetime_clock

    module = _types.ModuleType("hm_scan_probe")
    exec(
        "from collections.abc import Callable\n"
        "import datetime\n"
        "class Probe:\n"
        "    def run(self):\n"
        "        return datetime.datetime.now()\n"
        "class Quiet:\n"
        "    @classmethod\n"
        "    def make(cls):\n"
        "        return 1\n",
        module.__dict__,
    )
    import sys

    sys.modules["hm_scan_probe"] = module
    try:
        assert may_read_datetime_clock(module.Probe) is True
        module.__dict__.pop("Probe")
        assert may_read_datetime_clock(module.Quiet) is False
    finally:
        del sys.modules["hm_scan_probe"]
