"""OpenTelemetry tracing for clients, workflows and activities, as
``temporalio.contrib.opentelemetry`` does it.

Register one :class:`TracingInterceptor` on the client (workers built from that
client pick it up) and every call makes spans with temporalio's names and shape:
``StartWorkflow:X`` / ``SignalWorkflow:S`` / ``QueryWorkflow:Q`` on the client,
``RunWorkflow:X``, ``HandleSignal:S``, ``HandleQuery:Q``, ``StartActivity:Y``,
``StartChildWorkflow:C``, ``CompleteWorkflow:X`` in the workflow (each a zero-length
span, replay safe) and ``RunActivity:Y`` around an activity attempt. The span context
travels in the ``_tracer-data`` header, so traces join those of temporalio processes.

``HMSH_TELEMETRY=true`` adds a TracingInterceptor to every client without code
changes (when opentelemetry is installed).
"""

from hotmesh_temporal.contrib.opentelemetry._interceptor import (
    TracingInterceptor,
    TracingWorkflowInboundInterceptor,
    default_text_map_propagator,
)

__all__ = [
    "TracingInterceptor",
    "TracingWorkflowInboundInterceptor",
    "default_text_map_propagator",
]
