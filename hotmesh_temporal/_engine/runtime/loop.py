"""The deterministic asyncio event loop that workflow code runs in.

A workflow instance owns one :class:`WorkflowEventLoop`. The loop never waits on the
outside world: it runs the callbacks that are ready, in the order they became ready,
until none is left (:meth:`WorkflowEventLoop.run_once`). Time only moves when an
activation says so, and every delay (``asyncio.sleep``, ``wait_for`` timeouts,
``workflow.sleep``) becomes a durable timer command that the engine records in history.

During an activation the loop is installed as the thread's running loop, so standard
asyncio primitives (tasks, futures, ``gather``, ``wait``, ``shield``, locks, events,
queues, timeouts) work inside workflow code and stay deterministic.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
from asyncio import events
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, Protocol

from hotmesh_temporal._engine.runtime import activation as commands
from hotmesh_temporal.workflow._runtime_contract import RuntimeHost, WorkflowRuntime

logger = logging.getLogger(__name__)

# The user metadata ({"summary": Payload}) for the durable timer the current task is
# about to start: workflow.sleep(summary=) and wait_condition(timeout_summary=) set it
# around the asyncio call that reaches call_later, as temporalio does.
_TIMER_METADATA: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "hotmesh_timer_metadata", default=None
)


class TimerCommandSink(Protocol):
    """What the loop needs from its owner to turn delays into durable timers."""

    def next_timer_seq(self) -> int: ...

    def add_command(self, command: commands.Command) -> None: ...

    def discard_unsent_command(self, command: commands.Command) -> bool:
        """Remove a command issued in the current activation; False if already sent."""
        ...


class DurableTimerHandle(asyncio.TimerHandle):
    """A timer handle whose ``cancel()`` also cancels the durable timer."""

    def __init__(
        self,
        seq: int,
        command: commands.StartTimer,
        when: float,
        callback: Callable[..., Any],
        args: tuple,
        loop: WorkflowEventLoop,
        context: contextvars.Context | None,
    ) -> None:
        super().__init__(when, callback, args, loop, context=context)
        self.seq = seq
        self.start_command = command

    def cancel(self) -> None:
        if not self.cancelled():
            loop = self._loop
            assert isinstance(loop, WorkflowEventLoop)
            loop._cancel_durable_timer(self)
        super().cancel()


def _not_deterministic(name: str) -> Callable[..., Any]:
    def refuse(self: WorkflowEventLoop, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"{name}() is not allowed in a workflow: it is not deterministic. "
            "Do I/O, threads and subprocesses in an activity instead."
        )

    refuse.__name__ = name
    return refuse


class WorkflowEventLoop(asyncio.AbstractEventLoop, RuntimeHost):
    """An event loop driven by activations, with workflow time and durable timers."""

    def __init__(self, timer_sink: TimerCommandSink, start_time: float = 0.0) -> None:
        self._timer_sink = timer_sink
        self._ready: collections.deque[asyncio.Handle] = collections.deque()
        self._timers: dict[int, DurableTimerHandle] = {}
        self._time = start_time
        self._closed = False
        self._running = False
        self._exception_handler: Callable[..., Any] | None = None
        self._task_factory: Callable[..., Any] | None = None
        # Errors raised by plain callbacks (not tasks) during run_once; the instance
        # turns them into a workflow task failure.
        self.callback_errors: list[BaseException] = []
        # The workflow instance driving this loop; workflow._runtime.current_runtime()
        # finds it there.
        self.runtime: WorkflowRuntime | None = None

    # ------------------------------------------------------------------ driving

    def set_time(self, seconds_since_epoch: float) -> None:
        self._time = seconds_since_epoch

    @contextlib.contextmanager
    def running(self) -> Iterator[WorkflowEventLoop]:
        """Install this loop as the thread's running loop for the duration."""
        previous = events._get_running_loop()
        events._set_running_loop(self)
        self._running = True
        try:
            yield self
        finally:
            self._running = False
            events._set_running_loop(previous)

    @contextlib.contextmanager
    def timer_metadata(self, metadata: dict[str, Any] | None) -> Iterator[None]:
        """Durable timers started inside carry ``metadata`` (None: nothing to add)."""
        if metadata is None:
            yield
            return
        token = _TIMER_METADATA.set(metadata)
        try:
            yield
        finally:
            try:
                _TIMER_METADATA.reset(token)
            except ValueError:
                # The awaiting coroutine was closed from another context (the run was
                # evicted mid-sleep): the value belongs to a context that is gone.
                pass

    def run_once(self) -> None:
        """Run ready callbacks, and those they make ready, until none is left."""
        while self._ready:
            handle = self._ready.popleft()
            if not handle._cancelled:
                handle._run()

    def has_ready(self) -> bool:
        return bool(self._ready)

    def fire_timer(self, seq: int) -> None:
        """A durable timer fired: make its callback ready (unknown/cancelled: ignored)."""
        handle = self._timers.pop(seq, None)
        if handle is not None and not handle.cancelled():
            self._ready.append(handle)

    def pending_timer_seqs(self) -> list[int]:
        return list(self._timers)

    # ---------------------------------------------------------- scheduling API

    def time(self) -> float:
        return self._time

    def call_soon(
        self,
        callback: Callable[..., Any],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        self._check_closed()
        handle = asyncio.Handle(callback, args, self, context=context)
        self._ready.append(handle)
        return handle

    def call_soon_threadsafe(
        self,
        callback: Callable[..., Any],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        raise RuntimeError(
            "call_soon_threadsafe() is not allowed in a workflow: other threads cannot "
            "wake a workflow; use a signal or an update instead"
        )

    def call_later(
        self,
        delay: float,
        callback: Callable[..., Any],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        self._check_closed()
        if delay <= 0:
            # Nothing to wait for: run on the next pass without a durable timer.
            handle = asyncio.TimerHandle(self._time, callback, args, self, context=context)
            self._ready.append(handle)
            return handle
        seq = self._timer_sink.next_timer_seq()
        command = commands.StartTimer(
            seq=seq, duration=timedelta(seconds=delay), user_metadata=_TIMER_METADATA.get()
        )
        handle = DurableTimerHandle(seq, command, self._time + delay, callback, args, self, context)
        self._timers[seq] = handle
        self._timer_sink.add_command(command)
        return handle

    def call_at(
        self,
        when: float,
        callback: Callable[..., Any],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        return self.call_later(when - self._time, callback, *args, context=context)

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        # asyncio calls this hook from TimerHandle.cancel(); durable timers are
        # handled in DurableTimerHandle.cancel, immediate ones need nothing.
        pass

    def _cancel_durable_timer(self, handle: DurableTimerHandle) -> None:
        if self._timers.pop(handle.seq, None) is None:
            return  # already fired
        if not self._timer_sink.discard_unsent_command(handle.start_command):
            self._timer_sink.add_command(commands.CancelTimer(seq=handle.seq))

    # ------------------------------------------------------- futures and tasks

    def create_future(self) -> asyncio.Future:
        return asyncio.Future(loop=self)

    def create_task(
        self, coro: Any, *, name: str | None = None, context: Any = None
    ) -> asyncio.Task:
        self._check_closed()
        if self.runtime is not None:
            self.runtime.check_writable("create task")
        if self._task_factory is not None:
            if context is None:
                task = self._task_factory(self, coro)
            else:
                task = self._task_factory(self, coro, context=context)
            if name is not None:
                task.set_name(name)
            return task
        if context is None:
            task = asyncio.Task(coro, loop=self, name=name)
        else:
            task = asyncio.Task(coro, loop=self, name=name, context=context)
        return dropped_quietly(task)

    def set_task_factory(self, factory: Callable[..., Any] | None) -> None:
        self._task_factory = factory

    def get_task_factory(self) -> Callable[..., Any] | None:
        return self._task_factory

    # ------------------------------------------------------------ exceptions

    def get_exception_handler(self) -> Callable[..., Any] | None:
        return self._exception_handler

    def set_exception_handler(self, handler: Callable[..., Any] | None) -> None:
        self._exception_handler = handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if self._running and "handle" in context and isinstance(exc, BaseException):
            self.callback_errors.append(exc)
            return
        logger.error(context.get("message", "Unhandled error in workflow event loop"), exc_info=exc)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        if self._exception_handler is None:
            self.default_exception_handler(context)
            return
        try:
            self._exception_handler(self, context)
        except Exception:
            logger.exception("Workflow event loop exception handler failed")

    # ------------------------------------------------------------- lifecycle

    def is_running(self) -> bool:
        return self._running

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        self._ready.clear()
        self._timers.clear()

    def get_debug(self) -> bool:
        return False

    def set_debug(self, enabled: bool) -> None:
        pass

    async def shutdown_asyncgens(self) -> None:
        pass

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        pass

    def run_forever(self) -> None:
        raise RuntimeError("A workflow event loop is driven by activations, not run_forever()")

    def run_until_complete(self, future: Any) -> Any:
        raise RuntimeError(
            "A workflow event loop is driven by activations, not run_until_complete()"
        )

    def stop(self) -> None:
        pass

    def _check_closed(self) -> None:
        if self._closed:
            raise RuntimeError("Workflow event loop is closed")

    # --------------------------------------------- refused: not deterministic

    run_in_executor = _not_deterministic("run_in_executor")
    set_default_executor = _not_deterministic("set_default_executor")
    getaddrinfo = _not_deterministic("getaddrinfo")
    getnameinfo = _not_deterministic("getnameinfo")
    create_connection = _not_deterministic("create_connection")
    create_server = _not_deterministic("create_server")
    create_unix_connection = _not_deterministic("create_unix_connection")
    create_unix_server = _not_deterministic("create_unix_server")
    create_datagram_endpoint = _not_deterministic("create_datagram_endpoint")
    connect_accepted_socket = _not_deterministic("connect_accepted_socket")
    sendfile = _not_deterministic("sendfile")
    start_tls = _not_deterministic("start_tls")
    connect_read_pipe = _not_deterministic("connect_read_pipe")
    connect_write_pipe = _not_deterministic("connect_write_pipe")
    subprocess_shell = _not_deterministic("subprocess_shell")
    subprocess_exec = _not_deterministic("subprocess_exec")
    add_reader = _not_deterministic("add_reader")
    remove_reader = _not_deterministic("remove_reader")
    add_writer = _not_deterministic("add_writer")
    remove_writer = _not_deterministic("remove_writer")
    sock_recv = _not_deterministic("sock_recv")
    sock_recv_into = _not_deterministic("sock_recv_into")
    sock_recvfrom = _not_deterministic("sock_recvfrom")
    sock_recvfrom_into = _not_deterministic("sock_recvfrom_into")
    sock_sendall = _not_deterministic("sock_sendall")
    sock_sendto = _not_deterministic("sock_sendto")
    sock_connect = _not_deterministic("sock_connect")
    sock_accept = _not_deterministic("sock_accept")
    sock_sendfile = _not_deterministic("sock_sendfile")
    add_signal_handler = _not_deterministic("add_signal_handler")
    remove_signal_handler = _not_deterministic("remove_signal_handler")


def dropped_quietly(task: asyncio.Task) -> asyncio.Task:
    """Mark a task of a workflow loop as one that may be garbage-collected pending: an
    evicted or finished run drops its unfinished tasks (an activity or child handle
    never awaited, a handler still waiting) on purpose, so asyncio must not report
    "Task was destroyed but it is pending!" for them."""
    task._log_destroy_pending = False  # type: ignore[attr-defined]
    return task


def running_workflow_loop() -> WorkflowEventLoop | None:
    """The workflow loop running in this thread, if any (thread-local in asyncio)."""
    loop = events._get_running_loop()
    return loop if isinstance(loop, WorkflowEventLoop) else None
