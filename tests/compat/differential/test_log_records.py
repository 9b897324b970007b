"""The worker's log records match temporalio's (``log_records.json``, recorded from
temporalio's own Worker on a real dev server by ``record_logs``): for every scenario the
same lines, each with the same logger (below the package), level, message, ``extra``
attributes and traceback presence, so a temporalio user's log filters work unchanged."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.compat.differential.harness import Ctx
from tests.compat.differential.log_records import (
    KNOWN_DIFFERENCES,
    LOG_SCENARIOS,
    REFERENCE,
    comparable,
    run_log_scenario,
)
from tests.compat.differential.sdk import load

SCENARIO_TIMEOUT = 60.0


def test_every_log_scenario_has_a_reference() -> None:
    recorded = json.loads(REFERENCE.read_text())
    missing = sorted(set(LOG_SCENARIOS) - set(recorded))
    assert not missing, f"record them: python -m tests.compat.differential.record_logs ({missing})"
    # Each known difference is still there in the reference (or is ours to remove).
    for known in KNOWN_DIFFERENCES:
        if known.side == "temporalio":
            assert any(
                r["message"].startswith(known.message_start) for r in recorded[known.scenario]
            ), known


@pytest.mark.parametrize("name", sorted(LOG_SCENARIOS))
async def test_worker_log_records_match_temporalio(name: str, local_env: Any) -> None:
    reference = json.loads(REFERENCE.read_text())[name]
    ctx = Ctx(sdk=load("hotmesh"), client=local_env.client, env=None)
    observed = await asyncio.wait_for(
        run_log_scenario(ctx, name, "hotmesh_temporal"), SCENARIO_TIMEOUT
    )
    expected = comparable(reference, name, "temporalio")
    got = comparable(observed, name, "hotmesh")
    if got != expected:
        lines = ["temporalio:"] + [f"  {r}" for r in expected]
        lines += ["hotmesh_temporal:"] + [f"  {r}" for r in got]
        pytest.fail(f"{name}: the worker's log records differ\n" + "\n".join(lines), pytrace=False)
