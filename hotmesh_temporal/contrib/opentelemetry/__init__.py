"""OpenTelemetry for clients, workflows and activities, as
``temporalio.contrib.opentelemetry`` has it. Two ways:

* :class:`OpenTelemetryPlugin` (with :func:`create_tracer_provider` as the global
  tracer provider): span context travels with every call, and workflow code uses
  OpenTelemetry directly; its spans have real durations and are exported once,
  however often the workflow is replayed. ``add_temporal_spans=True`` adds spans
  for the calls themselves (see :class:`OpenTelemetryInterceptor`).
* :class:`TracingInterceptor` on the client (workers built from that client pick it
  up): every call makes spans with temporalio's names and shape:
  ``StartWorkflow:X`` / ``SignalWorkflow:S`` / ``QueryWorkflow:Q`` on the client,
  ``RunWorkflow:X``, ``HandleSignal:S``, ``HandleQuery:Q``, ``StartActivity:Y``,
  ``StartChildWorkflow:C``, ``CompleteWorkflow:X`` in the workflow (each a
  zero-length span, replay safe) and ``RunActivity:Y`` around an activity attempt.

Either way the span context travels in the ``_tracer-data`` header, so traces join
those of temporalio processes. Replay-safe wrappers of the global providers
(:class:`ReplaySafeTracerProvider`, :class:`ReplaySafeMeterProvider`,
:class:`ReplaySafeLoggerProvider`) keep libraries that record telemetry from
workflow code from recording it again on every replay. :class:`MetricsExporter`
sends a runtime's metrics (``MetricBuffer``) to an OpenTelemetry meter provider.

``HMSH_TELEMETRY=true`` adds a TracingInterceptor to every client without code
changes (when opentelemetry is installed).
"""

from hotmesh_temporal.contrib.opentelemetry._interceptor import (
    TracingInterceptor,
    TracingWorkflowInboundInterceptor,
    default_text_map_propagator,
)
from hotmesh_temporal.contrib.opentelemetry._logger_provider import ReplaySafeLoggerProvider
from hotmesh_temporal.contrib.opentelemetry._meter_provider import ReplaySafeMeterProvider
from hotmesh_temporal.contrib.opentelemetry._metrics_exporter import MetricsExporter
from hotmesh_temporal.contrib.opentelemetry._otel_interceptor import OpenTelemetryInterceptor
from hotmesh_temporal.contrib.opentelemetry._plugin import OpenTelemetryPlugin
from hotmesh_temporal.contrib.opentelemetry._tracer_provider import (
    ReplaySafeTracerProvider,
    create_tracer_provider,
)

__all__ = [
    "TracingInterceptor",
    "TracingWorkflowInboundInterceptor",
    "OpenTelemetryInterceptor",
    "OpenTelemetryPlugin",
    "MetricsExporter",
    "ReplaySafeLoggerProvider",
    "ReplaySafeMeterProvider",
    "ReplaySafeTracerProvider",
    "create_tracer_provider",
    "default_text_map_propagator",
]
