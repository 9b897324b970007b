"""A meter provider that drops what workflow code records while history replays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import (
    CallbackT,
    Counter,
    Histogram,
    Meter,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.util.types import Attributes

from hotmesh_temporal.contrib.opentelemetry._tracer_provider import _replaying_history


class _ReplaySafeInstrument:
    """Forwards everything to the wrapped instrument; its recording method (``add``,
    ``record`` or ``set``, per subclass) records nothing while history replays."""

    def __init__(self, instrument: Any) -> None:
        self._instrument = instrument

    def __getattr__(self, name: str) -> Any:
        return getattr(self._instrument, name)

    def _forward(
        self,
        method: str,
        amount: int | float,
        attributes: Attributes | None,
        context: Context | None,
    ) -> None:
        if _replaying_history():
            return
        # Instruments of opentelemetry before 1.28 take no ``context``: pass it only when set.
        extra = {} if context is None else {"context": context}
        getattr(self._instrument, method)(amount, attributes, **extra)


class _ReplaySafeAdding(_ReplaySafeInstrument):
    def add(
        self,
        amount: int | float,
        attributes: Attributes | None = None,
        context: Context | None = None,
    ) -> None:
        self._forward("add", amount, attributes, context)


class _ReplaySafeCounter(_ReplaySafeAdding, Counter):
    pass


class _ReplaySafeUpDownCounter(_ReplaySafeAdding, UpDownCounter):
    pass


class _ReplaySafeHistogram(_ReplaySafeInstrument, Histogram):
    def record(
        self,
        amount: int | float,
        attributes: Attributes | None = None,
        context: Context | None = None,
    ) -> None:
        self._forward("record", amount, attributes, context)


class _ReplaySafeGauge(_ReplaySafeInstrument, _Gauge):
    def set(
        self,
        amount: int | float,
        attributes: Attributes | None = None,
        context: Context | None = None,
    ) -> None:
        self._forward("set", amount, attributes, context)


class _ReplaySafeMeter(Meter):
    """Synchronous instruments come wrapped; observable ones are returned as they
    are (their callbacks run when a reader collects, never in workflow code). Every
    instrument kind of the Meter ABC is overridden: a kind the ABC gains later would
    otherwise be a silent no-op here."""

    def __init__(self, meter: Meter) -> None:
        super().__init__(meter.name, version=meter.version, schema_url=meter.schema_url)
        self._meter = meter

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Counter:
        return _ReplaySafeCounter(self._meter.create_counter(name, unit, description))

    def create_up_down_counter(
        self, name: str, unit: str = "", description: str = ""
    ) -> UpDownCounter:
        return _ReplaySafeUpDownCounter(self._meter.create_up_down_counter(name, unit, description))

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ) -> Histogram:
        # The advisory exists from opentelemetry 1.30: pass it only when given.
        extra: dict[str, Any] = {}
        if explicit_bucket_boundaries_advisory is not None:
            extra["explicit_bucket_boundaries_advisory"] = explicit_bucket_boundaries_advisory
        return _ReplaySafeHistogram(self._meter.create_histogram(name, unit, description, **extra))

    def create_gauge(self, name: str, unit: str = "", description: str = "") -> _Gauge:
        return _ReplaySafeGauge(self._meter.create_gauge(name, unit, description))

    def create_observable_counter(
        self,
        name: str,
        callbacks: Sequence[CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> ObservableCounter:
        return self._meter.create_observable_counter(name, callbacks, unit, description)

    def create_observable_gauge(
        self,
        name: str,
        callbacks: Sequence[CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> ObservableGauge:
        return self._meter.create_observable_gauge(name, callbacks, unit, description)

    def create_observable_up_down_counter(
        self,
        name: str,
        callbacks: Sequence[CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> ObservableUpDownCounter:
        return self._meter.create_observable_up_down_counter(name, callbacks, unit, description)


class ReplaySafeMeterProvider(MeterProvider):
    """Wraps a ``MeterProvider`` so that counter ``add``, up-down counter ``add``,
    histogram ``record`` and gauge ``set`` made from workflow code while history
    replays are dropped: a workflow's measurements count once, however often its
    code is replayed (after an eviction, a restart, on another worker). Queries and
    update validators are live requests, so what they record is kept; so is
    everything recorded outside workflows. Observable instruments pass through.

    Make it the global provider, before libraries create instruments::

        opentelemetry.metrics.set_meter_provider(ReplaySafeMeterProvider(provider))
    """

    def __init__(self, meter_provider: MeterProvider) -> None:
        """Wrap ``meter_provider``."""
        self._meter_provider = meter_provider

    def __getattr__(self, name: str) -> Any:
        """Anything else (``shutdown``, ``force_flush``...) is the wrapped provider's."""
        return getattr(self._meter_provider, name)

    def get_meter(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> Meter:
        """A replay-safe meter of the wrapped provider."""
        return _ReplaySafeMeter(
            self._meter_provider.get_meter(name, version, schema_url, attributes)
        )
