"""Worker interceptor base classes: every call passes through to ``next`` unchanged."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import timedelta

import pytest

from hotmesh_temporal import worker
from hotmesh_temporal.common import Priority, WorkflowIDReusePolicy
from hotmesh_temporal.workflow import (
    ActivityCancellationType,
    ChildWorkflowCancellationType,
    NexusOperationCancellationType,
    ParentClosePolicy,
)


class Recorder:
    """The end of a chain: records each call and answers with a marker."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def sync_call(*args):
            self.calls.append((name, args))
            return ("result", name)

        async def async_call(*args):
            self.calls.append((name, args))
            return ("result", name)

        return async_call if name in ASYNC_METHODS else sync_call


ASYNC_METHODS = {
    "execute_activity",
    "execute_workflow",
    "handle_signal",
    "handle_query",
    "handle_update_handler",
    "signal_child_workflow",
    "signal_external_workflow",
    "start_child_workflow",
    "start_nexus_operation",
    "start_system_nexus_operation",
    "start_signal_with_start_workflow",
}


def _public_methods(cls: type) -> list[str]:
    return [n for n, v in vars(cls).items() if not n.startswith("_") and inspect.isfunction(v)]


@pytest.mark.parametrize(
    "cls",
    [
        worker.ActivityInboundInterceptor,
        worker.ActivityOutboundInterceptor,
        worker.WorkflowInboundInterceptor,
        worker.WorkflowOutboundInterceptor,
    ],
)
async def test_every_method_passes_through(cls):
    end = Recorder()
    link = cls(end)
    assert link.next is end
    methods = _public_methods(cls)
    assert methods
    for name in methods:
        method = getattr(link, name)
        params = [p for p in inspect.signature(method).parameters.values()]
        args = tuple(object() for p in params if p.kind is not p.VAR_POSITIONAL)
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            args = ("a", 2)
        end.calls.clear()
        if name == "continue_as_new":
            # the chain's end raises ContinueAsNewError; a returning end is a bug
            with pytest.raises(RuntimeError):
                method(*args)
        elif inspect.iscoroutinefunction(method):
            assert name in ASYNC_METHODS
            assert await method(*args) == ("result", name)
        else:
            result = method(*args)
            assert name not in ASYNC_METHODS
            if name not in ("init", "heartbeat", "handle_update_validator"):
                assert result == ("result", name)
        assert end.calls == [(name, args)], name


async def test_chain_of_subclasses_sees_and_changes_input():
    seen = []

    class AddHeader(worker.WorkflowInboundInterceptor):
        async def handle_signal(self, input: worker.HandleSignalInput) -> None:
            seen.append(input.signal)
            input.headers = {**input.headers, "traced": "yes"}
            await super().handle_signal(input)

    end = Recorder()
    chain = AddHeader(AddHeader(end))
    signal = worker.HandleSignalInput(signal="go", args=[1], headers={})
    await chain.handle_signal(signal)
    assert seen == ["go", "go"]
    ((name, (passed,)),) = end.calls
    assert name == "handle_signal" and passed is signal
    assert passed.headers == {"traced": "yes"}


async def test_outbound_wrapped_in_init():
    class Outbound(worker.ActivityOutboundInterceptor):
        def heartbeat(self, *details):
            super().heartbeat("wrapped", *details)

    class Inbound(worker.ActivityInboundInterceptor):
        def init(self, outbound):
            super().init(Outbound(outbound))

    end = Recorder()
    Inbound(end).init(end)
    ((name, (outbound,)),) = end.calls
    assert name == "init" and isinstance(outbound, Outbound)
    end.calls.clear()
    outbound.heartbeat(1)
    assert end.calls == [("heartbeat", ("wrapped", 1))]


def test_root_interceptor_defaults():
    interceptor = worker.Interceptor()
    nxt = worker.ActivityInboundInterceptor(Recorder())
    assert interceptor.intercept_activity(nxt) is nxt
    assert (
        interceptor.workflow_interceptor_class(
            worker.WorkflowInterceptorClassInput(unsafe_extern_functions={})
        )
        is None
    )


def test_inputs_are_mutable_dataclasses():
    start = worker.StartActivityInput(
        activity="a",
        args=[],
        activity_id=None,
        task_queue=None,
        schedule_to_close_timeout=None,
        schedule_to_start_timeout=None,
        start_to_close_timeout=timedelta(seconds=5),
        heartbeat_timeout=None,
        retry_policy=None,
        cancellation_type=ActivityCancellationType.TRY_CANCEL,
        headers={},
        disable_eager_execution=False,
        versioning_intent=None,
        summary=None,
        priority=Priority(),
        arg_types=None,
        ret_type=None,
    )
    assert start.event_groups is None
    start.task_queue = "other"
    assert dataclasses.replace(start, activity="b").task_queue == "other"

    child = worker.StartChildWorkflowInput(
        workflow="W",
        args=[],
        id="c",
        task_queue=None,
        cancellation_type=ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        parent_close_policy=ParentClosePolicy.TERMINATE,
        execution_timeout=None,
        run_timeout=None,
        task_timeout=None,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        retry_policy=None,
        cron_schedule="",
        memo=None,
        search_attributes=None,
        headers={},
        versioning_intent=None,
        static_summary=None,
        static_details=None,
        priority=Priority(),
        arg_types=None,
        ret_type=None,
    )
    assert child.versioning_override is None and child.event_groups is None
    with pytest.raises(TypeError):
        # the trailing defaulted fields are keyword-only, as in temporalio
        worker.StartChildWorkflowInput(*([None] * 22))

    with pytest.raises(dataclasses.FrozenInstanceError):
        worker.WorkflowInterceptorClassInput(
            unsafe_extern_functions={}
        ).unsafe_extern_functions = {}  # type: ignore[misc]


def test_nexus_input_operation_name():
    def make(operation):
        return worker.StartNexusOperationInput(
            endpoint="e",
            service="s",
            operation=operation,
            input=None,
            schedule_to_close_timeout=None,
            schedule_to_start_timeout=None,
            start_to_close_timeout=None,
            cancellation_type=NexusOperationCancellationType.WAIT_COMPLETED,
            headers=None,
            summary=None,
        )

    assert make("op").operation_name == "op"

    class Operation:
        name = "named"
        output_type = int

    made = make(Operation())
    assert made.operation_name == "named" and made.output_type is int
    with pytest.raises(ValueError):
        _ = make(object()).operation_name
