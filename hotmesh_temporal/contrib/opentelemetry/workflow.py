"""Spans made from workflow code, replay safe."""

from __future__ import annotations

import warnings

import opentelemetry.trace
import opentelemetry.util.types

from hotmesh_temporal.contrib.opentelemetry._interceptor import TracingWorkflowInboundInterceptor


def completed_span(
    name: str,
    *,
    attributes: opentelemetry.util.types.Attributes = None,
    exception: Exception | None = None,
) -> None:
    """Record a zero-length span named ``name`` under the workflow's span.

    With :class:`TracingInterceptor`: recorded only when the workflow is not
    replaying and the run has a parent span (a traced client started it), unless the
    interceptor was built with ``always_create_workflow_spans=True``. Workflow and run
    ids are added to ``attributes``; ``exception`` is recorded on the span.

    Without it (with :class:`OpenTelemetryPlugin`, say) the span is made with the
    global tracer, and a ``DeprecationWarning`` says to use OpenTelemetry directly.
    """
    interceptor = TracingWorkflowInboundInterceptor._from_context()
    if interceptor is not None:
        interceptor._completed_span(name, additional_attributes=attributes, exception=exception)
        return
    warnings.warn(
        "Without TracingInterceptor (with OpenTelemetryPlugin, for instance), make spans "
        "with opentelemetry.trace.get_tracer() directly",
        DeprecationWarning,
        stacklevel=2,
    )
    span = opentelemetry.trace.get_tracer(__name__).start_span(name, attributes=attributes)
    if exception is not None:
        span.record_exception(exception)
    span.end()
