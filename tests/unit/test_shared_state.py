"""SharedStateManager over a real multiprocessing manager: heartbeats are routed to
their attempt, and stopping the manager after the work is done is quiet."""

from __future__ import annotations

import logging
import multiprocessing
import time

import pytest

from hotmesh_temporal.worker import SharedStateManager


def _wait_for(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _drain_finished(state: SharedStateManager) -> bool:
    poller = state._poller  # type: ignore[attr-defined]
    return poller is None or poller.done()


def test_heartbeats_reach_their_attempt_and_a_later_shutdown_is_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    received: list[tuple] = []
    mgr = multiprocessing.Manager()
    state = SharedStateManager.create_from_multiprocessing(mgr)
    sender = state.register_heartbeater(b"attempt-1", lambda *d: received.append(d))
    sender.send_heartbeat(b"attempt-1", "step", 3)
    _wait_for(lambda: received == [("step", 3)])
    state.unregister_heartbeater(b"attempt-1")
    with caplog.at_level(logging.DEBUG, logger="hotmesh_temporal.worker"):
        mgr.shutdown()  # within the drain thread's poll: its next read fails
        _wait_for(lambda: _drain_finished(state))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_manager_gone_while_an_attempt_runs_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mgr = multiprocessing.Manager()
    state = SharedStateManager.create_from_multiprocessing(mgr)
    state.register_heartbeater(b"attempt-1", lambda *d: None)
    with caplog.at_level(logging.WARNING, logger="hotmesh_temporal.worker"):
        mgr.shutdown()
        _wait_for(lambda: _drain_finished(state))
    assert "heartbeat queue closed" in caplog.text
