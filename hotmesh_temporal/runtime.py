"""Telemetry runtime with ``temporalio.runtime``'s API.

Temporal's runtime is its Rust core's thread pool plus logging and metrics export.
There is no Rust core here, so:

* metrics are real: the runtime's :attr:`Runtime.metric_meter` (and the workers of
  clients connected with ``runtime=...``, or of the default runtime, with the
  ``activity.metric_meter()`` / ``workflow.metric_meter()`` of the code they run)
  record into an in-process registry. :class:`PrometheusConfig` serves it over HTTP at
  ``bind_address`` (``GET /metrics``, Prometheus text format) from a daemon thread;
  :class:`MetricBuffer` hands the updates to ``retrieve_updates()``. Worker metrics:
  ``workflow_task_execution_latency`` / ``workflow_task_execution_failed`` and
  ``activity_execution_latency`` / ``activity_execution_failed`` (see
  ``hotmesh_temporal/_engine/metrics.py``).
* :class:`OpenTelemetryConfig` is accepted, but nothing is exported to a collector
  (a warning is logged); use Prometheus, or your own OpenTelemetry meter around
  ``Runtime.metric_meter``.
* :class:`LoggingConfig` and :class:`LogForwardingConfig` are accepted: this package
  logs through Python's ``logging`` directly (loggers ``hotmesh_temporal.*``), so
  there are no core logs to filter or forward.
* ``worker_heartbeat_interval`` and ``disable_environment_info`` are accepted and
  have no effect (there are no worker heartbeats to a server).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, NewType, Protocol

import hotmesh_temporal.common
from hotmesh_temporal._engine.observability.metrics import (
    NO_METRICS,
    ClientMetrics,
    Registry,
    WorkerMetrics,
)

logger = logging.getLogger("hotmesh_temporal.runtime")


class _DefaultRuntime:
    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.prevented = False
        self.lock = threading.Lock()


_default = _DefaultRuntime()


class Runtime:
    """Telemetry settings shared by clients and workers (``Client.connect(runtime=)``);
    most programs use :meth:`default`."""

    @classmethod
    def default(cls) -> Runtime:
        """The default runtime, created on first use unless :meth:`prevent_default`
        was called (then ``RuntimeError``)."""
        with _default.lock:
            if _default.runtime is None:
                if _default.prevented:
                    raise RuntimeError(
                        "Cannot create default Runtime after Runtime.prevent_default "
                        "has been called"
                    )
                _default.runtime = Runtime(telemetry=TelemetryConfig())
            return _default.runtime

    @classmethod
    def prevent_default(cls) -> None:
        """Make :meth:`default` raise instead of creating a runtime."""
        with _default.lock:
            if _default.runtime is not None:
                raise RuntimeError(
                    "Runtime.prevent_default called after default runtime has been created or set"
                )
            _default.prevented = True

    @staticmethod
    def set_default(runtime: Runtime, *, error_if_already_set: bool = True) -> None:
        """Make ``runtime`` the default (``RuntimeError`` if one is set and
        ``error_if_already_set``)."""
        with _default.lock:
            if _default.runtime is not None and error_if_already_set:
                raise RuntimeError("Runtime default already set")
            _default.runtime = runtime

    def __init__(
        self,
        *,
        telemetry: TelemetryConfig,
        worker_heartbeat_interval: timedelta | None = timedelta(seconds=60),
        disable_environment_info: bool = False,
    ) -> None:
        if worker_heartbeat_interval is not None and worker_heartbeat_interval <= timedelta(0):
            raise ValueError("worker_heartbeat_interval must be positive")
        self._telemetry = telemetry
        self._registry: Registry | None = None
        self._server: ThreadingHTTPServer | None = None
        metrics = telemetry.metrics
        if metrics is None:
            self._metric_meter = hotmesh_temporal.common.MetricMeter.noop
            return
        self._registry = _registry_for(telemetry, self._metric_prefix)
        tags = {"service_name": "temporal-core-sdk"} if telemetry.attach_service_name else {}
        self._metric_meter = hotmesh_temporal.common._CallbackMetricMeter(self._registry.sink, tags)
        if isinstance(metrics, PrometheusConfig):
            self._server = _serve_prometheus(metrics, self._registry)
        elif isinstance(metrics, MetricBuffer):
            metrics._runtime = self
        elif isinstance(metrics, OpenTelemetryConfig):
            logger.warning(
                "OpenTelemetryConfig: metrics are recorded but not exported to %s "
                "(OpenTelemetry export is not supported; use PrometheusConfig)",
                metrics.url,
            )

    @property
    def metric_meter(self) -> hotmesh_temporal.common.MetricMeter:
        """Records into this runtime's metrics (a no-op meter without metrics)."""
        return self._metric_meter

    @property
    def _metric_prefix(self) -> str:
        prefix = self._telemetry.metric_prefix
        return "temporal_" if prefix is None else prefix

    @property
    def _prometheus_address(self) -> tuple | None:
        """(host, port) the Prometheus endpoint listens on (port 0 resolved)."""
        return None if self._server is None else self._server.server_address[:2]


# ---------------------------------------------------------------------- logging


@dataclass
class TelemetryFilter:
    """Log levels for the core (``core_level``) and everything else (``other_level``):
    ``ERROR``, ``WARN``, ``INFO``, ``DEBUG`` or ``TRACE``."""

    core_level: str
    other_level: str

    def formatted(self) -> str:
        """The filter as an ``env_logger``-style directive string."""
        targets = ("temporalio_common", "temporalio_sdk_core", "temporalio_client",
                   "temporalio_sdk", "temporal_sdk_bridge")  # fmt: skip
        return ",".join([self.other_level, *(f"{t}={self.core_level}" for t in targets)])


class LoggingFormat(Enum):
    """How core logs are printed (accepted; there are no core logs here)."""

    COMPACT = "compact"
    PRETTY = "pretty"
    JSON = "json"


@dataclass
class LogForwardingConfig:
    """Forward core logs to ``logger`` (accepted; this package logs to Python
    ``logging`` directly)."""

    logger: logging.Logger
    append_target_to_name: bool = True
    prepend_target_on_message: bool = True
    overwrite_log_record_time: bool = True
    append_log_fields_to_message: bool = True


@dataclass(frozen=True)
class LoggingConfig:
    """Core log settings (accepted; see the module docs)."""

    filter: TelemetryFilter | str
    forwarding: LogForwardingConfig | None = None
    format: LoggingFormat | None = None

    default: ClassVar[LoggingConfig]


LoggingConfig.default = LoggingConfig(
    filter=TelemetryFilter(core_level="WARN", other_level="ERROR")
)


# ---------------------------------------------------------------------- metrics


class OpenTelemetryMetricTemporality(Enum):
    CUMULATIVE = 1
    DELTA = 2


@dataclass(frozen=True)
class OpenTelemetryConfig:
    """OpenTelemetry collector settings: accepted, not exported (see module docs)."""

    url: str
    headers: Mapping[str, str] | None = None
    metric_periodicity: timedelta | None = None
    metric_temporality: OpenTelemetryMetricTemporality = OpenTelemetryMetricTemporality.CUMULATIVE
    durations_as_seconds: bool = False
    http: bool = False
    histogram_bucket_overrides: Mapping[str, Sequence[float]] | None = None


@dataclass(frozen=True)
class PrometheusConfig:
    """Serve metrics for Prometheus to scrape at ``bind_address`` (``host:port``;
    port 0 picks a free port)."""

    bind_address: str
    counters_total_suffix: bool = False
    unit_suffix: bool = False
    durations_as_seconds: bool = False
    histogram_bucket_overrides: Mapping[str, Sequence[float]] | None = None


class MetricBufferDurationFormat(Enum):
    MILLISECONDS = 1
    SECONDS = 2


class MetricBuffer:
    """Keeps metric updates until :meth:`retrieve_updates` drains them (at most
    ``buffer_size``; later updates are dropped until it is drained)."""

    def __init__(
        self,
        buffer_size: int,
        duration_format: MetricBufferDurationFormat = MetricBufferDurationFormat.MILLISECONDS,
    ) -> None:
        self._buffer_size = buffer_size
        self._durations_as_seconds = duration_format == MetricBufferDurationFormat.SECONDS
        self._runtime: Runtime | None = None

    def retrieve_updates(self) -> Sequence[BufferedMetricUpdate]:
        """The updates recorded since the last call."""
        if self._runtime is None or self._runtime._registry is None:
            raise RuntimeError("Attempting to retrieve updates before runtime created")
        return self._runtime._registry.drain()


@dataclass(frozen=True)
class TelemetryConfig:
    """Logging and metrics settings of a :class:`Runtime`."""

    logging: LoggingConfig | None = LoggingConfig.default
    metrics: OpenTelemetryConfig | PrometheusConfig | MetricBuffer | None = None
    global_tags: Mapping[str, str] = field(default_factory=dict)
    attach_service_name: bool = True
    metric_prefix: str | None = None


BufferedMetricKind = NewType("BufferedMetricKind", int)
BUFFERED_METRIC_KIND_COUNTER = BufferedMetricKind(0)
BUFFERED_METRIC_KIND_GAUGE = BufferedMetricKind(1)
BUFFERED_METRIC_KIND_HISTOGRAM = BufferedMetricKind(2)


class BufferedMetric(Protocol):
    """The metric a buffered update belongs to."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    @property
    def unit(self) -> str | None: ...

    @property
    def kind(self) -> BufferedMetricKind: ...


class BufferedMetricUpdate(Protocol):
    """One update: a counter's delta, or a gauge's / histogram's value."""

    @property
    def metric(self) -> BufferedMetric: ...

    @property
    def value(self) -> int | float: ...

    @property
    def attributes(self) -> hotmesh_temporal.common.MetricAttributes: ...


def _registry_for(telemetry: TelemetryConfig, prefix: str) -> Registry:
    """Buffered updates carry no global tags (they are resource tags in Temporal)."""
    metrics: Any = telemetry.metrics
    if isinstance(metrics, MetricBuffer):
        return Registry(
            durations_as_seconds=metrics._durations_as_seconds,
            buffer_size=metrics._buffer_size,
            metric_prefix=prefix,
        )
    return Registry(
        global_tags=telemetry.global_tags,
        histogram_buckets=metrics.histogram_bucket_overrides,
        durations_as_seconds=metrics.durations_as_seconds,
        metric_prefix=prefix,
    )


# ------------------------------------------------------------------- prometheus


def _serve_prometheus(config: PrometheusConfig, registry: Registry) -> ThreadingHTTPServer:
    host, _, port = config.bind_address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            f"PrometheusConfig.bind_address must be host:port, got {config.bind_address!r}"
        )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = registry.prometheus_text(
                counters_total_suffix=config.counters_total_suffix, unit_suffix=config.unit_suffix
            )
            data = body.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("prometheus endpoint: " + format, *args)

    server = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hotmesh prometheus", daemon=True)
    thread.start()
    return server


def _client_metrics(runtime: Runtime, namespace: str) -> Any:
    """What a client records its calls into (its runtime, else the default one)."""
    if runtime._registry is None:
        return NO_METRICS
    return ClientMetrics(runtime.metric_meter, runtime._metric_prefix, namespace)


def _worker_metrics(runtime: Runtime, namespace: str, task_queue: str) -> Any:
    """What a worker records into (its client's runtime, else the default one)."""
    if runtime._registry is None:
        return NO_METRICS
    return WorkerMetrics(runtime.metric_meter, runtime._metric_prefix, namespace, task_queue)
