"""Metrics: an in-process registry that a ``Runtime``'s metric meter feeds, and that
its Prometheus endpoint and ``MetricBuffer`` read.

Everything recorded through ``Runtime.metric_meter`` lands here: the custom metrics of
``activity.metric_meter()`` and ``workflow.metric_meter()`` (under the names given,
with ``namespace``, ``task_queue`` and ``activity_type`` / ``workflow_type``
attributes; the workflow's are not recorded while it replays), and what the workers
report under the names Temporal's core uses (the runtime's prefix, ``temporal_`` by
default, comes first):

* ``workflow_task_execution_latency`` (histogram, ms) with ``workflow_task_execution_failed``
  (counter): one sample per workflow task processed;
* ``activity_execution_latency`` (histogram, ms) with ``activity_execution_failed``
  (counter): one sample per activity attempt.

Every metric carries ``service_name`` (when ``attach_service_name``); Prometheus
series also carry the runtime's global tags. Durations are whole milliseconds, or
seconds with ``durations_as_seconds``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hotmesh_temporal.common import MetricMeter

logger = logging.getLogger("hotmesh_temporal.runtime")

# Histogram buckets in milliseconds, as Temporal's core chooses them by metric name
# (without the prefix); everything else, custom metrics included, gets the default.
DEFAULT_BUCKETS_MS = (50, 100, 500, 1000, 2500, 10000)
_BUCKETS_MS_BY_NAME = {
    "workflow_task_execution_latency": (1, 10, 20, 50, 100, 200, 500, 1000),
    "activity_execution_latency": (50, 100, 500, 1000, 5000, 10000, 60000),
}

# BUFFERED_METRIC_KIND_* of temporalio.runtime, by family.
_BUFFERED_KIND = {"counter": 0, "gauge": 1, "histogram": 2}

_Labels = tuple[tuple[str, str], ...]


@dataclass
class Update:
    """One recorded value, as ``MetricBuffer.retrieve_updates`` returns it."""

    metric: BufferedMetricInfo
    value: Any
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class BufferedMetricInfo:
    """The metric of buffered updates: one object per metric name, shared by all
    of its updates (as temporalio's buffer does)."""

    name: str
    description: str | None
    unit: str | None
    kind: int  # 0 counter, 1 gauge, 2 histogram (temporalio's BUFFERED_METRIC_KIND_*)


class _Series:
    __slots__ = ("kind", "value", "bucket_counts", "count", "total")

    def __init__(self, kind: str, buckets: Sequence[float]) -> None:
        self.kind = kind
        self.value: float = 0
        self.bucket_counts = [0] * len(buckets)
        self.count = 0
        self.total: float = 0


@dataclass
class _Family:
    """What the registry knows of one metric name."""

    kind: str  # counter, gauge or histogram
    help: str
    buckets: Sequence[float]
    buffered: BufferedMetricInfo
    unit: str  # as exported: a duration histogram's is "ms", or "s" in seconds


class Registry:
    """Aggregates recorded values per (name, labels) for Prometheus and, with a
    ``buffer_size``, keeps each update for ``MetricBuffer``; thread-safe
    (activities may run in threads)."""

    def __init__(
        self,
        *,
        global_tags: Mapping[str, str] = {},
        histogram_buckets: Mapping[str, Sequence[float]] | None = None,
        durations_as_seconds: bool = False,
        buffer_size: int = 0,
        metric_prefix: str = "temporal_",
    ) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, _Labels], _Series] = {}
        self._families: dict[str, _Family] = {}
        self._global_tags = {k: str(v) for k, v in global_tags.items()}
        self._bucket_overrides = dict(histogram_buckets or {})
        self._prefix = metric_prefix
        self.durations_as_seconds = durations_as_seconds
        self._buffer: list[Update] | None = [] if buffer_size > 0 else None
        self._buffer_size = buffer_size
        self._buffer_full_logged = False
        # One attributes dict per attribute set, shared by its buffered updates.
        self._attribute_sets: dict[tuple, Mapping[str, Any]] = {}

    def sink(self, metric: Any, value: Any, attributes: dict[str, Any]) -> None:
        """The sink of ``common._CallbackMetricMeter``: record one value of ``metric``."""
        if isinstance(value, timedelta):  # whole milliseconds, as Temporal's core
            millis = value.days * 86_400_000 + value.seconds * 1000 + value.microseconds // 1000
            value = millis / 1000 if self.durations_as_seconds else millis
        labels = {**self._global_tags, **{k: _label_text(v) for k, v in attributes.items()}}
        key = (metric.name, tuple(sorted(labels.items())))
        with self._lock:
            family = self._families.get(metric.name) or self._new_family(metric)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series(family.kind, family.buckets)
            _apply(series, value, family.buckets)
            if self._buffer is not None:
                self._buffer_update(family.buffered, value, attributes)

    def _new_family(self, metric: Any) -> _Family:
        kind = _family(metric.kind)
        unit = metric.unit or ""
        if metric.kind == "histogram_timedelta":
            unit = "s" if self.durations_as_seconds else "ms"
        family = _Family(
            kind=kind,
            help=metric.description or metric.name,
            buckets=self._buckets(metric.name),
            buffered=BufferedMetricInfo(
                metric.name, metric.description, metric.unit, _BUFFERED_KIND[kind]
            ),
            unit=unit,
        )
        self._families[metric.name] = family
        return family

    def _buffer_update(
        self, info: BufferedMetricInfo, value: Any, attributes: dict[str, Any]
    ) -> None:
        assert self._buffer is not None
        if len(self._buffer) >= self._buffer_size:
            if not self._buffer_full_logged:
                self._buffer_full_logged = True
                logger.error(
                    "MetricBuffer is full (%d updates): dropping metric updates until "
                    "retrieve_updates() drains it",
                    self._buffer_size,
                )
            return
        set_key = tuple((k, type(v), v) for k, v in attributes.items())
        shared = self._attribute_sets.get(set_key)
        if shared is None:
            shared = self._attribute_sets[set_key] = dict(attributes)
        self._buffer.append(Update(info, value, shared))

    def drain(self) -> list[Update]:
        with self._lock:
            if self._buffer is None:
                return []
            out, self._buffer = self._buffer, []
            self._buffer_full_logged = False
            return out

    def _buckets(self, name: str) -> Sequence[float]:
        if name in self._bucket_overrides:
            return tuple(self._bucket_overrides[name])
        unprefixed = name[len(self._prefix) :] if name.startswith(self._prefix) else None
        buckets = _BUCKETS_MS_BY_NAME.get(unprefixed or "", DEFAULT_BUCKETS_MS)
        return tuple(b / 1000 for b in buckets) if self.durations_as_seconds else buckets

    def prometheus_text(
        self, *, counters_total_suffix: bool = False, unit_suffix: bool = False
    ) -> str:
        """Everything recorded, in Prometheus' text exposition format (0.0.4). With
        ``unit_suffix`` a metric's unit is spelled out after its name, as the
        OpenTelemetry Prometheus exporter does (``_milliseconds``, ``_bytes``...)."""
        with self._lock:
            by_name: dict[str, list[tuple[_Labels, _Series]]] = {}
            for (name, labels), series in sorted(self._series.items()):
                by_name.setdefault(name, []).append((labels, series))
            lines: list[str] = []
            for name, rows in by_name.items():
                family = self._families[name]
                exposed = name
                suffix = prometheus_unit_suffix(family.unit) if unit_suffix else None
                if suffix and not exposed.endswith(f"_{suffix}"):
                    exposed += f"_{suffix}"
                if family.kind == "counter" and counters_total_suffix:
                    exposed += "_total"
                lines.append(f"# HELP {exposed} {_escape_help(family.help)}")
                lines.append(f"# TYPE {exposed} {family.kind}")
                for labels, series in rows:
                    lines.extend(_series_lines(exposed, labels, series, family.buckets))
        return "\n".join(lines) + "\n"


# UCUM units and the words Prometheus names use for them (OpenTelemetry's mapping).
_UNIT_WORDS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes",
    "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tebibytes", "KBy": "kilobytes",
    "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes", "B": "bytes",
    "KB": "kilobytes", "MB": "megabytes", "GB": "gigabytes", "TB": "terabytes",
    "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
    "Cel": "celsius", "Hz": "hertz", "1": "ratio", "%": "percent", "$": "dollars",
}  # fmt: skip
# The unit after "/" in a rate ("By/s": bytes_per_second).
_PER_UNIT_WORDS = {
    "s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month",
    "y": "year",
}  # fmt: skip
# Units that make no sense before "per" ("1/s" is per_second).
_NOT_BEFORE_PER = frozenset({"1", "d", "h", "min", "s", "ms", "us", "ns"})


def prometheus_unit_suffix(unit: str) -> str | None:
    """The name suffix of ``unit``; None for no unit, an annotation such as
    ``{request}`` or a unit with no Prometheus word."""
    if unit in _UNIT_WORDS:
        return _UNIT_WORDS[unit]
    first, slash, second = unit.partition("/")
    per = _PER_UNIT_WORDS.get(second) if slash else None
    if per is None:
        return None
    word = None if first in _NOT_BEFORE_PER else _UNIT_WORDS.get(first)
    return f"{word}_per_{per}" if word else f"per_{per}"


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _family(kind: str) -> str:
    if kind == "counter":
        return "counter"
    if kind.startswith("gauge"):
        return "gauge"
    return "histogram"


def _apply(series: _Series, value: float, buckets: Sequence[float]) -> None:
    if series.kind == "counter":
        series.value += value
    elif series.kind == "gauge":
        series.value = value
    else:
        series.count += 1
        series.total += value
        for i, bound in enumerate(buckets):
            if value <= bound:
                series.bucket_counts[i] += 1


def _series_lines(
    name: str, labels: tuple[tuple[str, str], ...], series: _Series, buckets: Sequence[float]
) -> list[str]:
    if series.kind != "histogram":
        return [f"{name}{_labels(labels)} {_number(series.value)}"]
    out = []
    for bound, count in zip(buckets, series.bucket_counts, strict=False):
        out.append(f"{name}_bucket{_labels(labels, le=_number(bound))} {count}")
    out.append(f"{name}_bucket{_labels(labels, le='+Inf')} {series.count}")
    out.append(f"{name}_sum{_labels(labels)} {_number(series.total)}")
    out.append(f"{name}_count{_labels(labels)} {series.count}")
    return out


def _labels(labels: tuple[tuple[str, str], ...], **extra: str) -> str:
    pairs = list(labels) + list(extra.items())
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in pairs) + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class WorkerMetrics:
    """What the engine's workers record; built on a runtime's metric meter."""

    def __init__(self, meter: Any, prefix: str, namespace: str, task_queue: str) -> None:
        meter = meter.with_additional_attributes({"namespace": namespace, "task_queue": task_queue})
        self._wft_latency = meter.create_histogram_timedelta(
            f"{prefix}workflow_task_execution_latency", "Workflow task execution time", "ms"
        )
        self._wft_failed = meter.create_counter(
            f"{prefix}workflow_task_execution_failed", "Workflow tasks that failed"
        )
        self._act_latency = meter.create_histogram_timedelta(
            f"{prefix}activity_execution_latency", "Activity attempt execution time", "ms"
        )
        self._act_failed = meter.create_counter(
            f"{prefix}activity_execution_failed", "Activity attempts that failed"
        )

    def workflow_task(self, workflow_type: str, seconds: float, failed: bool) -> None:
        attrs = {"workflow_type": workflow_type or ""}
        self._wft_latency.record(timedelta(seconds=max(seconds, 0.0)), attrs)
        if failed:
            self._wft_failed.add(1, attrs)

    def activity(self, activity_type: str, seconds: float, failed: bool) -> None:
        attrs = {"activity_type": activity_type or ""}
        self._act_latency.record(timedelta(seconds=max(seconds, 0.0)), attrs)
        if failed:
            self._act_failed.add(1, attrs)


class _NoMetrics:
    """The default: recording costs one method call."""

    def workflow_task(self, workflow_type: str, seconds: float, failed: bool) -> None:
        pass

    def activity(self, activity_type: str, seconds: float, failed: bool) -> None:
        pass


NO_METRICS: Any = _NoMetrics()


def activity_attempt_meter(runtime_meter: Any, is_async: bool, executor: Any) -> Any:
    """The meter an activity attempt's context carries: the runtime's (no-op without
    one), or None for a sync activity run outside a thread pool, where temporalio
    offers no meter either (its values could not come back from another process)."""
    if not is_async and not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        return None
    if runtime_meter is None:
        return MetricMeter.noop
    return runtime_meter
