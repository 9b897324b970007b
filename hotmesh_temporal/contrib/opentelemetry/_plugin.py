"""``OpenTelemetryPlugin``: the OpenTelemetryInterceptor as a client and worker plugin."""

from __future__ import annotations

import dataclasses

from hotmesh_temporal.contrib.opentelemetry._otel_interceptor import OpenTelemetryInterceptor
from hotmesh_temporal.plugin import SimplePlugin
from hotmesh_temporal.worker import WorkflowRunner
from hotmesh_temporal.worker.workflow_sandbox import SandboxedWorkflowRunner


def _passing_opentelemetry_through(runner: WorkflowRunner | None) -> WorkflowRunner:
    if runner is None:
        raise ValueError("No WorkflowRunner provided to the OpenTelemetry plugin.")
    if isinstance(runner, SandboxedWorkflowRunner):
        restrictions = runner.restrictions.with_passthrough_modules("opentelemetry")
        return dataclasses.replace(runner, restrictions=restrictions)
    return runner


class OpenTelemetryPlugin(SimplePlugin):
    """Registers an :class:`OpenTelemetryInterceptor` on the client and its workers
    (give the plugin to ``Client.connect(plugins=[...])``; workers of that client
    pick it up), and passes ``opentelemetry`` through the workflow sandbox.

    Workflow code may then use ``opentelemetry.trace.get_tracer(...)`` directly: its
    spans join the trace of whoever started the workflow and have real durations.
    Set a provider from :func:`create_tracer_provider` as the global tracer provider
    first; building a worker without one raises ``ValueError``.
    """

    def __init__(self, *, add_temporal_spans: bool = False):
        """``add_temporal_spans``: also add the interceptor's own spans
        (``StartWorkflow:X``, ``RunWorkflow:X``, ``RunActivity:A``...)."""
        super().__init__(
            "OpenTelemetryPlugin",
            interceptors=[OpenTelemetryInterceptor(add_temporal_spans)],
            workflow_runner=_passing_opentelemetry_through,
        )
