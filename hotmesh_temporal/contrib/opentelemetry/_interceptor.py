"""The tracing interceptors (see the package docstring)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import opentelemetry.baggage.propagation
import opentelemetry.context
import opentelemetry.propagators.composite
import opentelemetry.propagators.textmap
import opentelemetry.trace
import opentelemetry.trace.propagation.tracecontext
import opentelemetry.util.types
from opentelemetry.trace import SpanKind, Status, StatusCode

import hotmesh_temporal.activity
import hotmesh_temporal.client
import hotmesh_temporal.converter
import hotmesh_temporal.exceptions
import hotmesh_temporal.worker
import hotmesh_temporal.workflow
from hotmesh_temporal.api.common.v1 import Payload

_Carrier = dict  # what a text map propagator writes: header name -> value

default_text_map_propagator = opentelemetry.propagators.composite.CompositePropagator(
    [
        opentelemetry.trace.propagation.tracecontext.TraceContextTextMapPropagator(),
        opentelemetry.baggage.propagation.W3CBaggagePropagator(),
    ]
)
"""W3C trace context and baggage: what temporalio propagates by default."""

_HEADER_KEY = "_tracer-data"  # temporalio's header, so traces cross SDKs
_COMPLETED_SPAN_EXTERN = "__temporal_opentelemetry_completed_span"


@contextlib.contextmanager
def _attached(context: opentelemetry.context.Context | None) -> Iterator[None]:
    """Make ``context`` current for the block (nothing when None). The detach is
    skipped when the block ends in another contextvars context (an abandoned
    workflow coroutine finalized elsewhere), where the token is not valid."""
    if context is None:
        yield
        return
    token = opentelemetry.context.attach(context)
    try:
        yield
    finally:
        if opentelemetry.context.get_current() is context:
            with contextlib.suppress(ValueError):
                token.var.reset(token)


def _is_benign(err: BaseException) -> bool:
    return (
        isinstance(err, hotmesh_temporal.exceptions.ApplicationError)
        and err.category == hotmesh_temporal.exceptions.ApplicationErrorCategory.BENIGN
    )


class _HeaderCodec:
    """Reads and writes a span context in a header map (``header_key``)."""

    header_key: str
    text_map_propagator: opentelemetry.propagators.textmap.TextMapPropagator
    payload_converter: Any

    def _carrier_to_headers(
        self, carrier: _Carrier, headers: Mapping[str, Payload]
    ) -> Mapping[str, Payload]:
        if not carrier:
            return headers
        return {**headers, self.header_key: self.payload_converter.to_payloads([carrier])[0]}

    def _context_to_headers(self, headers: Mapping[str, Payload]) -> Mapping[str, Payload]:
        carrier: _Carrier = {}
        self.text_map_propagator.inject(carrier)
        return self._carrier_to_headers(carrier, headers)

    def _carrier_from_headers(self, headers: Mapping[str, Payload]) -> _Carrier | None:
        payload = (headers or {}).get(self.header_key)
        if not payload:
            return None
        return self.payload_converter.from_payloads([payload])[0] or None

    def _context_from_headers(
        self, headers: Mapping[str, Payload]
    ) -> opentelemetry.context.Context | None:
        carrier = self._carrier_from_headers(headers)
        return None if carrier is None else self.text_map_propagator.extract(carrier)


@dataclass(frozen=True)
class _CompletedWorkflowSpanParams:
    """What workflow code asks the worker side to record (see ``_completed_span``)."""

    context: _Carrier
    name: str
    attributes: opentelemetry.util.types.Attributes
    time_ns: int
    link_context: _Carrier | None
    exception: Exception | None
    kind: SpanKind
    parent_missing: bool


class TracingInterceptor(
    _HeaderCodec, hotmesh_temporal.client.Interceptor, hotmesh_temporal.worker.Interceptor
):
    """Client and worker interceptor making OpenTelemetry spans and carrying their
    context in headers.

    Give it to ``Client.connect(interceptors=[...])`` (workers of that client use it
    too) or only to a ``Worker``. To change ``header_key``, ``text_map_propagator`` or
    ``payload_converter``, subclass both this class and
    :class:`TracingWorkflowInboundInterceptor` (returned by
    ``workflow_interceptor_class``) and set them in both.
    """

    def __init__(
        self,
        tracer: opentelemetry.trace.Tracer | None = None,
        *,
        always_create_workflow_spans: bool = False,
    ) -> None:
        """``tracer`` defaults to this module's tracer from the global provider.
        Workflow spans are made only when a client span is their parent, unless
        ``always_create_workflow_spans`` is True (then a run started without one, by a
        schedule for instance, gets root spans that replay cannot re-parent)."""
        self.tracer = tracer or opentelemetry.trace.get_tracer(__name__)
        self.header_key = _HEADER_KEY
        self.text_map_propagator = default_text_map_propagator
        self.payload_converter = hotmesh_temporal.converter.PayloadConverter.default
        self._always_create_workflow_spans = always_create_workflow_spans

    def intercept_client(
        self, next: hotmesh_temporal.client.OutboundInterceptor
    ) -> hotmesh_temporal.client.OutboundInterceptor:
        return _TracingClientOutboundInterceptor(next, self)

    def intercept_activity(
        self, next: hotmesh_temporal.worker.ActivityInboundInterceptor
    ) -> hotmesh_temporal.worker.ActivityInboundInterceptor:
        return _TracingActivityInboundInterceptor(next, self)

    def workflow_interceptor_class(
        self, input: hotmesh_temporal.worker.WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        # Workflow code reaches the tracer through this extern function.
        input.unsafe_extern_functions.update(
            {_COMPLETED_SPAN_EXTERN: self._completed_workflow_span}
        )
        return TracingWorkflowInboundInterceptor

    @contextlib.contextmanager
    def _start_as_current_span(
        self,
        name: str,
        *,
        attributes: opentelemetry.util.types.Attributes,
        kind: SpanKind,
        input_with_headers: Any = None,
        context: opentelemetry.context.Context | None = None,
    ) -> Iterator[None]:
        """A span around the block; its context goes into the Input's headers. An
        error other than a benign ApplicationError marks the span failed."""
        with (
            _attached(context),
            self.tracer.start_as_current_span(
                name,
                attributes=attributes,
                kind=kind,
                context=context,
                set_status_on_exception=False,
            ) as span,
        ):
            if input_with_headers is not None:
                input_with_headers.headers = self._context_to_headers(input_with_headers.headers)
            try:
                yield
            except Exception as err:
                if not _is_benign(err):
                    span.set_status(Status(StatusCode.ERROR, f"{type(err).__name__}: {err}"))
                raise

    def _completed_workflow_span(self, params: _CompletedWorkflowSpanParams) -> _Carrier | None:
        """Record a zero-length span for workflow code; return the carrier of the
        context with that span current (for the outbound call's headers)."""
        if params.parent_missing and not self._always_create_workflow_spans:
            return None
        context = self.text_map_propagator.extract(params.context)
        links: Sequence[opentelemetry.trace.Link] = []
        if params.link_context:
            linked = opentelemetry.trace.get_current_span(
                self.text_map_propagator.extract(params.link_context)
            )
            if linked is not opentelemetry.trace.INVALID_SPAN:
                links = [opentelemetry.trace.Link(linked.get_span_context())]
        # Started and ended at once: a span left open across activations would not
        # survive a replay on another worker.
        span = self.tracer.start_span(
            params.name,
            context,
            attributes=params.attributes,
            links=links,
            start_time=params.time_ns,
            kind=params.kind,
        )
        if params.exception is not None:
            span.record_exception(params.exception)
        span.end(end_time=params.time_ns)
        carrier: _Carrier = {}
        self.text_map_propagator.inject(
            carrier, opentelemetry.trace.set_span_in_context(span, context)
        )
        return carrier


class _TracingClientOutboundInterceptor(hotmesh_temporal.client.OutboundInterceptor):
    def __init__(
        self, next: hotmesh_temporal.client.OutboundInterceptor, root: TracingInterceptor
    ) -> None:
        super().__init__(next)
        self.root = root

    def _span(self, name: str, input: Any, workflow_id: str) -> Any:
        return self.root._start_as_current_span(
            name,
            attributes={"temporalWorkflowID": workflow_id},
            input_with_headers=input,
            kind=SpanKind.CLIENT,
        )

    async def start_workflow(self, input: hotmesh_temporal.client.StartWorkflowInput) -> Any:
        prefix = "SignalWithStartWorkflow" if input.start_signal else "StartWorkflow"
        with self._span(f"{prefix}:{input.workflow}", input, input.id):
            return await super().start_workflow(input)

    async def query_workflow(self, input: hotmesh_temporal.client.QueryWorkflowInput) -> Any:
        with self._span(f"QueryWorkflow:{input.query}", input, input.id):
            return await super().query_workflow(input)

    async def signal_workflow(self, input: hotmesh_temporal.client.SignalWorkflowInput) -> None:
        with self._span(f"SignalWorkflow:{input.signal}", input, input.id):
            await super().signal_workflow(input)

    async def start_workflow_update(
        self, input: hotmesh_temporal.client.StartWorkflowUpdateInput
    ) -> Any:
        with self._span(f"StartWorkflowUpdate:{input.update}", input, input.id):
            return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: hotmesh_temporal.client.StartWorkflowUpdateWithStartInput
    ) -> Any:
        start, update = input.start_workflow_input, input.update_workflow_input
        attributes = {"temporalWorkflowID": start.id}
        if update.update_id is not None:
            attributes["temporalUpdateID"] = update.update_id
        with self.root._start_as_current_span(
            f"StartUpdateWithStartWorkflow:{start.workflow}",
            attributes=attributes,
            input_with_headers=start,
            kind=SpanKind.CLIENT,
        ):
            # The update carries the same span context as the start.
            header = start.headers.get(self.root.header_key)
            if header:
                update.headers = {**update.headers, self.root.header_key: header}
            return await super().start_update_with_start_workflow(input)

    async def start_activity(self, input: hotmesh_temporal.client.StartActivityInput) -> Any:
        with self.root._start_as_current_span(
            f"StartActivity:{input.activity_type}",
            attributes={
                "temporalActivityID": input.id,
                "temporalActivityType": input.activity_type,
            },
            input_with_headers=input,
            kind=SpanKind.CLIENT,
        ):
            return await super().start_activity(input)


class _TracingActivityInboundInterceptor(hotmesh_temporal.worker.ActivityInboundInterceptor):
    def __init__(
        self, next: hotmesh_temporal.worker.ActivityInboundInterceptor, root: TracingInterceptor
    ) -> None:
        super().__init__(next)
        self.root = root

    async def execute_activity(self, input: hotmesh_temporal.worker.ExecuteActivityInput) -> Any:
        info = hotmesh_temporal.activity.info()
        attributes = {"temporalActivityID": info.activity_id}
        if info.workflow_id:
            attributes["temporalWorkflowID"] = info.workflow_id
        if info.workflow_run_id:
            attributes["temporalRunID"] = info.workflow_run_id
        with self.root._start_as_current_span(
            f"RunActivity:{info.activity_type}",
            attributes=attributes,
            kind=SpanKind.SERVER,
            context=self.root._context_from_headers(input.headers),
        ):
            return await super().execute_activity(input)


_interceptor_context_key = opentelemetry.context.create_key(
    "__temporal_opentelemetry_workflow_interceptor"
)


class TracingWorkflowInboundInterceptor(
    _HeaderCodec, hotmesh_temporal.worker.WorkflowInboundInterceptor
):
    """The workflow side of :class:`TracingInterceptor`: zero-length spans for the
    run, its handlers and its outbound calls, made only when not replaying (queries
    excepted) and parented on the client's span from the run's header."""

    @staticmethod
    def _from_context() -> TracingWorkflowInboundInterceptor | None:
        found = opentelemetry.context.get_value(_interceptor_context_key)
        return found if isinstance(found, TracingWorkflowInboundInterceptor) else None

    def __init__(self, next: hotmesh_temporal.worker.WorkflowInboundInterceptor) -> None:
        super().__init__(next)
        self._extern_functions = hotmesh_temporal.workflow.extern_functions()
        self.header_key = _HEADER_KEY
        self.text_map_propagator = default_text_map_propagator
        self.payload_converter = hotmesh_temporal.converter.PayloadConverter.default
        self._workflow_context_carrier: _Carrier | None = None

    def init(self, outbound: hotmesh_temporal.worker.WorkflowOutboundInterceptor) -> None:
        super().init(_TracingWorkflowOutboundInterceptor(outbound, self))

    async def execute_workflow(self, input: hotmesh_temporal.worker.ExecuteWorkflowInput) -> Any:
        with self._top_level_workflow_context(success_is_complete=True):
            self._completed_span(
                f"RunWorkflow:{hotmesh_temporal.workflow.info().workflow_type}",
                kind=SpanKind.SERVER,
            )
            return await super().execute_workflow(input)

    async def handle_signal(self, input: hotmesh_temporal.worker.HandleSignalInput) -> None:
        with self._top_level_workflow_context(success_is_complete=False):
            self._completed_span(
                f"HandleSignal:{input.signal}",
                kind=SpanKind.SERVER,
                link_context_carrier=self._carrier_from_headers(input.headers),
            )
            await super().handle_signal(input)

    async def handle_query(self, input: hotmesh_temporal.worker.HandleQueryInput) -> Any:
        # Traced only when the query carries a span context, which becomes the parent;
        # the run's span is linked. Nothing a query does joins the run's trace.
        carrier = self._carrier_from_headers(input.headers)
        if carrier is not None:
            context = self.text_map_propagator.extract(carrier)
            link = self._load_workflow_context_carrier()
        else:
            context, link = opentelemetry.context.Context(), None
        with _attached(self._set_on_context(context)):
            self._completed_span(
                f"HandleQuery:{input.query}",
                kind=SpanKind.SERVER,
                link_context_carrier=link,
                new_span_even_on_replay=True,
            )
            return await super().handle_query(input)

    def handle_update_validator(self, input: hotmesh_temporal.worker.HandleUpdateInput) -> None:
        with self._top_level_workflow_context(success_is_complete=False):
            self._completed_span(
                f"ValidateUpdate:{input.update}",
                kind=SpanKind.SERVER,
                link_context_carrier=self._carrier_from_headers(input.headers),
            )
            super().handle_update_validator(input)

    async def handle_update_handler(self, input: hotmesh_temporal.worker.HandleUpdateInput) -> Any:
        with self._top_level_workflow_context(success_is_complete=False):
            self._completed_span(
                f"HandleUpdate:{input.update}",
                kind=SpanKind.SERVER,
                link_context_carrier=self._carrier_from_headers(input.headers),
            )
            return await super().handle_update_handler(input)

    def _load_workflow_context_carrier(self) -> _Carrier | None:
        if self._workflow_context_carrier is None:
            self._workflow_context_carrier = self._carrier_from_headers(
                hotmesh_temporal.workflow.info().headers
            )
        return self._workflow_context_carrier

    @contextlib.contextmanager
    def _top_level_workflow_context(self, *, success_is_complete: bool) -> Iterator[None]:
        """Run the block under the run's span context (from its start header); a
        ``CompleteWorkflow:X`` span records the run's end (or its failure)."""
        carrier = self._load_workflow_context_carrier()
        context = (
            self.text_map_propagator.extract(carrier)
            if carrier
            else opentelemetry.context.Context()
        )
        failure: Exception | None = None
        succeeded = False
        with _attached(self._set_on_context(context)):
            try:
                yield
                succeeded = True
            except hotmesh_temporal.exceptions.FailureError as err:
                failure = err  # only these fail the workflow; others retry the task
                raise
            finally:
                if failure is not None or (succeeded and success_is_complete):
                    self._completed_span(
                        f"CompleteWorkflow:{hotmesh_temporal.workflow.info().workflow_type}",
                        exception=failure,
                        kind=SpanKind.INTERNAL,
                    )

    def _completed_span(
        self,
        span_name: str,
        *,
        link_context_carrier: _Carrier | None = None,
        add_to_outbound: Any = None,
        new_span_even_on_replay: bool = False,
        additional_attributes: opentelemetry.util.types.Attributes = None,
        exception: Exception | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> None:
        """Have the worker record a zero-length span under the current context and,
        for an outbound call, put the new span's context in its headers."""
        if hotmesh_temporal.workflow.unsafe.is_replaying() and not new_span_even_on_replay:
            return
        carrier: _Carrier = {}
        self.text_map_propagator.inject(carrier)
        info = hotmesh_temporal.workflow.info()
        attributes: dict = {"temporalWorkflowID": info.workflow_id, "temporalRunID": info.run_id}
        attributes.update(additional_attributes or {})
        record = cast(
            Callable[[_CompletedWorkflowSpanParams], _Carrier | None],
            self._extern_functions[_COMPLETED_SPAN_EXTERN],
        )
        updated = record(
            _CompletedWorkflowSpanParams(
                context=carrier,
                name=span_name,
                attributes=attributes,
                time_ns=hotmesh_temporal.workflow.time_ns(),
                link_context=link_context_carrier,
                exception=exception,
                kind=kind,
                parent_missing=opentelemetry.trace.get_current_span()
                is opentelemetry.trace.INVALID_SPAN,
            )
        )
        if updated and add_to_outbound is not None:
            add_to_outbound.headers = self._carrier_to_headers(updated, add_to_outbound.headers)

    def _set_on_context(
        self, context: opentelemetry.context.Context
    ) -> opentelemetry.context.Context:
        return opentelemetry.context.set_value(_interceptor_context_key, self, context)


class _TracingWorkflowOutboundInterceptor(hotmesh_temporal.worker.WorkflowOutboundInterceptor):
    def __init__(
        self,
        next: hotmesh_temporal.worker.WorkflowOutboundInterceptor,
        root: TracingWorkflowInboundInterceptor,
    ) -> None:
        super().__init__(next)
        self.root = root

    def continue_as_new(self, input: hotmesh_temporal.worker.ContinueAsNewInput) -> NoReturn:
        input.headers = self.root._context_to_headers(input.headers)  # the next run joins the trace
        super().continue_as_new(input)

    async def signal_child_workflow(
        self, input: hotmesh_temporal.worker.SignalChildWorkflowInput
    ) -> None:
        self.root._completed_span(
            f"SignalChildWorkflow:{input.signal}", add_to_outbound=input, kind=SpanKind.SERVER
        )
        await super().signal_child_workflow(input)

    async def signal_external_workflow(
        self, input: hotmesh_temporal.worker.SignalExternalWorkflowInput
    ) -> None:
        self.root._completed_span(
            f"SignalExternalWorkflow:{input.signal}", add_to_outbound=input, kind=SpanKind.CLIENT
        )
        await super().signal_external_workflow(input)

    def start_activity(self, input: hotmesh_temporal.worker.StartActivityInput) -> Any:
        self.root._completed_span(
            f"StartActivity:{input.activity}", add_to_outbound=input, kind=SpanKind.CLIENT
        )
        return super().start_activity(input)

    def start_local_activity(self, input: hotmesh_temporal.worker.StartLocalActivityInput) -> Any:
        self.root._completed_span(
            f"StartActivity:{input.activity}", add_to_outbound=input, kind=SpanKind.CLIENT
        )
        return super().start_local_activity(input)

    async def start_child_workflow(
        self, input: hotmesh_temporal.worker.StartChildWorkflowInput
    ) -> Any:
        self.root._completed_span(
            f"StartChildWorkflow:{input.workflow}", add_to_outbound=input, kind=SpanKind.CLIENT
        )
        return await super().start_child_workflow(input)
