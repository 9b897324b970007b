"""Worker metrics: an in-process registry that a ``Runtime``'s metric meter feeds, and
that its Prometheus endpoint and ``MetricBuffer`` read.

The workers report what Temporal's core reports under the same names (the runtime's
prefix, ``temporal_`` by default, comes first):

* ``workflow_task_execution_latency`` (histogram, ms) with ``workflow_task_execution_failed``
  (counter): one sample per workflow task processed;
* ``activity_execution_latency`` (histogram, ms) with ``activity_execution_failed``
  (counter): one sample per activity attempt.

Labels: ``namespace``, ``task_queue``, ``workflow_type`` / ``activity_type``, and the
runtime's global tags (plus ``service_name`` when ``attach_service_name``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# Milliseconds, as Temporal's core uses for its latency histograms.
DEFAULT_BUCKETS_MS = (1, 10, 50, 100, 500, 1000, 5000, 10000, 60000)
DEFAULT_BUCKETS_S = tuple(b / 1000 for b in DEFAULT_BUCKETS_MS)

_Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class Update:
    """One recorded value, as ``MetricBuffer.retrieve_updates`` returns it."""

    metric: BufferedMetricInfo
    value: Any
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class BufferedMetricInfo:
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


class Registry:
    """Aggregates recorded values per (name, labels); thread-safe (activities may
    run in threads)."""

    def __init__(
        self,
        *,
        global_tags: Mapping[str, str] = {},
        histogram_buckets: Mapping[str, Sequence[float]] | None = None,
        durations_as_seconds: bool = False,
        buffer_size: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._series: dict[_Key, _Series] = {}
        self._families: dict[str, str] = {}
        self._global_tags = dict(global_tags)
        self._bucket_overrides = dict(histogram_buckets or {})
        self.durations_as_seconds = durations_as_seconds
        self._buffer: list[Update] | None = [] if buffer_size > 0 else None
        self._buffer_size = buffer_size

    def sink(self, kind: str, name: str, value: Any, attributes: dict[str, Any]) -> None:
        """The callback of ``common._CallbackMetricMeter``: record one value."""
        if isinstance(value, timedelta):
            value = value.total_seconds() * (1 if self.durations_as_seconds else 1000)
        labels = {**self._global_tags, **{k: str(v) for k, v in attributes.items()}}
        key = (name, tuple(sorted(labels.items())))
        family = _family(kind)
        with self._lock:
            self._families.setdefault(name, family)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series(family, self._buckets(name))
            _apply(series, value, self._buckets(name))
            if self._buffer is not None and len(self._buffer) < self._buffer_size:
                info = BufferedMetricInfo(
                    name, None, None, {"counter": 0, "gauge": 1}.get(family, 2)
                )
                self._buffer.append(Update(info, value, labels))

    def drain(self) -> list[Update]:
        with self._lock:
            if self._buffer is None:
                return []
            out, self._buffer = self._buffer, []
            return out

    def _buckets(self, name: str) -> Sequence[float]:
        if name in self._bucket_overrides:
            return tuple(self._bucket_overrides[name])
        return DEFAULT_BUCKETS_S if self.durations_as_seconds else DEFAULT_BUCKETS_MS

    def prometheus_text(self, *, counters_total_suffix: bool = False) -> str:
        """Everything recorded, in Prometheus' text exposition format (0.0.4)."""
        with self._lock:
            by_name: dict[str, list[tuple[tuple[tuple[str, str], ...], _Series]]] = {}
            for (name, labels), series in sorted(self._series.items()):
                by_name.setdefault(name, []).append((labels, series))
            lines: list[str] = []
            for name, rows in by_name.items():
                family = self._families[name]
                exposed = name + ("_total" if family == "counter" and counters_total_suffix else "")
                lines.append(f"# TYPE {exposed} {family}")
                for labels, series in rows:
                    lines.extend(_series_lines(exposed, labels, series, self._buckets(name)))
        return "\n".join(lines) + "\n"


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
