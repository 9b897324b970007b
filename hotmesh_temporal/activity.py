"""Activity definitions and the functions activity code calls while it runs.

Same names and behaviour as ``temporalio.activity``: ``@activity.defn`` marks a function
(or method) as an activity, and inside an attempt ``activity.info()``,
``heartbeat()``, ``is_cancelled()`` and friends reach the attempt that runs it.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import logging
import threading
import typing
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import (
    TYPE_CHECKING,
    Any,
    NoReturn,
    TypeVar,
    overload,
)

import hotmesh_temporal.common

if TYPE_CHECKING:
    import hotmesh_temporal.client
    import hotmesh_temporal.converter

CallableType = TypeVar("CallableType", bound=Callable[..., Any])


# --------------------------------------------------------------------- definition


@dataclass(frozen=True)
class _Definition:
    name: str | None
    fn: Callable[..., Any]
    is_async: bool
    no_thread_cancel_exception: bool
    arg_types: Sequence[Any] | None
    ret_type: Any | None

    @staticmethod
    def from_callable(fn: Callable[..., Any]) -> _Definition | None:
        defn = getattr(fn, "__temporal_activity_definition", None)
        if isinstance(defn, _Definition) and defn.fn is not fn:
            # A bound method or a callable instance: the decorator saw the plain
            # function (or the class), but calls must go to what was registered.
            defn = dataclasses.replace(defn, fn=fn)
        return defn

    @staticmethod
    def must_from_callable(fn: Callable[..., Any]) -> _Definition:
        defn = _Definition.from_callable(fn)
        if defn is None:
            name = getattr(fn, "__name__", "<unknown>")
            raise TypeError(
                f"Activity {name} missing attributes, was it decorated with @activity.defn?"
            )
        return defn


def _arg_and_return_types(fn: Callable[..., Any]) -> tuple:
    try:
        import typing

        hints = typing.get_type_hints(fn)
        sig = inspect.signature(fn)
    except Exception:
        return None, None
    params = [p for p in sig.parameters.values() if p.name != "self"]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return None, hints.get("return")
    return [hints.get(p.name) for p in params], hints.get("return")


def _is_raw_value_sequence(arg_types: Sequence[Any] | None) -> bool:
    raw = hotmesh_temporal.common.RawValue
    return (
        arg_types is not None
        and len(arg_types) == 1
        and arg_types[0] in (Sequence[raw], typing.Sequence[raw])  # type: ignore[valid-type]  # noqa: UP006
    )


def _is_async_callable(fn: Any) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 (the bound __call__ itself)
    return call is not None and inspect.iscoroutinefunction(call)


@overload
def defn(fn: CallableType) -> CallableType: ...


@overload
def defn(
    *, name: str | None = None, no_thread_cancel_exception: bool = False
) -> Callable[[CallableType], CallableType]: ...


@overload
def defn(
    *, no_thread_cancel_exception: bool = False, dynamic: bool = False
) -> Callable[[CallableType], CallableType]: ...


def defn(
    fn: CallableType | None = None,
    *,
    name: str | None = None,
    no_thread_cancel_exception: bool = False,
    dynamic: bool = False,
) -> Any:
    """Mark a function or method as an activity.

    The activity type name is ``name`` when given, else the function's ``__name__``.
    A dynamic activity (``dynamic=True``) has no name: it runs for every activity type
    no other activity of the worker is registered for, and takes a single
    ``Sequence[RawValue]`` argument.
    """

    def decorate(target: CallableType) -> CallableType:
        if dynamic and name:
            raise RuntimeError("A dynamic activity cannot have a name")
        activity_name = None if dynamic else (name or getattr(target, "__name__", None))
        if not dynamic and not activity_name:
            raise TypeError("Activity must have a name (callable objects need name=...)")
        if hasattr(target, "__temporal_activity_definition"):
            raise ValueError("Function already contains activity definition")
        if not callable(target):
            raise TypeError("Activity is not callable")
        # Arguments travel as a positional list, so nothing could fill these.
        if any(
            p.kind is inspect.Parameter.KEYWORD_ONLY
            for p in inspect.signature(target).parameters.values()
        ):
            raise TypeError("Activity cannot have keyword-only arguments")
        # A decorated callable class: its instances are what runs, through __call__.
        typed = target.__call__ if inspect.isclass(target) else target
        arg_types, ret_type = _arg_and_return_types(typed)
        if dynamic and not _is_raw_value_sequence(arg_types):
            raise TypeError(
                "Dynamic activity must accept a single Sequence[hotmesh_temporal.common.RawValue]"
            )
        definition = _Definition(
            name=activity_name,
            fn=target,
            is_async=_is_async_callable(target),
            no_thread_cancel_exception=no_thread_cancel_exception,
            arg_types=arg_types,
            ret_type=ret_type,
        )
        setattr(target, "__temporal_activity_definition", definition)
        return target

    if fn is not None:
        return decorate(fn)
    return decorate


# ---------------------------------------------------------------------------- info


@dataclass(frozen=True)
class Info:
    """What an activity attempt knows about itself (``activity.info()``)."""

    activity_id: str
    activity_type: str
    attempt: int
    current_attempt_scheduled_time: datetime
    heartbeat_details: Sequence[Any]
    heartbeat_timeout: timedelta | None
    is_local: bool
    namespace: str
    schedule_to_close_timeout: timedelta | None
    scheduled_time: datetime
    start_to_close_timeout: timedelta | None
    started_time: datetime
    task_queue: str
    task_token: bytes
    workflow_id: str | None
    workflow_namespace: str | None
    workflow_run_id: str | None
    workflow_type: str | None
    priority: hotmesh_temporal.common.Priority
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    activity_run_id: str | None = None

    @property
    def in_workflow(self) -> bool:
        """True when a workflow scheduled this activity."""
        return self.workflow_id is not None

    def _logger_details(self) -> Mapping[str, Any]:
        return {
            "activity_id": self.activity_id,
            "activity_type": self.activity_type,
            "attempt": self.attempt,
            "namespace": self.namespace,
            "task_queue": self.task_queue,
            "workflow_id": self.workflow_id,
            "workflow_run_id": self.workflow_run_id,
            "workflow_type": self.workflow_type,
        }


@dataclass(frozen=True)
class ActivityCancellationDetails:
    """Why an activity was cancelled (``activity.cancellation_details()``)."""

    not_found: bool = False
    cancel_requested: bool = False
    paused: bool = False
    reset: bool = False
    timed_out: bool = False
    worker_shutdown: bool = False


# ------------------------------------------------------------------------- context


class _CompleteAsyncError(BaseException):
    """Raised by raise_complete_async(): the attempt ends without a result; the
    activity is completed later through the client's async activity handle."""


@dataclasses.dataclass
class _Context:
    info: Callable[[], Info]
    heartbeat: Callable[..., None] | None
    cancelled: threading.Event
    worker_shutdown: threading.Event
    payload_converter_factory: Callable[[], Any]
    client: Any | None = None
    # The worker's runtime meter; None where metrics cannot be recorded (process pools).
    runtime_metric_meter: Any = None
    cancellation_details: ActivityCancellationDetails | None = None
    # Set for a sync activity in a thread (unless no_thread_cancel_exception): what
    # raises its cancellation inside that thread.
    thread_raiser: _ThreadCancelRaiser | None = None
    async_cancelled: asyncio.Event | None = None
    async_shutdown: asyncio.Event | None = None
    _logger_details: Mapping[str, Any] | None = None
    _metric_meter: Any = None

    @property
    def logger_details(self) -> Mapping[str, Any]:
        if self._logger_details is None:
            self._logger_details = self.info()._logger_details()
        return self._logger_details


_current_context: contextvars.ContextVar[_Context] = contextvars.ContextVar("hotmesh_activity")


def _context() -> _Context:
    ctx = _current_context.get(None)
    if ctx is None:
        raise RuntimeError("Not in activity context")
    return ctx


def in_activity() -> bool:
    """Whether the caller runs inside an activity attempt."""
    return _current_context.get(None) is not None


def info() -> Info:
    """The info of the running activity attempt."""
    return _context().info()


def client() -> hotmesh_temporal.client.Client:
    """The client of the worker running this activity (not available in local
    activities or in ActivityEnvironment unless one was given)."""
    ctx = _context()
    if ctx.client is None:
        raise RuntimeError("No client available in this activity context")
    return ctx.client


def cancellation_details() -> ActivityCancellationDetails | None:
    """Why the activity was cancelled, once it has been."""
    return _context().cancellation_details


def heartbeat(*details: Any) -> None:
    """Record a heartbeat with optional progress details.

    Heartbeats keep an activity with a heartbeat timeout alive, carry ``details`` to
    the next attempt (``info().heartbeat_details``), and are how a running activity
    learns that its workflow asked to cancel it. Calls are throttled by the worker.
    """
    ctx = _context()
    if ctx.heartbeat is not None:
        ctx.heartbeat(*details)


def is_cancelled() -> bool:
    """Whether cancellation was requested for this attempt."""
    return _context().cancelled.is_set()


@contextmanager
def shield_thread_cancel_exception() -> Iterator[None]:
    """Within this block a threaded activity is not interrupted by cancellation: a
    cancellation arriving meanwhile is raised when the outermost block ends (even if
    the block returned or raised). No effect on other activities."""
    raiser = _context().thread_raiser
    if raiser is None:
        yield None
        return
    with raiser.shielded():
        yield None


class _ThreadCancelRaiser:
    """Raises ``CancelledError`` inside the thread running a sync activity, as
    temporalio does: at once (between two bytecodes of whatever the thread runs), or,
    within :func:`shield_thread_cancel_exception`, when the outermost shield ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread_id: int | None = None
        self._pending: type[BaseException] | None = None
        self._shield_depth = 0

    @contextmanager
    def running_here(self) -> Iterator[None]:
        """Around the activity function, in its thread: the thread to raise in."""
        with self._lock:
            # As temporalio: a cancellation that came before the thread started stays
            # pending (raised at the end of a shield, if any) rather than raised here.
            self._thread_id = threading.get_ident()
        try:
            yield None
        finally:
            with self._lock:
                # The thread goes back to its pool: nothing may be raised in it now.
                self._thread_id = None
                self._pending = None

    def raise_in_thread(self, exc_type: type[BaseException]) -> None:
        with self._lock:
            self._pending = exc_type
            self._raise_if_due()

    @contextmanager
    def shielded(self) -> Iterator[None]:
        with self._lock:
            self._shield_depth += 1
        try:
            yield None
        finally:
            with self._lock:
                self._shield_depth -= 1
                self._raise_if_due()

    def _raise_if_due(self) -> None:
        if self._thread_id is None or self._shield_depth or self._pending is None:
            return
        _raise_in_thread(self._thread_id, self._pending)
        self._pending = None


def _raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> None:
    """Have ``thread_id`` raise ``exc_type`` at its next bytecode (CPython's
    PyThreadState_SetAsyncExc; a thread blocked in C code raises when it returns)."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc_type)
    )


async def wait_for_cancelled() -> None:
    """Wait until cancellation is requested (async activities)."""
    ctx = _context()
    if ctx.async_cancelled is None:
        raise RuntimeError(
            "wait_for_cancelled() is for async activities; use wait_for_cancelled_sync()"
        )
    await ctx.async_cancelled.wait()


def wait_for_cancelled_sync(timeout: timedelta | float | None = None) -> None:
    """Block until cancellation is requested or ``timeout`` passes (sync activities)."""
    _context().cancelled.wait(_seconds(timeout))


def is_worker_shutdown() -> bool:
    """Whether the worker running this activity started shutting down."""
    return _context().worker_shutdown.is_set()


async def wait_for_worker_shutdown() -> None:
    """Wait until the worker starts shutting down (async activities)."""
    ctx = _context()
    if ctx.async_shutdown is None:
        raise RuntimeError(
            "wait_for_worker_shutdown() is for async activities; use wait_for_worker_shutdown_sync()"
        )
    await ctx.async_shutdown.wait()


def wait_for_worker_shutdown_sync(timeout: timedelta | float | None = None) -> None:
    """Block until the worker starts shutting down or ``timeout`` passes."""
    _context().worker_shutdown.wait(_seconds(timeout))


def raise_complete_async() -> NoReturn:
    """End this attempt without completing the activity: it is completed later,
    from anywhere, with ``client.get_async_activity_handle(...)``."""
    raise _CompleteAsyncError()


def payload_converter() -> hotmesh_temporal.converter.PayloadConverter:
    """The payload converter of the worker running this activity."""
    return _context().payload_converter_factory()


def metric_meter() -> hotmesh_temporal.common.MetricMeter:
    """The metric meter for this activity: the worker's runtime meter with
    ``namespace``, ``task_queue`` and ``activity_type`` attributes (it records
    nothing unless the runtime has metrics). Not available in process-pool
    activities (``RuntimeError``)."""
    ctx = _context()
    if ctx.runtime_metric_meter is None:
        raise RuntimeError(
            "Metrics meter not available in non-threaded sync activities like multiprocess"
        )
    if ctx._metric_meter is None:
        info = ctx.info()
        ctx._metric_meter = ctx.runtime_metric_meter.with_additional_attributes(
            {
                "namespace": info.namespace,
                "task_queue": info.task_queue,
                "activity_type": info.activity_type,
            }
        )
    return ctx._metric_meter


def _seconds(timeout: timedelta | float | None) -> float | None:
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    return timeout


# -------------------------------------------------------------------------- logger


class LoggerAdapter(logging.LoggerAdapter):
    """A logger that adds the running activity's details to each record: appended to
    the message, and as the ``temporal_activity`` extra (the same switches as
    temporalio: ``activity_info_on_message``, ``activity_info_on_extra``,
    ``full_activity_info_on_extra``)."""

    def __init__(self, logger: logging.Logger, extra: Mapping[str, Any] | None) -> None:
        super().__init__(logger, extra or {})
        self.activity_info_on_message = True
        self.activity_info_on_extra = True
        self.full_activity_info_on_extra = False

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        ctx = _current_context.get(None)
        if ctx is None:
            return msg, kwargs
        details = ctx.logger_details
        if self.activity_info_on_message:
            msg = f"{msg} ({details})"
        if self.activity_info_on_extra or self.full_activity_info_on_extra:
            extra = dict(kwargs.get("extra") or {})
            if self.activity_info_on_extra:
                extra["temporal_activity"] = details
            if self.full_activity_info_on_extra:
                extra["activity_info"] = ctx.info()
            kwargs["extra"] = extra
        return msg, kwargs

    @property
    def base_logger(self) -> logging.Logger:
        """The wrapped logger (to add handlers or formatters)."""
        return self.logger


logger = LoggerAdapter(logging.getLogger(__name__), None)
"""Logger for activity code: records carry the running activity's details."""
