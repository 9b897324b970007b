"""Spans made from workflow code, replay safe."""

from __future__ import annotations

import opentelemetry.util.types

from hotmesh_temporal.contrib.opentelemetry._interceptor import TracingWorkflowInboundInterceptor


def completed_span(
    name: str,
    *,
    attributes: opentelemetry.util.types.Attributes = None,
    exception: Exception | None = None,
) -> None:
    """Record a zero-length span named ``name`` under the workflow's span.

    Recorded only when the workflow is not replaying and the run has a parent span
    (a traced client started it), unless the TracingInterceptor was built with
    ``always_create_workflow_spans=True``. Workflow and run ids are added to
    ``attributes``; ``exception`` is recorded on the span.
    """
    interceptor = TracingWorkflowInboundInterceptor._from_context()
    if interceptor is not None:
        interceptor._completed_span(name, additional_attributes=attributes, exception=exception)
