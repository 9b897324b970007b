"""State shared with activities that run in a process pool (``temporalio.worker``'s
``SharedStateManager`` and ``SharedHeartbeatSender``).

A sync activity in another process cannot reach the worker's event loop. The worker
gives it events it can wait on (cancellation, worker shutdown) and a heartbeat sender;
both are made by a ``SharedStateManager`` from a ``multiprocessing`` manager, so they
cross the process boundary. Heartbeats travel through one manager queue that a thread
in the worker's process drains, handing each to the attempt it belongs to.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("hotmesh_temporal.worker")

_POLL_SECONDS = 0.5


class SharedHeartbeatSender(ABC):
    """Sends heartbeats from a child process to the worker."""

    @abstractmethod
    def send_heartbeat(self, task_token: bytes, *details: Any) -> None:
        """Record a heartbeat of the attempt ``task_token`` names."""


class SharedStateManager(ABC):
    """Makes the events and heartbeat senders that process-pool activities use."""

    @staticmethod
    def create_from_multiprocessing(
        mgr: Any,
        queue_poller_executor: concurrent.futures.Executor | None = None,
    ) -> SharedStateManager:
        """A manager backed by ``mgr`` (a started ``multiprocessing.Manager()``).

        ``queue_poller_executor`` runs the thread that drains heartbeats (default: a
        one-thread pool of its own)."""
        return _MultiprocessingSharedStateManager(mgr, queue_poller_executor)

    @abstractmethod
    def new_event(self) -> threading.Event:
        """An event both processes can set and wait on."""

    @abstractmethod
    def register_heartbeater(
        self, task_token: bytes, heartbeat: Callable[..., None]
    ) -> SharedHeartbeatSender:
        """Route heartbeats for ``task_token`` to ``heartbeat``; returns the sender to
        give the child process."""

    @abstractmethod
    def unregister_heartbeater(self, task_token: bytes) -> None:
        """Stop routing heartbeats for ``task_token``."""


class _QueueHeartbeatSender(SharedHeartbeatSender):
    def __init__(self, heartbeats: Any) -> None:
        self._queue = heartbeats

    def send_heartbeat(self, task_token: bytes, *details: Any) -> None:
        self._queue.put((task_token, details))


class _MultiprocessingSharedStateManager(SharedStateManager):
    def __init__(self, mgr: Any, executor: concurrent.futures.Executor | None) -> None:
        self._mgr = mgr
        self._queue = mgr.Queue()
        self._sender = _QueueHeartbeatSender(self._queue)
        self._heartbeaters: dict[bytes, Callable[..., None]] = {}
        self._lock = threading.Lock()
        self._executor = executor
        self._poller: concurrent.futures.Future | None = None

    def new_event(self) -> threading.Event:
        return self._mgr.Event()

    def register_heartbeater(
        self, task_token: bytes, heartbeat: Callable[..., None]
    ) -> SharedHeartbeatSender:
        with self._lock:
            self._heartbeaters[task_token] = heartbeat
            if self._poller is None or self._poller.done():
                if self._executor is None:
                    self._executor = concurrent.futures.ThreadPoolExecutor(
                        1, thread_name_prefix="hotmesh-heartbeats"
                    )
                self._poller = self._executor.submit(self._drain)
        return self._sender

    def unregister_heartbeater(self, task_token: bytes) -> None:
        with self._lock:
            self._heartbeaters.pop(task_token, None)

    def _drain(self) -> None:
        """Hand queued heartbeats to their attempts until none is registered."""
        while True:
            try:
                task_token, details = self._queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                with self._lock:
                    if not self._heartbeaters:
                        self._poller = None
                        return
                continue
            except Exception as err:  # noqa: BLE001 - the manager process went away
                # Usually EOFError or OSError; a manager stopping mid-request may send
                # back an error of its own instead. Either way the queue is gone, and a
                # drain thread that died silently would hide it.
                closed_by = err
                with self._lock:
                    orphaned = bool(self._heartbeaters)
                # After the last attempt unregistered this is an ordinary shutdown (the
                # manager stopped within the last poll); with attempts still running,
                # their heartbeats are lost, which is worth a warning. Logged before the
                # poller is cleared, so whoever sees it gone also sees the warning.
                if orphaned:
                    logger.warning(
                        "heartbeat queue closed; process-pool heartbeats stop (%r)", closed_by
                    )
                with self._lock:
                    self._poller = None
                return
            with self._lock:
                heartbeat = self._heartbeaters.get(task_token)
            if heartbeat is not None:
                try:
                    heartbeat(*details)
                except Exception:  # a failing heartbeat must not stop the others
                    logger.exception("could not record a process-pool heartbeat")
