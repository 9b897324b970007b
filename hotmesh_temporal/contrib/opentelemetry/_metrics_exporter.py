"""Export a runtime's metrics through an OpenTelemetry ``MeterProvider``.

The runtime records worker metrics and ``metric_meter()`` metrics into its registry;
with ``TelemetryConfig(metrics=MetricBuffer(...))`` the registry also queues each
update for ``MetricBuffer.retrieve_updates()``. :class:`MetricsExporter` drains that
queue on an interval and replays each update on an OpenTelemetry instrument of the
same name: counters ``add``, histograms ``record``, gauges become observable gauges
reporting the last value of each attribute set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

import opentelemetry.metrics
import opentelemetry.util.types

import hotmesh_temporal.runtime

logger = logging.getLogger(__name__)

_Attributes = Mapping[str, opentelemetry.util.types.AttributeValue]


class _LastValues:
    """A gauge's latest value per attribute set, read by the reader's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[tuple, tuple[_Attributes, int | float]] = {}

    def set(self, attributes: _Attributes, value: int | float) -> None:
        key = tuple(sorted(attributes.items()))
        with self._lock:
            self._values[key] = (attributes, value)

    def observe(
        self, _options: opentelemetry.metrics.CallbackOptions
    ) -> Iterable[opentelemetry.metrics.Observation]:
        with self._lock:
            return [
                opentelemetry.metrics.Observation(value, attributes=dict(attributes))
                for attributes, value in self._values.values()
            ]


class MetricsExporter:
    """Drains a :class:`hotmesh_temporal.runtime.MetricBuffer` into an OpenTelemetry
    ``MeterProvider`` every ``poll_interval`` while it runs.

    Construct the ``Runtime`` with the buffer first, then run the exporter (``await
    exporter.run()`` until :meth:`shutdown`, or ``async with exporter:``) for as long
    as metrics should flow; a buffer left undrained drops updates once full::

        buffer = MetricBuffer(10_000)
        runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
        async with MetricsExporter(buffer, meter_provider):
            client = await Client.connect(dsn, runtime=runtime)
            ...
    """

    def __init__(
        self,
        buffer: hotmesh_temporal.runtime.MetricBuffer,
        meter_provider: opentelemetry.metrics.MeterProvider | None = None,
        *,
        meter_name: str = "temporalio",
        meter_version: str | None = None,
        poll_interval: timedelta = timedelta(seconds=1),
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """``meter_provider`` defaults to the global one; instruments come from its
        meter ``meter_name``/``meter_version``. ``on_error`` is called (besides the
        error being logged) when draining or exporting an update fails."""
        if not isinstance(buffer, hotmesh_temporal.runtime.MetricBuffer):
            raise TypeError(f"buffer must be a MetricBuffer, got {type(buffer).__name__}")
        if not isinstance(poll_interval, timedelta) or poll_interval <= timedelta(0):
            raise ValueError("poll_interval must be a positive timedelta")
        self._buffer = buffer
        provider = meter_provider or opentelemetry.metrics.get_meter_provider()
        self._meter = provider.get_meter(meter_name, meter_version)
        self._poll_interval = poll_interval
        self._on_error = on_error
        self._instruments: dict[tuple[str, int], Any] = {}
        self._running = False
        self._stop = asyncio.Event()
        self._stopped = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def run(self) -> None:
        """Export every ``poll_interval`` until :meth:`shutdown`, then once more.

        ``RuntimeError`` if it is already running, or if no ``Runtime`` was built
        with the buffer.
        """
        if self._running:
            raise RuntimeError("MetricsExporter is already running")
        self._running = True
        self._stopped.clear()
        try:
            while not self._stop.is_set():
                self._export_pending()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._poll_interval.total_seconds())
            self._export_pending()  # what was recorded just before shutdown
        finally:
            self._running = False
            # Cleared here rather than on entry, so a shutdown() asked before this
            # run started still stops it.
            self._stop.clear()
            self._stopped.set()

    async def shutdown(self) -> None:
        """Stop :meth:`run` after a last export, and wait until it has returned."""
        self._stop.set()
        await self._stopped.wait()

    async def __aenter__(self) -> MetricsExporter:
        """Start :meth:`run` in a task."""
        self._task = asyncio.ensure_future(self.run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """:meth:`shutdown`, then wait for the task (raising what it raised)."""
        task, self._task = self._task, None
        if task is not None and task.done():
            await task  # it failed (a buffer without a runtime): raise that
            return
        await self.shutdown()
        if task is not None:
            await task

    def _export_pending(self) -> None:
        try:
            updates = self._buffer.retrieve_updates()
        except RuntimeError:
            raise  # no Runtime uses the buffer: a setup error, not worth retrying
        except Exception as err:
            self._failed(err)
            return
        for update in updates:
            try:
                self._export(update)
            except Exception as err:
                self._failed(err)

    def _failed(self, err: Exception) -> None:
        logger.exception("Exporting buffered metrics to OpenTelemetry failed")
        if self._on_error is None:
            return
        try:
            self._on_error(err)
        except Exception:
            logger.exception("MetricsExporter's on_error callback failed")

    def _export(self, update: hotmesh_temporal.runtime.BufferedMetricUpdate) -> None:
        metric = update.metric
        instrument = self._instrument(metric)
        attributes: _Attributes = dict(update.attributes)
        if metric.kind == hotmesh_temporal.runtime.BUFFERED_METRIC_KIND_COUNTER:
            instrument.add(update.value, attributes=attributes)
        elif metric.kind == hotmesh_temporal.runtime.BUFFERED_METRIC_KIND_HISTOGRAM:
            instrument.record(update.value, attributes=attributes)
        else:
            instrument.set(attributes, update.value)

    def _instrument(self, metric: hotmesh_temporal.runtime.BufferedMetric) -> Any:
        key = (metric.name, metric.kind)
        instrument = self._instruments.get(key)
        if instrument is not None:
            return instrument
        unit, description = metric.unit or "", metric.description or ""
        if metric.kind == hotmesh_temporal.runtime.BUFFERED_METRIC_KIND_COUNTER:
            instrument = self._meter.create_counter(metric.name, unit=unit, description=description)
        elif metric.kind == hotmesh_temporal.runtime.BUFFERED_METRIC_KIND_HISTOGRAM:
            instrument = self._meter.create_histogram(
                metric.name, unit=unit, description=description
            )
        elif metric.kind == hotmesh_temporal.runtime.BUFFERED_METRIC_KIND_GAUGE:
            instrument = _LastValues()
            self._meter.create_observable_gauge(
                metric.name, callbacks=[instrument.observe], unit=unit, description=description
            )
        else:
            raise ValueError(f"Unknown buffered metric kind {metric.kind!r} of {metric.name!r}")
        self._instruments[key] = instrument
        return instrument
