"""The innermost links of a workflow's interceptor chains.

A workflow run's calls go through user interceptors as temporalio's do: the engine
calls the outermost ``WorkflowInboundInterceptor`` (run, signals, queries, updates)
and workflow code calls the outermost ``WorkflowOutboundInterceptor`` (activities,
children, external signals, continue-as-new, info). The classes here end both chains
and hand each call to the :class:`~hotmesh_temporal._engine.runtime.instance.WorkflowInstance`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from hotmesh_temporal import activity as activity_api
from hotmesh_temporal.worker import _interceptor as wi

if TYPE_CHECKING:
    from hotmesh_temporal._engine.runtime.instance import WorkflowInstance


def build_chains(instance: WorkflowInstance, interceptor_classes: Sequence[type]) -> Any:
    """Instantiate the user's inbound classes around the engine's and initialize them.

    The first class in the list is the outermost link. Returns the outermost inbound
    interceptor; ``instance.outbound`` is set by ``init`` reaching the innermost link.
    """
    inbound: wi.WorkflowInboundInterceptor = WorkflowInboundImpl(instance)
    for cls in reversed(list(interceptor_classes)):
        inbound = cls(inbound)
    inbound.init(WorkflowOutboundImpl(instance))
    return inbound


async def _call(fn: Any, args: Sequence[Any]) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class WorkflowInboundImpl(wi.WorkflowInboundInterceptor):
    """Runs the user's workflow code for each inbound call."""

    def __init__(self, instance: WorkflowInstance) -> None:
        self._instance = instance

    def init(self, outbound: wi.WorkflowOutboundInterceptor) -> None:
        self._instance.outbound = outbound

    async def execute_workflow(self, input: wi.ExecuteWorkflowInput) -> Any:
        return await input.run_fn(self._instance.workflow_object(), *input.args)

    async def handle_signal(self, input: wi.HandleSignalInput) -> None:
        defn = self._instance.handler_definition("signal", input.signal)
        await _call(self._instance._bound(defn), input.args)

    async def handle_query(self, input: wi.HandleQueryInput) -> Any:
        defn = self._instance.handler_definition("query", input.query)
        return await _call(self._instance._bound(defn), input.args)

    def handle_update_validator(self, input: wi.HandleUpdateInput) -> None:
        defn = self._instance.handler_definition("update", input.update)
        if defn.validator is not None:
            validator = defn.validator
            bound = (
                validator.__get__(self._instance.workflow_object()) if defn.is_method else validator
            )
            bound(*input.args)

    async def handle_update_handler(self, input: wi.HandleUpdateInput) -> Any:
        defn = self._instance.handler_definition("update", input.update)
        return await _call(self._instance._bound(defn), input.args)


class WorkflowOutboundImpl(wi.WorkflowOutboundInterceptor):
    """Turns each outbound call of workflow code into the instance's commands."""

    def __init__(self, instance: WorkflowInstance) -> None:
        self._instance = instance

    def continue_as_new(self, input: wi.ContinueAsNewInput) -> NoReturn:
        self._instance.continue_as_new(input)

    def info(self) -> Any:
        return self._instance._info

    async def signal_child_workflow(self, input: wi.SignalChildWorkflowInput) -> None:
        await self._instance.signal_external_workflow(
            workflow_id=input.child_workflow_id,
            run_id=None,
            signal_name=input.signal,
            args=input.args,
            headers=input.headers,
            child_workflow_only=True,
        )

    async def signal_external_workflow(self, input: wi.SignalExternalWorkflowInput) -> None:
        await self._instance.signal_external_workflow(
            workflow_id=input.workflow_id,
            run_id=input.workflow_run_id,
            signal_name=input.signal,
            args=input.args,
            headers=input.headers,
            child_workflow_only=False,
        )

    def start_activity(self, input: wi.StartActivityInput) -> Any:
        return self._instance.start_activity(input, is_local=False)

    def start_local_activity(self, input: wi.StartLocalActivityInput) -> Any:
        return self._instance.start_activity(input, is_local=True)

    async def start_child_workflow(self, input: wi.StartChildWorkflowInput) -> Any:
        return await self._instance.start_child_workflow(input)

    async def start_nexus_operation(self, input: Any) -> Any:
        raise NotImplementedError("Nexus operations need a Temporal server's Nexus endpoints")

    async def start_system_nexus_operation(self, input: Any) -> Any:
        raise NotImplementedError("Nexus operations need a Temporal server's Nexus endpoints")

    async def start_signal_with_start_workflow(self, request: Any) -> Any:
        raise NotImplementedError("Nexus operations need a Temporal server's Nexus endpoints")


# ------------------------------------------------------------------ activities


class ActivityInboundImpl(wi.ActivityInboundInterceptor):
    """Runs the activity function; ``run`` is the worker's way to call it."""

    def __init__(self, context: Any, run: Any) -> None:
        self._context = context
        self._run = run

    def init(self, outbound: wi.ActivityOutboundInterceptor) -> None:
        # The activity's own info()/heartbeat() calls go through the outbound chain.
        self._context.info = outbound.info
        self._context.heartbeat = outbound.heartbeat

    async def execute_activity(self, input: wi.ExecuteActivityInput) -> Any:
        return await self._run(input)


class ActivityOutboundImpl(wi.ActivityOutboundInterceptor):
    """Answers an activity's calls out: its info, and heartbeats to the worker."""

    def __init__(self, info: Any, heartbeat: Any) -> None:
        self._info = info
        self._heartbeat = heartbeat

    def info(self) -> Any:
        return self._info

    def heartbeat(self, *details: Any) -> None:
        self._heartbeat(*details)


def build_activity_chain(
    interceptors: Sequence[Any], innermost: ActivityInboundImpl, outbound: Any
) -> Any:
    """Wrap ``innermost`` in every worker interceptor (first listed is outermost)
    and initialize the chain with the outbound implementation."""
    inbound: wi.ActivityInboundInterceptor = innermost
    for interceptor in reversed(list(interceptors)):
        hook = getattr(interceptor, "intercept_activity", None)
        if hook is not None:
            inbound = hook(inbound)
    inbound.init(outbound)
    return inbound


async def execute_activity_attempt(
    interceptors: Sequence[Any],
    *,
    context: Any,
    info: Any,
    heartbeat: Any,
    fn: Any,
    args: Sequence[Any],
    executor: Any,
    headers: Any,
    invoke: Any,
) -> Any:
    """Run one (local) activity attempt through the worker's activity interceptors.

    The chain runs in the activity's context, so interceptors may call
    ``activity.info()``; ``invoke(fn, args)`` is the worker's way to call the function
    (the innermost link passes the Input's possibly changed ``fn`` and ``args``).
    """

    outbound = ActivityOutboundImpl(info, heartbeat)
    innermost = ActivityInboundImpl(context, lambda input: invoke(input.fn, list(input.args)))
    token = activity_api._current_context.set(context)
    try:
        chain = build_activity_chain(interceptors, innermost, outbound)
        return await chain.execute_activity(
            wi.ExecuteActivityInput(fn=fn, args=args, executor=executor, headers=headers)
        )
    finally:
        activity_api._current_context.reset(token)
