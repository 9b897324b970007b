"""Carry ``user_id`` in Temporal headers wherever the work goes.

One interceptor class serves both sides: as a client interceptor it writes the header
when a workflow is started or signalled; as a worker interceptor it reads the header
into the context variable before a workflow or activity runs, and writes it again when
the workflow schedules an activity.
"""

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from hotmesh_temporal import client, converter, worker
from hotmesh_temporal.api.common.v1 import Payload

HEADER = "user-id"
user_id: ContextVar[str | None] = ContextVar("user_id", default=None)


def with_user_header(headers: Mapping[str, Payload]) -> Mapping[str, Payload]:
    current = user_id.get()
    if current is None:
        return headers
    return {**headers, HEADER: converter.default().payload_converter.to_payload(current)}


def user_from_headers(headers: Mapping[str, Payload]) -> str | None:
    payload = headers.get(HEADER)
    if payload is None:
        return None
    return converter.default().payload_converter.from_payload(payload, str)


class ContextPropagationInterceptor(client.Interceptor, worker.Interceptor):
    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(
        self, next: worker.ActivityInboundInterceptor
    ) -> worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: worker.WorkflowInterceptorClassInput
    ) -> type[worker.WorkflowInboundInterceptor] | None:
        return _WorkflowInbound


class _ClientOutbound(client.OutboundInterceptor):
    async def start_workflow(self, input: client.StartWorkflowInput) -> Any:
        input.headers = with_user_header(input.headers)
        return await super().start_workflow(input)

    async def signal_workflow(self, input: client.SignalWorkflowInput) -> None:
        input.headers = with_user_header(input.headers)
        await super().signal_workflow(input)


class _ActivityInbound(worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:
        token = user_id.set(user_from_headers(input.headers))
        try:
            return await super().execute_activity(input)
        finally:
            user_id.reset(token)


class _WorkflowInbound(worker.WorkflowInboundInterceptor):
    def init(self, outbound: worker.WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))

    async def execute_workflow(self, input: worker.ExecuteWorkflowInput) -> Any:
        user_id.set(user_from_headers(input.headers))
        return await super().execute_workflow(input)

    async def handle_signal(self, input: worker.HandleSignalInput) -> None:
        user_id.set(user_from_headers(input.headers))
        await super().handle_signal(input)


class _WorkflowOutbound(worker.WorkflowOutboundInterceptor):
    def start_activity(self, input: worker.StartActivityInput) -> Any:
        input.headers = with_user_header(input.headers)
        return super().start_activity(input)
