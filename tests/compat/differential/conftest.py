"""Fixtures of the differential suite: hotmesh_temporal environments on their own schemas.

The repository root goes on sys.path so ``tests.compat.differential`` imports however
pytest was started. Scenarios that depend on the clock run in a time-skipping
environment on a schema of their own (a skipping environment owns its schema's clock).
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("temporalio", reason="the differential suite imports both SDKs")


async def _environment(pg_dsn: str, *, time_skipping: bool) -> AsyncIterator[Any]:
    import asyncpg

    from hotmesh_temporal._engine.store.dsn import split_schema, with_schema
    from hotmesh_temporal._engine.store.migrate import migrate
    from hotmesh_temporal.testing._workflow import _SchemaEnvironment

    base, _ = split_schema(pg_dsn)
    schema = f"hm_diff_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(base)
    try:
        await migrate(conn, schema)
    finally:
        await conn.close()
    env = await _SchemaEnvironment._create(with_schema(pg_dsn, schema), time_skipping=time_skipping)
    try:
        yield env
    finally:
        await env.shutdown()
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture(scope="session")
async def local_env(pg_dsn: str) -> AsyncIterator[Any]:
    async for env in _environment(pg_dsn, time_skipping=False):
        yield env


@pytest.fixture(scope="session")
async def skipping_env(pg_dsn: str) -> AsyncIterator[Any]:
    async for env in _environment(pg_dsn, time_skipping=True):
        yield env


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Every expected difference, with its reason, whenever the suite ran."""
    if not any(
        "test_differential" in report.nodeid
        for reports in terminalreporter.stats.values()
        for report in reports
        if hasattr(report, "nodeid")
    ):
        return
    from tests.compat.differential.expected_differences import EXPECTED_DIFFERENCES

    terminalreporter.section("differences from Temporal kept (expected_differences.py)")
    for entry in EXPECTED_DIFFERENCES:
        terminalreporter.write_line(f"{entry.scenario} [{entry.path}]: {entry.reason}")
