"""``OpenTelemetryInterceptor``: span context propagation for code that uses
OpenTelemetry directly, workflow code included.

Every client call, workflow call and activity carries the current span context in
the ``_tracer-data`` header (as :class:`TracingInterceptor` does). The receiving side
makes it current, so spans that workflow or activity code starts with
``opentelemetry.trace.get_tracer(...)`` join the caller's trace. Inside workflows
the global tracer provider must be a :class:`ReplaySafeTracerProvider`: spans there
are real spans, with real durations, that replays neither duplicate nor re-id.

With ``add_temporal_spans=True`` the interceptor adds its own spans, with
temporalio's names: ``StartWorkflow:X``, ``SignalWorkflow:S``, ``QueryWorkflow:Q``,
``StartWorkflowUpdate:U``, ``StartUpdateWithStartWorkflow:X``, ``StartActivity:A``
on the client; ``RunWorkflow:X``, ``HandleSignal:S``, ``HandleQuery:Q``,
``ValidateUpdate:U``, ``HandleUpdate:U`` and the outbound ``StartActivity:A``,
``StartChildWorkflow:C``, ``SignalChildWorkflow:S``, ``SignalExternalWorkflow:S`` in
workflows; ``RunActivity:A`` around an activity attempt.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import opentelemetry.context
import opentelemetry.trace
import opentelemetry.util.types
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode

import hotmesh_temporal.activity
import hotmesh_temporal.client
import hotmesh_temporal.converter
import hotmesh_temporal.worker
import hotmesh_temporal.workflow
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.contrib.opentelemetry._interceptor import (
    _HEADER_KEY,
    _attached,
    _HeaderCodec,
    _is_benign,
    default_text_map_propagator,
)
from hotmesh_temporal.contrib.opentelemetry._tracer_provider import ReplaySafeTracerProvider

# OpenTelemetry picks its context implementation lazily, on first use; make that
# happen at import rather than inside a workflow activation.
opentelemetry.context.get_current()


class _DefaultHeaderCodec(_HeaderCodec):
    header_key = _HEADER_KEY
    text_map_propagator = default_text_map_propagator
    payload_converter = hotmesh_temporal.converter.PayloadConverter.default


_codec = _DefaultHeaderCodec()


def _with_context(headers: Mapping[str, Payload]) -> Mapping[str, Payload]:
    """``headers`` plus the current span context (unchanged when there is none)."""
    return _codec._context_to_headers(headers)


def _context_of(headers: Mapping[str, Payload]) -> Context:
    """The span context a caller put in ``headers``; an empty context when none, so
    that nothing ambient becomes the parent."""
    return _codec._context_from_headers(headers) or Context()


def _with_nexus_context(headers: Mapping[str, str]) -> Mapping[str, str]:
    carrier: dict[str, Any] = {}
    default_text_map_propagator.inject(carrier)
    if not carrier:
        return headers
    return {
        **(headers or {}),
        **{k: ",".join(v) if isinstance(v, list) else v for k, v in carrier.items()},
    }


def _tracer() -> opentelemetry.trace.Tracer:
    # Asked each time: the global provider may be set after the interceptor is built.
    return opentelemetry.trace.get_tracer(__name__)


@contextlib.contextmanager
def _maybe_span(
    add_temporal_spans: bool,
    name: str,
    *,
    attributes: opentelemetry.util.types.Attributes,
    kind: SpanKind,
) -> Iterator[None]:
    """A span around the block when ``add_temporal_spans``; an error other than a
    benign ApplicationError marks it failed."""
    if not add_temporal_spans:
        yield
        return
    with _tracer().start_as_current_span(
        name, attributes=attributes, kind=kind, set_status_on_exception=False
    ) as span:
        try:
            yield
        except Exception as err:
            if not _is_benign(err):
                span.set_status(Status(StatusCode.ERROR, f"{type(err).__name__}: {err}"))
            raise


class OpenTelemetryInterceptor(
    hotmesh_temporal.client.Interceptor, hotmesh_temporal.worker.Interceptor
):
    """Client and worker interceptor propagating OpenTelemetry context (see the
    module docstring). Give it to ``Client.connect(interceptors=[...])`` (the
    client's workers use it too), or only to a ``Worker``; or use
    :class:`OpenTelemetryPlugin`, which does the former."""

    def __init__(self, add_temporal_spans: bool = False) -> None:
        """``add_temporal_spans``: also make the interceptor's own spans."""
        self._add_temporal_spans = add_temporal_spans

    def intercept_client(
        self, next: hotmesh_temporal.client.OutboundInterceptor
    ) -> hotmesh_temporal.client.OutboundInterceptor:
        """Propagate context from client calls."""
        return _ClientOutbound(next, self._add_temporal_spans)

    def intercept_activity(
        self, next: hotmesh_temporal.worker.ActivityInboundInterceptor
    ) -> hotmesh_temporal.worker.ActivityInboundInterceptor:
        """Run activities under their caller's context."""
        return _ActivityInbound(next, self._add_temporal_spans)

    def workflow_interceptor_class(
        self, input: hotmesh_temporal.worker.WorkflowInterceptorClassInput
    ) -> type[_WorkflowInbound]:
        """The workflow side. ``ValueError`` (when the worker is built) unless the
        global tracer provider is a :class:`ReplaySafeTracerProvider`."""
        if not isinstance(opentelemetry.trace.get_tracer_provider(), ReplaySafeTracerProvider):
            raise ValueError(
                "OpenTelemetryInterceptor (OpenTelemetryPlugin) needs the global tracer "
                "provider to be a ReplaySafeTracerProvider: build one with "
                "create_tracer_provider() and pass it to "
                "opentelemetry.trace.set_tracer_provider() before creating the worker"
            )
        add_temporal_spans = self._add_temporal_spans

        class _Configured(_WorkflowInbound):
            _add_temporal_spans = add_temporal_spans

        return _Configured


class _ClientOutbound(hotmesh_temporal.client.OutboundInterceptor):
    def __init__(
        self, next: hotmesh_temporal.client.OutboundInterceptor, add_temporal_spans: bool
    ) -> None:
        super().__init__(next)
        self._add_temporal_spans = add_temporal_spans

    def _span(self, name: str, attributes: opentelemetry.util.types.Attributes) -> Any:
        return _maybe_span(
            self._add_temporal_spans, name, attributes=attributes, kind=SpanKind.CLIENT
        )

    async def start_workflow(self, input: hotmesh_temporal.client.StartWorkflowInput) -> Any:
        prefix = "SignalWithStartWorkflow" if input.start_signal else "StartWorkflow"
        with self._span(f"{prefix}:{input.workflow}", {"temporalWorkflowID": input.id}):
            input.headers = _with_context(input.headers)
            return await super().start_workflow(input)

    async def query_workflow(self, input: hotmesh_temporal.client.QueryWorkflowInput) -> Any:
        with self._span(f"QueryWorkflow:{input.query}", {"temporalWorkflowID": input.id}):
            input.headers = _with_context(input.headers)
            return await super().query_workflow(input)

    async def signal_workflow(self, input: hotmesh_temporal.client.SignalWorkflowInput) -> None:
        with self._span(f"SignalWorkflow:{input.signal}", {"temporalWorkflowID": input.id}):
            input.headers = _with_context(input.headers)
            await super().signal_workflow(input)

    async def start_workflow_update(
        self, input: hotmesh_temporal.client.StartWorkflowUpdateInput
    ) -> Any:
        with self._span(f"StartWorkflowUpdate:{input.update}", {"temporalWorkflowID": input.id}):
            input.headers = _with_context(input.headers)
            return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: hotmesh_temporal.client.StartWorkflowUpdateWithStartInput
    ) -> Any:
        start, update = input.start_workflow_input, input.update_workflow_input
        attributes = {"temporalWorkflowID": start.id}
        if update.update_id is not None:
            attributes["temporalUpdateID"] = update.update_id
        with self._span(f"StartUpdateWithStartWorkflow:{start.workflow}", attributes):
            start.headers = _with_context(start.headers)
            update.headers = _with_context(update.headers)
            return await super().start_update_with_start_workflow(input)

    async def start_activity(self, input: hotmesh_temporal.client.StartActivityInput) -> Any:
        attributes = {"temporalActivityID": input.id, "temporalActivityType": input.activity_type}
        with self._span(f"StartActivity:{input.activity_type}", attributes):
            input.headers = _with_context(input.headers)
            return await super().start_activity(input)


class _ActivityInbound(hotmesh_temporal.worker.ActivityInboundInterceptor):
    def __init__(
        self, next: hotmesh_temporal.worker.ActivityInboundInterceptor, add_temporal_spans: bool
    ) -> None:
        super().__init__(next)
        self._add_temporal_spans = add_temporal_spans

    async def execute_activity(self, input: hotmesh_temporal.worker.ExecuteActivityInput) -> Any:
        with _attached(_context_of(input.headers)):
            info = hotmesh_temporal.activity.info()
            attributes = {
                "temporalWorkflowID": info.workflow_id or "",
                "temporalRunID": info.workflow_run_id or "",
                "temporalActivityID": info.activity_id,
            }
            with _maybe_span(
                self._add_temporal_spans,
                f"RunActivity:{info.activity_type}",
                attributes=attributes,
                kind=SpanKind.SERVER,
            ):
                return await super().execute_activity(input)


class _WorkflowInbound(hotmesh_temporal.worker.WorkflowInboundInterceptor):
    """Runs each workflow entry point under the context its caller sent."""

    _add_temporal_spans: bool = False

    def init(self, outbound: hotmesh_temporal.worker.WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound, self._add_temporal_spans))

    @contextlib.contextmanager
    def _entry(self, headers: Mapping[str, Payload], name: str) -> Iterator[None]:
        info = hotmesh_temporal.workflow.info()
        with (
            _attached(_context_of(headers)),
            _maybe_span(
                self._add_temporal_spans,
                name,
                attributes={"temporalWorkflowID": info.workflow_id, "temporalRunID": info.run_id},
                kind=SpanKind.SERVER,
            ),
        ):
            yield

    async def execute_workflow(self, input: hotmesh_temporal.worker.ExecuteWorkflowInput) -> Any:
        name = f"RunWorkflow:{hotmesh_temporal.workflow.info().workflow_type}"
        with self._entry(input.headers, name):
            return await super().execute_workflow(input)

    async def handle_signal(self, input: hotmesh_temporal.worker.HandleSignalInput) -> None:
        with self._entry(input.headers, f"HandleSignal:{input.signal}"):
            await super().handle_signal(input)

    async def handle_query(self, input: hotmesh_temporal.worker.HandleQueryInput) -> Any:
        with self._entry(input.headers, f"HandleQuery:{input.query}"):
            return await super().handle_query(input)

    def handle_update_validator(self, input: hotmesh_temporal.worker.HandleUpdateInput) -> None:
        with self._entry(input.headers, f"ValidateUpdate:{input.update}"):
            super().handle_update_validator(input)

    async def handle_update_handler(self, input: hotmesh_temporal.worker.HandleUpdateInput) -> Any:
        with self._entry(input.headers, f"HandleUpdate:{input.update}"):
            return await super().handle_update_handler(input)


class _WorkflowOutbound(hotmesh_temporal.worker.WorkflowOutboundInterceptor):
    def __init__(
        self, next: hotmesh_temporal.worker.WorkflowOutboundInterceptor, add_temporal_spans: bool
    ) -> None:
        super().__init__(next)
        self._add_temporal_spans = add_temporal_spans

    def _span(self, name: str, kind: SpanKind) -> Any:
        info = hotmesh_temporal.workflow.info()
        return _maybe_span(
            self._add_temporal_spans,
            name,
            attributes={"temporalWorkflowID": info.workflow_id, "temporalRunID": info.run_id},
            kind=kind,
        )

    def continue_as_new(self, input: hotmesh_temporal.worker.ContinueAsNewInput) -> NoReturn:
        input.headers = _with_context(input.headers)
        super().continue_as_new(input)

    async def signal_child_workflow(
        self, input: hotmesh_temporal.worker.SignalChildWorkflowInput
    ) -> None:
        # SERVER, as temporalio marks it.
        with self._span(f"SignalChildWorkflow:{input.signal}", SpanKind.SERVER):
            input.headers = _with_context(input.headers)
            await super().signal_child_workflow(input)

    async def signal_external_workflow(
        self, input: hotmesh_temporal.worker.SignalExternalWorkflowInput
    ) -> None:
        with self._span(f"SignalExternalWorkflow:{input.signal}", SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            await super().signal_external_workflow(input)

    def start_activity(self, input: hotmesh_temporal.worker.StartActivityInput) -> Any:
        with self._span(f"StartActivity:{input.activity}", SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            return super().start_activity(input)

    async def start_child_workflow(
        self, input: hotmesh_temporal.worker.StartChildWorkflowInput
    ) -> Any:
        with self._span(f"StartChildWorkflow:{input.workflow}", SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            return await super().start_child_workflow(input)

    def start_local_activity(self, input: hotmesh_temporal.worker.StartLocalActivityInput) -> Any:
        with self._span(f"StartActivity:{input.activity}", SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            return super().start_local_activity(input)

    async def start_nexus_operation(
        self, input: hotmesh_temporal.worker.StartNexusOperationInput[Any, Any]
    ) -> Any:
        # Refused further down the chain (no Nexus endpoints); traced as temporalio does.
        with self._span(
            f"StartNexusOperation:{input.service}/{input.operation_name}", SpanKind.CLIENT
        ):
            input.headers = _with_nexus_context(input.headers or {})
            return await super().start_nexus_operation(input)
