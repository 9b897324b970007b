"""``ActivityEnvironment``: run activity code in an activity context, without a
worker or a database, with temporalio's API.

Cancellation of a sync (threaded) activity works as in this package's worker: the
activity sees ``activity.is_cancelled()`` at once, and its next
``activity.heartbeat()`` raises ``CancelledError`` (unless the activity was defined
with ``no_thread_cancel_exception=True`` or the call is inside
``shield_thread_cancel_exception()``).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import hotmesh_temporal.activity
import hotmesh_temporal.common
import hotmesh_temporal.converter
import hotmesh_temporal.exceptions
from hotmesh_temporal.activity import ActivityCancellationDetails

_Return = TypeVar("_Return")


class ActivityEnvironment:
    """Runs a function as an activity attempt, so it can use the
    ``hotmesh_temporal.activity`` functions.

    Attributes:
        info: what ``activity.info()`` returns (start from :meth:`default_info` and
            ``dataclasses.replace`` to change fields).
        on_heartbeat: called with the details of every ``activity.heartbeat()``.
        payload_converter: what ``activity.payload_converter()`` returns; set it
            before :meth:`run`.
        metric_meter: the meter ``activity.metric_meter()`` is made from (with the
            info's namespace, task queue and activity type as attributes); no-op by
            default; set it before :meth:`run`.
    """

    def __init__(self, client: Any | None = None) -> None:
        self.info = ActivityEnvironment.default_info()
        self.on_heartbeat: Callable[..., None] = lambda *args: None
        self.payload_converter = hotmesh_temporal.converter.DataConverter.default.payload_converter
        self.metric_meter = hotmesh_temporal.common.MetricMeter.noop
        self._client = client
        self._cancelled = False
        self._cancellation_details: ActivityCancellationDetails | None = None
        self._worker_shutdown = False
        self._activities: set[_RunningActivity] = set()

    @staticmethod
    def default_info() -> hotmesh_temporal.activity.Info:
        """The info a test activity sees unless :attr:`info` is replaced: ids
        ``"test"``, attempt 1, times at the Unix epoch, one-second timeouts."""
        epoch = datetime.fromtimestamp(0, timezone.utc)
        return hotmesh_temporal.activity.Info(
            activity_id="test",
            activity_type="unknown",
            attempt=1,
            current_attempt_scheduled_time=epoch,
            heartbeat_details=[],
            heartbeat_timeout=None,
            is_local=False,
            namespace="default",
            schedule_to_close_timeout=timedelta(seconds=1),
            scheduled_time=epoch,
            start_to_close_timeout=timedelta(seconds=1),
            started_time=epoch,
            task_queue="test",
            task_token=b"test",
            workflow_id="test",
            workflow_namespace="default",
            workflow_run_id="test-run",
            workflow_type="test",
            priority=hotmesh_temporal.common.Priority.default,
            retry_policy=None,
            activity_run_id=None,
        )

    def cancel(
        self,
        cancellation_details: ActivityCancellationDetails = ActivityCancellationDetails(  # noqa: B008
            cancel_requested=True
        ),
    ) -> None:
        """Request cancellation of the running activities (and of any run later);
        only the first call has an effect."""
        if self._cancelled:
            return
        self._cancelled = True
        self._cancellation_details = cancellation_details
        for running in list(self._activities):
            running.cancel()

    def worker_shutdown(self) -> None:
        """Tell the activities the worker is shutting down (first call only)."""
        if self._worker_shutdown:
            return
        self._worker_shutdown = True
        for running in list(self._activities):
            running.worker_shutdown()

    def run(self, fn: Callable[..., _Return], *args: Any, **kwargs: Any) -> _Return:
        """Call ``fn(*args, **kwargs)`` in an activity context. For an async ``fn``
        this returns the awaitable to await; for a sync one, its result."""
        return _RunningActivity(self, fn).run(*args, **kwargs)


class _RunningActivity:
    def __init__(self, env: ActivityEnvironment, fn: Callable) -> None:
        self.env = env
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            type(fn).__call__
        )
        defn = hotmesh_temporal.activity._Definition.from_callable(fn)
        raises_in_thread = not self.is_async and not (defn and defn.no_thread_cancel_exception)
        self.task: asyncio.Task | None = None
        self.context = hotmesh_temporal.activity._Context(
            info=lambda: env.info,
            heartbeat=lambda *details: env.on_heartbeat(*details),
            cancelled=threading.Event(),
            worker_shutdown=threading.Event(),
            payload_converter_factory=_converter_factory(env.payload_converter),
            client=env._client if self.is_async else None,
            runtime_metric_meter=env.metric_meter,
            thread_raiser=hotmesh_temporal.activity._ThreadCancelRaiser()
            if raises_in_thread
            else None,
        )

    def run(self, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return self._run_async(*args, **kwargs)
        with self._activity_context():
            if self.context.thread_raiser is None:
                return self.fn(*args, **kwargs)
            with self.context.thread_raiser.running_here():
                return self.fn(*args, **kwargs)

    async def _run_async(self, *args: Any, **kwargs: Any) -> Any:
        self.context.async_cancelled = asyncio.Event()
        self.context.async_shutdown = asyncio.Event()
        with self._activity_context():
            self.task = asyncio.get_running_loop().create_task(self.fn(*args, **kwargs))
            if self.env._cancelled:
                self.task.cancel()
            return await self.task

    @contextmanager
    def _activity_context(self) -> Iterator[None]:
        if self.env._cancelled:
            self.cancel()
        if self.env._worker_shutdown:
            self.worker_shutdown()
        self.env._activities.add(self)
        token = hotmesh_temporal.activity._current_context.set(self.context)
        try:
            yield None
        finally:
            hotmesh_temporal.activity._current_context.reset(token)
            self.env._activities.discard(self)

    def cancel(self) -> None:
        ctx = self.context
        ctx.cancellation_details = self.env._cancellation_details
        ctx.cancelled.set()
        if ctx.async_cancelled is not None:
            ctx.async_cancelled.set()
        if ctx.thread_raiser is not None:
            ctx.thread_raiser.raise_in_thread(hotmesh_temporal.exceptions.CancelledError)
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def worker_shutdown(self) -> None:
        self.context.worker_shutdown.set()
        if self.context.async_shutdown is not None:
            self.context.async_shutdown.set()


def _converter_factory(class_or_instance: Any) -> Callable[[], Any]:
    """``payload_converter`` may be a converter or its class (made once, when the
    activity first asks for it), as in temporalio."""
    if not isinstance(class_or_instance, type):
        return lambda: class_or_instance
    made: list = []

    def make() -> Any:
        if not made:
            made.append(class_or_instance())
        return made[0]

    return make
