"""The web UI in a real headless Chromium: ``hotmesh-temporal ui`` runs as a subprocess
on the session's schema, a worker in the test process runs the workflows, and
Playwright drives Debian's chromium (``/usr/bin/chromium``; no browser download).

The tests skip only when the ``ui`` extra (Starlette, uvicorn, Jinja2) or the driver
is not installed; a missing browser is a failure. Each page's screenshot is saved in
``tests/ui/screenshots/`` (or ``$HOTMESH_UI_SCREENSHOTS``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the ui extra is not installed")
pytest.importorskip("uvicorn", reason="the ui extra is not installed")
pytest.importorskip("jinja2", reason="the ui extra is not installed")
pytest.importorskip("playwright", reason="the playwright driver is not installed")

from hotmesh_temporal.worker import Worker  # noqa: E402
from tests.cli.workflows import ACTIVITIES, WORKFLOWS  # noqa: E402

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def _chromium() -> str:
    for path in [os.environ.get("HOTMESH_CHROMIUM", ""), *CHROMIUM_PATHS]:
        if path and Path(path).exists():
            return path
    found = shutil.which("chromium")
    if found:
        return found
    raise RuntimeError("no Chromium found: apt-get install chromium (or set HOTMESH_CHROMIUM)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UIServer:
    def __init__(self, base_url: str, process: asyncio.subprocess.Process) -> None:
        self.base_url = base_url
        self.process = process


async def start_ui(dsn: str, *extra: str) -> UIServer:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotmesh_temporal",
        "ui",
        "--dsn",
        dsn,
        "--port",
        str(port),
        *extra,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return UIServer(f"http://127.0.0.1:{port}", process)
        except OSError:
            if process.returncode is not None:
                err = (await process.stderr.read()).decode() if process.stderr else ""
                raise RuntimeError(f"the UI exited: {err}") from None
            await asyncio.sleep(0.05)
    process.kill()
    raise RuntimeError("the UI did not start listening")


async def stop_ui(server: UIServer) -> None:
    server.process.terminate()
    await server.process.wait()


@pytest.fixture(scope="session")
async def ui(migrated_dsn: str) -> AsyncIterator[UIServer]:
    server = await start_ui(migrated_dsn)
    yield server
    await stop_ui(server)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=_chromium(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("HOTMESH_UI_SCREENSHOTS", Path(__file__).parent / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def ui_task_queue() -> str:
    return f"ui-{uuid.uuid4()}"


@pytest.fixture(scope="session")
async def ui_worker(client, ui_task_queue) -> AsyncIterator[Worker]:
    async with Worker(
        client, task_queue=ui_task_queue, workflows=WORKFLOWS, activities=ACTIVITIES
    ) as worker:
        yield worker
