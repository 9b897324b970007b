"""The gevent loop check must cost nothing, and import nothing, where gevent is absent:
the package does not depend on it, and a plain asyncio loop must connect as before."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_plain_loop_passes_the_check_without_gevent_installed() -> None:
    # In a fresh interpreter where importing gevent fails, as on a machine without it
    # (the test environment has gevent, for tests/integration/test_gevent.py).
    script = textwrap.dedent(
        """
        import asyncio, sys
        sys.modules["gevent"] = None  # any import of gevent now raises ImportError
        from hotmesh_temporal._engine.service.loop_checks import check_loop_can_do_io

        async def main():
            check_loop_can_do_io(asyncio.get_running_loop())
            return "ok"

        print(asyncio.run(main()))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
