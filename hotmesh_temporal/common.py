"""Types shared by clients, workers, workflows and activities.

Same public names, fields, defaults and enum values as ``temporalio.common``.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
import types
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import (
    Any,
    ClassVar,
    Generic,
    TypeAlias,
    TypeVar,
    get_origin,
    get_type_hints,
    overload,
)

if sys.version_info >= (3, 11):
    from typing import NamedTuple, Self
else:  # pragma: no cover - generic NamedTuple needs typing_extensions on 3.10
    from typing_extensions import NamedTuple, Self

import hotmesh_temporal.api.common.v1

_AnyType = TypeVar("_AnyType")


# --- retry policy -------------------------------------------------------------


@dataclass
class RetryPolicy:
    """How failed activities and workflows are retried."""

    initial_interval: timedelta = timedelta(seconds=1)
    """Delay before the first retry. Default 1 second."""

    backoff_coefficient: float = 2.0
    """Each retry delay is the previous one times this. Default 2.0."""

    maximum_interval: timedelta | None = None
    """Upper bound of the retry delay. Default 100 times ``initial_interval``."""

    maximum_attempts: int = 0
    """Most attempts allowed, first one included. 0 (default) means unlimited."""

    non_retryable_error_types: Sequence[str] | None = None
    """Application error types that are never retried."""

    @staticmethod
    def from_proto(proto: hotmesh_temporal.api.common.v1.RetryPolicy) -> RetryPolicy:
        """Build a policy from its API message form."""
        return RetryPolicy(
            initial_interval=proto.initial_interval.ToTimedelta(),
            backoff_coefficient=proto.backoff_coefficient,
            maximum_interval=proto.maximum_interval.ToTimedelta()
            if proto.HasField("maximum_interval")
            else None,
            maximum_attempts=proto.maximum_attempts,
            non_retryable_error_types=list(proto.non_retryable_error_types) or None,
        )

    def apply_to_proto(self, proto: hotmesh_temporal.api.common.v1.RetryPolicy) -> None:
        """Validate this policy and write it into the API message ``proto``."""
        self._validate()
        proto.initial_interval.FromTimedelta(self.initial_interval)
        proto.backoff_coefficient = self.backoff_coefficient
        # The default maximum is spelled out so the stored policy is explicit.
        proto.maximum_interval.FromTimedelta(self.maximum_interval or self.initial_interval * 100)
        proto.maximum_attempts = self.maximum_attempts
        if self.non_retryable_error_types:
            proto.non_retryable_error_types.extend(self.non_retryable_error_types)

    def _validate(self) -> None:
        if self.maximum_attempts == 1:
            # No retries at all: the other settings can never apply.
            return
        if self.initial_interval.total_seconds() < 0:
            raise ValueError("Initial interval cannot be negative")
        if self.backoff_coefficient < 1:
            raise ValueError("Backoff coefficient cannot be less than 1")
        if self.maximum_interval:
            if self.maximum_interval.total_seconds() < 0:
                raise ValueError("Maximum interval cannot be negative")
            if self.maximum_interval < self.initial_interval:
                raise ValueError("Maximum interval cannot be less than initial interval")
        if self.maximum_attempts < 0:
            raise ValueError("Maximum attempts cannot be negative")


# --- policies and states (values are Temporal's API enum numbers) -------------


class WorkflowIDReusePolicy(IntEnum):
    """Whether a new run may reuse the ID of a closed workflow."""

    ALLOW_DUPLICATE = 1
    ALLOW_DUPLICATE_FAILED_ONLY = 2
    REJECT_DUPLICATE = 3
    TERMINATE_IF_RUNNING = 4


class WorkflowIDConflictPolicy(IntEnum):
    """What a start does when a workflow with the same ID is running."""

    UNSPECIFIED = 0
    FAIL = 1
    USE_EXISTING = 2
    TERMINATE_EXISTING = 3


class ActivityIDReusePolicy(IntEnum):
    """Whether a standalone activity may reuse the ID of a closed one."""

    UNSPECIFIED = 0
    ALLOW_DUPLICATE = 1
    ALLOW_DUPLICATE_FAILED_ONLY = 2
    REJECT_DUPLICATE = 3


class ActivityIDConflictPolicy(IntEnum):
    """What starting a standalone activity does when its ID is running."""

    UNSPECIFIED = 0
    FAIL = 1
    USE_EXISTING = 2


class NexusOperationIDReusePolicy(IntEnum):
    """Whether a Nexus operation may reuse the ID of a closed one."""

    UNSPECIFIED = 0
    ALLOW_DUPLICATE = 1
    ALLOW_DUPLICATE_FAILED_ONLY = 2
    REJECT_DUPLICATE = 3


class NexusOperationIDConflictPolicy(IntEnum):
    """What starting a Nexus operation does when its ID is running."""

    UNSPECIFIED = 0
    FAIL = 1
    USE_EXISTING = 2


class NexusOperationExecutionStatus(IntEnum):
    """Status of a standalone Nexus operation."""

    UNSPECIFIED = 0
    RUNNING = 1
    COMPLETED = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    TIMED_OUT = 6


class PendingNexusOperationExecutionState(IntEnum):
    """Finer state of a running Nexus operation."""

    UNSPECIFIED = 0
    SCHEDULED = 1
    BACKING_OFF = 2
    STARTED = 3
    BLOCKED = 4


class NexusOperationCancellationState(IntEnum):
    """State of a request to cancel a Nexus operation."""

    UNSPECIFIED = 0
    SCHEDULED = 1
    BACKING_OFF = 2
    SUCCEEDED = 3
    FAILED = 4
    TIMED_OUT = 5
    BLOCKED = 6


class QueryRejectCondition(IntEnum):
    """When a query is refused instead of answered."""

    NONE = 1
    NOT_OPEN = 2
    NOT_COMPLETED_CLEANLY = 3


# --- raw values -----------------------------------------------------------------


@dataclass(frozen=True)
class RawValue:
    """A payload passed through without conversion.

    Use it as a parameter or return type to receive or send the encoded payload
    itself; codecs still apply.
    """

    payload: hotmesh_temporal.api.common.v1.Payload

    def __getstate__(self) -> object:
        """Pickle as a one-byte version tag followed by the payload's wire bytes."""
        return b"1" + self.payload.SerializeToString()

    def __setstate__(self, state: object) -> None:
        """Restore from :py:meth:`__getstate__`."""
        if not isinstance(state, bytes):
            raise TypeError(f"Expected bytes state, got {type(state)}")
        if state[:1] != b"1":
            raise ValueError("Bad version prefix")
        payload = hotmesh_temporal.api.common.v1.Payload.FromString(state[1:])
        object.__setattr__(self, "payload", payload)


# --- search attributes --------------------------------------------------------

SearchAttributeValues: TypeAlias = list[str] | list[int] | list[float] | list[bool] | list[datetime]
"""Values of one untyped (deprecated) search attribute: always a list."""

SearchAttributes: TypeAlias = Mapping[str, SearchAttributeValues]
"""Deprecated untyped search attributes."""

SearchAttributeValue: TypeAlias = str | int | float | bool | datetime | Sequence[str]
"""A typed search attribute value."""

SearchAttributeValueType = TypeVar(
    "SearchAttributeValueType", str, int, float, bool, datetime, Sequence[str]
)


class SearchAttributeIndexedValueType(IntEnum):
    """How a search attribute is indexed."""

    TEXT = 1
    KEYWORD = 2
    INT = 3
    DOUBLE = 4
    BOOL = 5
    DATETIME = 6
    KEYWORD_LIST = 7


# Names used in the ``type`` metadata of search attribute payloads.
_METADATA_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


class SearchAttributeKey(ABC, Generic[SearchAttributeValueType]):
    """A typed search attribute name; create one with a ``for_*`` method."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Attribute name."""
        ...

    @property
    @abstractmethod
    def indexed_value_type(self) -> SearchAttributeIndexedValueType:
        """How the attribute is indexed."""
        ...

    @property
    @abstractmethod
    def value_type(self) -> type[SearchAttributeValueType]:
        """Python type of the value (may be generic, e.g. ``Sequence[str]``)."""
        ...

    @property
    def origin_value_type(self) -> type:
        """:py:attr:`value_type` without generic arguments (usable with isinstance)."""
        return get_origin(self.value_type) or self.value_type

    @property
    def _metadata_type(self) -> str:
        try:
            return _METADATA_TYPE_NAMES[self.indexed_value_type]
        except KeyError:
            raise ValueError(f"Unrecognized type: {self}") from None

    def value_set(
        self, value: SearchAttributeValueType
    ) -> SearchAttributeUpdate[SearchAttributeValueType]:
        """An update that sets this attribute to ``value``."""
        return _SearchAttributeUpdate(self, value)

    def value_unset(self) -> SearchAttributeUpdate[SearchAttributeValueType]:
        """An update that removes this attribute."""
        return _SearchAttributeUpdate(self, None)

    @staticmethod
    def for_text(name: str) -> SearchAttributeKey[str]:
        """Key of a full-text ``Text`` attribute."""
        return _SearchAttributeKey(name, SearchAttributeIndexedValueType.TEXT, str)

    @staticmethod
    def for_keyword(name: str) -> SearchAttributeKey[str]:
        """Key of an exact-match ``Keyword`` attribute."""
        return _SearchAttributeKey(name, SearchAttributeIndexedValueType.KEYWORD, str)

    @staticmethod
    def for_int(name: str) -> SearchAttributeKey[int]:
        """Key of an ``Int`` attribute."""
        return _SearchAttributeKey(name, SearchAttributeIndexedValueType.INT, int)

    @staticmethod
    def for_float(name: str) -> SearchAttributeKey[float]:
        """Key of a ``Double`` attribute."""
        return _SearchAttributeKey(name, SearchAttributeIndexedValueType.DOUBLE, float)

    @staticmethod
    def for_bool(name: str) -> SearchAttributeKey[bool]:
        """Key of a ``Bool`` attribute."""
        return _SearchAttributeKey(name, SearchAttributeIndexedValueType.BOOL, bool)

    @staticmethod
    def for_datetime(name: str) -> SearchAttributeKey[datetime]:
        """Key of a ``Datetime`` attribute."""
        return _SearchAttributeKey(name, SearchAttributeIndexedValueType.DATETIME, datetime)

    @staticmethod
    def for_keyword_list(name: str) -> SearchAttributeKey[Sequence[str]]:
        """Key of a ``KeywordList`` attribute."""
        return _SearchAttributeKey(
            name,
            SearchAttributeIndexedValueType.KEYWORD_LIST,
            Sequence[str],  # type: ignore[arg-type]
        )

    @staticmethod
    def _from_metadata_type(name: str, metadata_type: str) -> SearchAttributeKey | None:
        # Usually "KeywordList"-style, occasionally the enum's proto name.
        for index_type, short in _METADATA_TYPE_NAMES.items():
            if metadata_type in (short, f"INDEXED_VALUE_TYPE_{index_type.name}"):
                return _SearchAttributeKey(name, index_type, _VALUE_TYPES[index_type])
        return None

    @staticmethod
    def _guess_from_untyped_values(
        name: str, vals: SearchAttributeValues
    ) -> SearchAttributeKey | None:
        if not vals:
            return None
        first = vals[0]
        if len(vals) > 1:
            return SearchAttributeKey.for_keyword_list(name) if isinstance(first, str) else None
        # bool before int: bool is a subclass of int.
        for kind, factory in (
            (str, SearchAttributeKey.for_keyword),
            (bool, SearchAttributeKey.for_bool),
            (int, SearchAttributeKey.for_int),
            (float, SearchAttributeKey.for_float),
            (datetime, SearchAttributeKey.for_datetime),
        ):
            if isinstance(first, kind):
                return factory(name)
        return None


_VALUE_TYPES: dict[SearchAttributeIndexedValueType, Any] = {
    SearchAttributeIndexedValueType.TEXT: str,
    SearchAttributeIndexedValueType.KEYWORD: str,
    SearchAttributeIndexedValueType.INT: int,
    SearchAttributeIndexedValueType.DOUBLE: float,
    SearchAttributeIndexedValueType.BOOL: bool,
    SearchAttributeIndexedValueType.DATETIME: datetime,
    SearchAttributeIndexedValueType.KEYWORD_LIST: Sequence[str],
}


@dataclass(frozen=True)
class _SearchAttributeKey(SearchAttributeKey[SearchAttributeValueType]):
    _name: str
    _indexed_value_type: SearchAttributeIndexedValueType
    _value_type: type[SearchAttributeValueType]

    @property
    def name(self) -> str:
        return self._name

    @property
    def indexed_value_type(self) -> SearchAttributeIndexedValueType:
        return self._indexed_value_type

    @property
    def value_type(self) -> type[SearchAttributeValueType]:
        return self._value_type


class SearchAttributePair(NamedTuple, Generic[SearchAttributeValueType]):
    """A typed search attribute key with its value."""

    key: SearchAttributeKey[SearchAttributeValueType]
    value: SearchAttributeValueType


class SearchAttributeUpdate(ABC, Generic[SearchAttributeValueType]):
    """A change to one search attribute: set a value, or unset it."""

    @property
    @abstractmethod
    def key(self) -> SearchAttributeKey[SearchAttributeValueType]:
        """The attribute being changed."""
        ...

    @property
    @abstractmethod
    def value(self) -> SearchAttributeValueType | None:
        """The new value, or ``None`` to unset."""
        ...


@dataclass(frozen=True)
class _SearchAttributeUpdate(SearchAttributeUpdate[SearchAttributeValueType]):
    _key: SearchAttributeKey[SearchAttributeValueType]
    _value: SearchAttributeValueType | None

    @property
    def key(self) -> SearchAttributeKey[SearchAttributeValueType]:
        return self._key

    @property
    def value(self) -> SearchAttributeValueType | None:
        return self._value


@dataclass(frozen=True)
class TypedSearchAttributes(Collection[SearchAttributePair]):
    """An immutable set of typed search attributes, sorted by name."""

    search_attributes: Sequence[SearchAttributePair]
    """The pairs, sorted by key name, without duplicate names. Do not mutate."""

    empty: ClassVar[TypedSearchAttributes]
    """An empty instance."""

    def __post_init__(self) -> None:
        """Sort by name and refuse duplicate names."""
        ordered = sorted(self.search_attributes, key=lambda pair: pair.key.name)
        object.__setattr__(self, "search_attributes", ordered)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if before.key.name == after.key.name:
                raise ValueError(
                    f"Duplicate search attribute entries found for key {after.key.name}"
                )

    def __len__(self) -> int:
        """Number of attributes."""
        return len(self.search_attributes)

    def __getitem__(
        self, key: SearchAttributeKey[SearchAttributeValueType]
    ) -> SearchAttributeValueType:
        """The value for ``key`` (same name and type), else ``KeyError``."""
        for k, v in self:
            if k == key:
                return v
        raise KeyError()

    def __iter__(self) -> Iterator[SearchAttributePair]:
        """Iterate over the pairs."""
        return iter(self.search_attributes)

    def __contains__(self, key: object) -> bool:
        """Whether a key equal to ``key`` (same name and type) is present."""
        return any(k == key for k, _ in self)

    @overload
    def get(
        self, key: SearchAttributeKey[SearchAttributeValueType]
    ) -> SearchAttributeValueType | None: ...

    @overload
    def get(
        self, key: SearchAttributeKey[SearchAttributeValueType], default: _AnyType
    ) -> SearchAttributeValueType | _AnyType: ...

    def get(
        self,
        key: SearchAttributeKey[SearchAttributeValueType],
        default: Any | None = None,
    ) -> Any:
        """The value for ``key``, or ``default`` when absent."""
        try:
            return self[key]
        except KeyError:
            return default

    def updated(self, *search_attributes: SearchAttributePair) -> TypedSearchAttributes:
        """A copy with the given pairs replacing same-named ones or added."""
        by_name = {pair.key.name: pair for pair in self.search_attributes}
        for pair in search_attributes:
            by_name[pair.key.name] = pair
        return TypedSearchAttributes(list(by_name.values()))


TypedSearchAttributes.empty = TypedSearchAttributes(search_attributes=[])


def _warn_on_deprecated_search_attributes(
    attributes: SearchAttributes | Any | None, stack_level: int = 2
) -> None:
    if attributes and isinstance(attributes, Mapping):
        warnings.warn(
            "Dictionary-based search attributes are deprecated",
            DeprecationWarning,
            stacklevel=1 + stack_level,
        )


# --- metrics ----------------------------------------------------------------

MetricAttributes: TypeAlias = Mapping[str, str | int | float | bool]


class MetricMeter(ABC):
    """Creates metrics. ``MetricMeter.noop`` discards everything."""

    noop: ClassVar[MetricMeter]
    """A meter whose metrics record nothing."""

    @abstractmethod
    def create_counter(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricCounter:
        """A counter that values are added to."""
        ...

    @abstractmethod
    def create_histogram(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricHistogram:
        """A histogram of integer values."""
        ...

    @abstractmethod
    def create_histogram_float(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricHistogramFloat:
        """A histogram of float values."""
        ...

    @abstractmethod
    def create_histogram_timedelta(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricHistogramTimedelta:
        """A histogram of durations (millisecond precision)."""
        ...

    @abstractmethod
    def create_gauge(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricGauge:
        """A gauge holding the last integer set."""
        ...

    @abstractmethod
    def create_gauge_float(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricGaugeFloat:
        """A gauge holding the last float set."""
        ...

    @abstractmethod
    def with_additional_attributes(self, additional_attributes: MetricAttributes) -> MetricMeter:
        """A meter whose metrics carry these extra attributes."""
        ...


class MetricCommon(ABC):
    """What every metric has."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Metric name."""
        ...

    @property
    @abstractmethod
    def description(self) -> str | None:
        """Metric description, if any."""
        ...

    @property
    @abstractmethod
    def unit(self) -> str | None:
        """Metric unit, if any."""
        ...

    @abstractmethod
    def with_additional_attributes(self, additional_attributes: MetricAttributes) -> Self:
        """The same metric carrying these extra attributes."""
        ...


class MetricCounter(MetricCommon):
    """A monotonically increasing count."""

    @abstractmethod
    def add(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        """Add a non-negative ``value``."""
        ...


class MetricHistogram(MetricCommon):
    """A distribution of integers."""

    @abstractmethod
    def record(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        """Record a non-negative ``value``."""
        ...


class MetricHistogramFloat(MetricCommon):
    """A distribution of floats."""

    @abstractmethod
    def record(self, value: float, additional_attributes: MetricAttributes | None = None) -> None:
        """Record a non-negative ``value``."""
        ...


class MetricHistogramTimedelta(MetricCommon):
    """A distribution of durations."""

    @abstractmethod
    def record(
        self, value: timedelta, additional_attributes: MetricAttributes | None = None
    ) -> None:
        """Record a non-negative duration."""
        ...


class MetricGauge(MetricCommon):
    """An integer level."""

    @abstractmethod
    def set(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        """Set the current level."""
        ...


class MetricGaugeFloat(MetricCommon):
    """A float level."""

    @abstractmethod
    def set(self, value: float, additional_attributes: MetricAttributes | None = None) -> None:
        """Set the current level."""
        ...


def _check_attributes(attrs: MetricAttributes) -> None:
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise TypeError(f"Invalid metric attribute key {key!r}, must be str")
        if not isinstance(value, (str, int, float, bool)):
            raise TypeError(f"Invalid value type for key {key}, must be str, int, float, or bool")


# What a meter hands each recorded value to: (metric, value, merged attributes).
MetricSink = Callable[["_Metric", Any, dict[str, Any]], None]


class _Metric:
    """Shared part of the built-in metrics.

    With ``sink`` None the metric records nothing and checks nothing (the no-op
    meter, as temporalio's); otherwise each value is checked and passed to ``sink``
    with the metric and its merged attributes, which is how a runtime exports them.
    ``kind`` is ``counter``, ``histogram``, ``histogram_float``,
    ``histogram_timedelta``, ``gauge`` or ``gauge_float``.
    """

    def __init__(
        self,
        kind: str,
        name: str,
        description: str | None,
        unit: str | None,
        attributes: Mapping[str, Any],
        sink: MetricSink | None,
    ) -> None:
        self.kind, self._name = kind, name
        self._description, self._unit = description, unit
        self._attributes = dict(attributes)
        self._sink = sink

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str | None:
        return self._description

    @property
    def unit(self) -> str | None:
        return self._unit

    def with_additional_attributes(self, additional_attributes: MetricAttributes) -> Any:
        if self._sink is None:
            return self
        _check_attributes(additional_attributes)
        merged = {**self._attributes, **additional_attributes}
        return type(self)(self.kind, self._name, self._description, self._unit, merged, self._sink)

    def _emit(self, value: Any, extra: MetricAttributes | None) -> None:
        if self._sink is None:
            return
        if value < (timedelta(0) if isinstance(value, timedelta) else 0):
            raise ValueError("Metric value cannot be negative")
        attributes = self._attributes
        if extra:
            _check_attributes(extra)
            attributes = {**attributes, **extra}
        self._sink(self, value, attributes)


class _Counter(_Metric, MetricCounter):
    def add(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        self._emit(value, additional_attributes)


class _Histogram(_Metric, MetricHistogram):
    def record(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        self._emit(value, additional_attributes)


class _HistogramFloat(_Metric, MetricHistogramFloat):
    def record(self, value: float, additional_attributes: MetricAttributes | None = None) -> None:
        self._emit(value, additional_attributes)


class _HistogramTimedelta(_Metric, MetricHistogramTimedelta):
    def record(
        self, value: timedelta, additional_attributes: MetricAttributes | None = None
    ) -> None:
        self._emit(value, additional_attributes)


class _Gauge(_Metric, MetricGauge):
    def set(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        self._emit(value, additional_attributes)


class _GaugeFloat(_Metric, MetricGaugeFloat):
    def set(self, value: float, additional_attributes: MetricAttributes | None = None) -> None:
        self._emit(value, additional_attributes)


class _CallbackMetricMeter(MetricMeter):
    """A meter whose metrics hand every recorded value to ``sink`` (synchronously),
    or, without a sink, drop it."""

    def __init__(
        self, sink: MetricSink | None = None, attributes: MetricAttributes | None = None
    ) -> None:
        self._sink = sink
        self._attributes = dict(attributes or {})

    def _make(self, cls: type, kind: str, name: str, description: Any, unit: Any) -> Any:
        return cls(kind, name, description, unit, self._attributes, self._sink)

    def create_counter(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricCounter:
        return self._make(_Counter, "counter", name, description, unit)

    def create_histogram(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricHistogram:
        return self._make(_Histogram, "histogram", name, description, unit)

    def create_histogram_float(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricHistogramFloat:
        return self._make(_HistogramFloat, "histogram_float", name, description, unit)

    def create_histogram_timedelta(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricHistogramTimedelta:
        return self._make(_HistogramTimedelta, "histogram_timedelta", name, description, unit)

    def create_gauge(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricGauge:
        return self._make(_Gauge, "gauge", name, description, unit)

    def create_gauge_float(
        self, name: str, description: str | None = None, unit: str | None = None
    ) -> MetricGaugeFloat:
        return self._make(_GaugeFloat, "gauge_float", name, description, unit)

    def with_additional_attributes(self, additional_attributes: MetricAttributes) -> MetricMeter:
        if self._sink is None:
            return self
        _check_attributes(additional_attributes)
        return _CallbackMetricMeter(self._sink, {**self._attributes, **additional_attributes})

    def _recording_only_when(self, allowed: Callable[[], bool]) -> MetricMeter:
        """This meter, but values recorded while ``allowed()`` is false are dropped
        (a workflow's meter: nothing is recorded while the workflow replays)."""
        sink = self._sink
        if sink is None:
            return self

        def gated(metric: _Metric, value: Any, attributes: dict[str, Any]) -> None:
            if allowed():
                sink(metric, value, attributes)

        return _CallbackMetricMeter(gated, self._attributes)


MetricMeter.noop = _CallbackMetricMeter()


# --- priority and versioning ---------------------------------------------------


@dataclass(frozen=True)
class Priority:
    """Ordering and fairness hints for backlogged tasks.

    Unset (``None``) fields are inherited from the calling workflow, or take
    the defaults documented on each field.
    """

    priority_key: int | None = None
    """1 = most urgent. Lower numbers run first; the default is the middle (3 of 1..5)."""

    fairness_key: str | None = None
    """Short key (e.g. a tenant ID) that dispatch is balanced across."""

    fairness_weight: float | None = None
    """Relative share of dispatch for the fairness key (default 1.0)."""

    default: ClassVar[Priority]
    """An instance with every field unset."""

    def __post_init__(self) -> None:
        """Check that ``priority_key`` is a positive integer."""
        if self.priority_key is not None:
            if not isinstance(self.priority_key, int):
                raise TypeError("priority_key must be an integer")
            if self.priority_key < 1:
                raise ValueError("priority_key must be a positive integer")

    @staticmethod
    def _from_proto(proto: hotmesh_temporal.api.common.v1.Priority) -> Priority:
        return Priority(
            priority_key=proto.priority_key or None,
            fairness_key=proto.fairness_key or None,
            fairness_weight=proto.fairness_weight or None,
        )

    def _to_proto(self) -> hotmesh_temporal.api.common.v1.Priority:
        proto = hotmesh_temporal.api.common.v1.Priority(priority_key=self.priority_key or 0)
        if self.fairness_key is not None:
            proto.fairness_key = self.fairness_key
        if self.fairness_weight is not None:
            proto.fairness_weight = self.fairness_weight
        return proto


Priority.default = Priority(priority_key=None, fairness_key=None, fairness_weight=None)


class VersioningBehavior(IntEnum):
    """Whether a workflow may move between worker builds."""

    UNSPECIFIED = 0
    """Not stated; workers using versioning must choose one of the others."""
    PINNED = 1
    """Stays on the build it started on unless moved by hand."""
    AUTO_UPGRADE = 2
    """Moves to the current build at its next workflow task."""


@dataclass(frozen=True)
class WorkerDeploymentVersion:
    """One build of a worker deployment."""

    deployment_name: str
    build_id: str

    def to_canonical_string(self) -> str:
        """``"<deployment_name>.<build_id>"``."""
        return f"{self.deployment_name}.{self.build_id}"

    @staticmethod
    def from_canonical_string(canonical: str) -> WorkerDeploymentVersion:
        """Parse ``"<deployment_name>.<build_id>"`` (the name has no dot)."""
        name, sep, build_id = canonical.partition(".")
        if not sep:
            raise ValueError(
                f"Cannot parse version string: {canonical}, must be in format "
                "<deployment_name>.<build_id>"
            )
        return WorkerDeploymentVersion(name, build_id)

    def _to_json_dict(self) -> dict[str, Any]:
        return {"deploymentName": self.deployment_name, "buildId": self.build_id}


class VersioningOverride(ABC):
    """Overrides the versioning behavior of one workflow execution."""

    @abstractmethod
    def _to_json_dict(self) -> dict[str, Any]:
        """Temporal's JSON form of the override."""


@dataclass(frozen=True)
class PinnedVersioningOverride(VersioningOverride):
    """Pin the workflow to one deployment version."""

    version: WorkerDeploymentVersion

    def _to_json_dict(self) -> dict[str, Any]:
        return {
            "behavior": "VERSIONING_BEHAVIOR_PINNED",
            "pinnedVersion": self.version.to_canonical_string(),
            "pinned": {
                "version": self.version._to_json_dict(),
                "behavior": "PINNED_OVERRIDE_BEHAVIOR_PINNED",
            },
        }


@dataclass(frozen=True)
class AutoUpgradeVersioningOverride(VersioningOverride):
    """Move the workflow to the current version at its next workflow task."""

    def _to_json_dict(self) -> dict[str, Any]:
        return {"behavior": "VERSIONING_BEHAVIOR_AUTO_UPGRADE", "autoUpgrade": True}


@dataclass(frozen=True)
class OneTimeVersioningOverride(VersioningOverride):
    """Send workflow tasks to one version until a task completes there.

    .. warning::
        Experimental.
    """

    target_version: WorkerDeploymentVersion

    def _to_json_dict(self) -> dict[str, Any]:
        return {"oneTime": {"targetDeploymentVersion": self.target_version._to_json_dict()}}


class HeaderCodecBehavior(IntEnum):
    """Which headers the payload codec is applied to."""

    NO_CODEC = 1
    """Headers are never encoded or decoded."""
    CODEC = 2
    """All headers are encoded and decoded."""
    WORKFLOW_ONLY_CODEC = 3
    """Only headers of workflow activations are encoded and decoded."""


# --- helpers shared by the SDK modules (not public API) ------------------------

_arg_unset = object()
"""Marks an ``arg`` parameter that was not passed (``None`` is a real argument)."""


def _arg_or_args(arg: Any, args: Sequence[Any]) -> Sequence[Any]:
    """Merge the single ``arg`` and the ``args`` list forms of SDK calls."""
    if arg is _arg_unset:
        return args
    if args:
        raise ValueError("Cannot have arg and args")
    return [arg]


def _apply_headers(
    source: Mapping[str, hotmesh_temporal.api.common.v1.Payload] | None,
    dest: Any,
) -> None:
    """Copy header payloads into a message map (``Header.fields``)."""
    if source is None:
        return
    for key, payload in source.items():
        dest[key].CopyFrom(payload)


_NON_USER_CALLABLES = (
    type(type.__call__),
    type(all.__call__),  # type: ignore[attr-defined]
    type(int.__dict__["from_bytes"]),
    types.BuiltinFunctionType,
)


def _type_hints_from_func(func: Callable) -> tuple[list[type] | None, type | None]:
    """Parameter type hints and return hint of ``func``.

    Parameter hints are ``None`` when any parameter is keyword-only or
    variadic; an unannotated parameter gets a ``None`` hint. A leading
    unannotated ``self`` is skipped. Callable instances and classes are
    inspected through their ``__call__``.
    """
    if not (
        inspect.isfunction(func)
        or isinstance(func, _NON_USER_CALLABLES)
        or isinstance(func, types.MethodType)
    ):
        owner = func if isinstance(func, type) else type(func)
        call = getattr(owner, "__call__", None)  # noqa: B004 (the bound __call__ itself)
        if call is not None and not isinstance(owner, _NON_USER_CALLABLES):
            func = call
    sig = inspect.signature(func)
    hints = get_type_hints(func)
    ret = hints.get("return")
    params: list[type] = []
    for index, param in enumerate(sig.parameters.values()):
        is_bare_self = (
            index == 0
            and param.name == "self"
            and (
                param.annotation is inspect.Parameter.empty
                or str(param.annotation) == "typing.Self"
            )
        )
        if is_bare_self:
            continue
        if param.kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            return None, ret
        params.append(hints.get(param.name))  # type: ignore[arg-type]
    return params, ret


@dataclass
class _CompositeEvent:
    """A threading event paired with an optional asyncio event (activity cancel)."""

    thread_event: threading.Event | None
    async_event: asyncio.Event | None

    def set(self) -> None:
        if not self.thread_event:
            raise RuntimeError("Missing event")
        self.thread_event.set()
        if self.async_event:
            self.async_event.set()

    def is_set(self) -> bool:
        if not self.thread_event:
            raise RuntimeError("Missing event")
        return self.thread_event.is_set()

    async def wait(self) -> None:
        if not self.async_event:
            raise RuntimeError("not in async activity")
        await self.async_event.wait()

    def wait_sync(self, timeout: float | None = None) -> None:
        if not self.thread_event:
            raise RuntimeError("Missing event")
        self.thread_event.wait(timeout)
