"""A tracer provider for workflow code: a span is exported once, by the execution
that ends it live, however many times replays re-run the code that made it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import opentelemetry.sdk.trace as trace_sdk
import opentelemetry.trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    SpanLimits,
    SynchronousMultiSpanProcessor,
    sampling,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import (
    Link,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    TracerProvider,
)
from opentelemetry.util import types
from opentelemetry.util._decorator import _agnosticcontextmanager

import hotmesh_temporal.workflow
from hotmesh_temporal.contrib.opentelemetry._id_generator import TemporalIdGenerator
from hotmesh_temporal.contrib.opentelemetry._interceptor import _attached


def _current_run() -> Any:
    """The workflow run whose code is running on this thread, or None."""
    if not hotmesh_temporal.workflow.in_workflow():
        return None
    return hotmesh_temporal.workflow._runtime()


def _replaying_history() -> bool:
    return (
        hotmesh_temporal.workflow.in_workflow()
        and hotmesh_temporal.workflow.unsafe.is_replaying_history_events()
    )


def _replay_start_time(start_time: int | None) -> int | None:
    """A span started while history replays starts at the workflow time of the
    event being replayed (the wall clock of the replay means nothing)."""
    if start_time is None and _replaying_history():
        return hotmesh_temporal.workflow.time_ns()
    return start_time


class _ReplaySafeSpan(Span):
    """Forwards to the SDK span, but ``end`` records nothing when the span was made
    by workflow code and is not being ended by that run's live execution."""

    def __init__(self, span: Span):
        self._span = span
        self._run = _current_run()
        self._exception: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._span, name)

    def _may_end(self) -> bool:
        if self._run is not None and _current_run() is not self._run:
            # An evicted run's abandoned coroutine, finalized by the garbage
            # collector outside its run: the run's next execution ends it.
            return False
        if _replaying_history():
            return False  # the live execution that ended it first has exported it
        if (
            self._run is not None
            and self._exception is not None
            and not hotmesh_temporal.workflow.is_failure_exception(self._exception)
        ):
            # The workflow task fails and is retried: the retry ends the span.
            return False
        return True

    def end(self, end_time: int | None = None) -> None:
        if self._may_end():
            self._span.end(end_time=end_time)

    def get_span_context(self) -> SpanContext:
        return self._span.get_span_context()

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        self._span.set_attributes(attributes)

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def add_event(
        self,
        name: str,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
    ) -> None:
        self._span.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        # Span.add_link is a concrete no-op on the ABC, so __getattr__ never sees it.
        self._span.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._span.set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self._exception = exception
        self._span.record_exception(exception, attributes, timestamp, escaped)


class _ReplaySafeTracer(Tracer):
    def __init__(self, tracer: Tracer):
        self._tracer = tracer

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        span = self._tracer.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            _replay_start_time(start_time),
            record_exception,
            set_status_on_exception,
        )
        return _ReplaySafeSpan(span)

    @_agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        # opentelemetry's use_span, but detaching as _attached does: the coroutine of
        # an evicted run is finalized in another context, where the token is not valid.
        try:
            with _attached(opentelemetry.trace.set_span_in_context(span)):
                yield span
        except Exception as err:  # as use_span: BaseExceptions (GeneratorExit) are no errors
            if span.is_recording():
                if record_exception:
                    span.record_exception(err)
                if set_status_on_exception:
                    span.set_status(Status(StatusCode.ERROR, f"{type(err).__name__}: {err}"))
            raise
        finally:
            if end_on_exit:
                span.end()


class ReplaySafeTracerProvider(TracerProvider):
    """Wraps an SDK ``TracerProvider`` (whose id generator is a
    ``TemporalIdGenerator``) so that spans made by workflow code survive replays:
    a replay re-creates a span with the same ids, starting at the workflow time of
    the replayed event, and only the live execution that ends a span exports it.
    Spans made outside workflows are untouched. Build one with
    :func:`create_tracer_provider`."""

    def __init__(
        self,
        tracer_provider: trace_sdk.TracerProvider,
        id_generator: TemporalIdGenerator,
    ):
        """``ValueError`` when ``tracer_provider`` does not use a TemporalIdGenerator:
        replayed spans would get new ids."""
        if not isinstance(getattr(tracer_provider, "id_generator", None), TemporalIdGenerator):
            raise ValueError(
                "ReplaySafeTracerProvider needs a TracerProvider whose id_generator is a "
                "TemporalIdGenerator, so that replayed spans keep their ids; build one "
                "with create_tracer_provider()"
            )
        self._tracer_provider = tracer_provider
        self._id_generator = id_generator

    def add_span_processor(self, span_processor: trace_sdk.SpanProcessor) -> None:
        """Add ``span_processor`` to the wrapped provider."""
        self._tracer_provider.add_span_processor(span_processor)

    def shutdown(self) -> None:
        """Shut the wrapped provider down."""
        self._tracer_provider.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped provider's processors; False if they did not finish
        within ``timeout_millis``."""
        return self._tracer_provider.force_flush(timeout_millis)

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes | None = None,
    ) -> Tracer:
        """A replay-safe tracer of the wrapped provider."""
        return _ReplaySafeTracer(
            self._tracer_provider.get_tracer(
                instrumenting_module_name,
                instrumenting_library_version,
                schema_url,
                attributes,
            )
        )

    def id_generator(self) -> TemporalIdGenerator:
        """The TemporalIdGenerator of the wrapped provider."""
        return self._id_generator


def create_tracer_provider(
    sampler: sampling.Sampler | None = None,
    resource: Resource | None = None,
    shutdown_on_exit: bool = True,
    active_span_processor: SynchronousMultiSpanProcessor
    | ConcurrentMultiSpanProcessor
    | None = None,
    id_generator: IdGenerator | None = None,
    span_limits: SpanLimits | None = None,
) -> ReplaySafeTracerProvider:
    """A :class:`ReplaySafeTracerProvider` around a new SDK ``TracerProvider`` built
    with these arguments, its ids drawn by a ``TemporalIdGenerator`` wrapping
    ``id_generator`` (default: random ids)."""
    generator = TemporalIdGenerator(id_generator or RandomIdGenerator())
    provider = trace_sdk.TracerProvider(
        sampler=sampler,
        resource=resource,
        shutdown_on_exit=shutdown_on_exit,
        active_span_processor=active_span_processor,
        id_generator=generator,
        span_limits=span_limits,
    )
    return ReplaySafeTracerProvider(provider, generator)
