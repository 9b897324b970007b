"""samples/yaml_order: the order graph's two branches, end to end on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from samples.yaml_order import workers
from samples.yaml_order.__main__ import place_orders

REPO = Path(__file__).resolve().parents[2]


async def test_both_branches(client, monkeypatch):
    monkeypatch.setitem(workers.STOCK, "mechanical keyboard", 10)
    monkeypatch.setitem(workers.STOCK, "vintage monitor", 1)

    reserved, backordered = await place_orders(client)

    assert reserved["status"] == "reserved"
    assert reserved["available"] == 10
    assert reserved["reservation_id"] == f"rsv-{reserved['order_id']}"
    assert "notice" not in reserved  # notifyBackorder did not run
    assert workers.STOCK["mechanical keyboard"] == 8  # reserveItem ran once

    assert backordered["status"] == "backordered"
    assert backordered["available"] == 1
    assert "reservation_id" not in backordered  # reserveItem did not run
    assert backordered["notice"] == (
        f"vintage monitor: 4 more on back order for {backordered['order_id']}"
    )
    assert workers.STOCK["vintage monitor"] == 1


_ON_EMBEDDED = """
import asyncio, runpy, sys
from hotmesh_temporal._engine.store import dsn

async def unreachable(_dsn):  # as on a machine without a Postgres on 127.0.0.1:5432
    return False

dsn._reachable = unreachable
sys.argv = ["samples.yaml_order"]
runpy.run_module("samples.yaml_order", run_name="__main__")
"""


@pytest.mark.slow
def test_the_sample_runs_on_the_embedded_postgres_when_no_dsn_is_set(embedded_tmp_path):
    tmp_path = embedded_tmp_path  # one the embedded server can reach, also as root
    env = {k: v for k, v in os.environ.items() if k not in ("HOTMESH_DSN", "HOTMESH_SCHEMA")}
    env.update(PYTHONPATH=str(REPO), HOTMESH_EMBEDDED_DATA_DIR=str(tmp_path / "pgdata"))
    done = subprocess.run(
        [sys.executable, "-c", _ON_EMBEDDED],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 x mechanical keyboard -> reserved" in done.stdout
    assert "5 x vintage monitor -> backordered" in done.stdout
    assert (tmp_path / "pgdata").is_dir()  # the embedded server's data directory
