"""A worker under gevent, run the way temporalio's gevent sample runs one (the asyncio
loop in a thread of gevent's pool, activities and workflow tasks on an executor built on
that pool): it works, stops on Ctrl+C with nothing on stderr, and a loop made in another
thread than the one running it (whose sockets gevent never wakes) is refused at once
with the reason, instead of a connection that hangs and fails without one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("gevent", reason="the gevent tests need gevent (the dev extra has it)")

APP = Path(__file__).with_name("gevent_app.py")
# What gevent or asyncio print when a stopped worker leaves something behind.
NOISE = ("Traceback", "operation on destroyed loop", "Task was destroyed", "Exception ignored")


def start(target: str, mode: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(APP.parents[2]))
    return subprocess.Popen(
        [sys.executable, "-X", "dev", str(APP), target, f"tq-gevent-{uuid.uuid4()}", mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.timeout(90)
def test_worker_under_gevent_runs_and_stops_on_ctrl_c_quietly(migrated_dsn: str) -> None:
    proc = start(migrated_dsn, "serve")
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.strip())
        if line.strip() == "worker ready":
            break
    else:
        proc.wait(10)
        pytest.fail(f"the worker did not start: {lines}\n{proc.stderr.read()[-3000:]}")  # type: ignore[union-attr]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    lines += out.splitlines()
    assert proc.returncode == 0, err[-3000:]
    assert lines[:3] == [f"Hello, gevent {n} / Hi, gevent {n}" for n in range(3)]
    assert "exited" in out
    # Only the worker's own INFO line ('Beginning worker shutdown...') is logged.
    assert not [word for word in NOISE if word in err], err[-3000:]


@pytest.mark.timeout(90)
def test_loop_made_in_another_thread_is_refused_with_the_reason(migrated_dsn: str) -> None:
    proc = start(migrated_dsn, "foreign-loop")
    out, err = proc.communicate(timeout=80)
    assert proc.returncode != 0
    assert "RuntimeError: this asyncio event loop was created in another thread" in err, err[-3000:]
    assert "Create the loop in the thread that runs it" in err


@pytest.mark.timeout(90)
def test_embedded_postgres_that_gevent_cannot_start_says_why(embedded_tmp_path: Path) -> None:
    """With no Postgres and no HOTMESH_DSN a host:port target starts an embedded server;
    from the loop's thread under gevent it cannot start (gevent's subprocess refuses to
    wait for a child outside the main thread): the error says so and what to do."""
    proc = start(str(embedded_tmp_path / "pgdata"), "embedded")
    out, err = proc.communicate(timeout=80)
    assert proc.returncode != 0
    assert (
        "EmbeddedPostgresError: the embedded Postgres cannot be started from this thread" in err
    ), err[-3000:]
    assert "Set HOTMESH_DSN" in err
