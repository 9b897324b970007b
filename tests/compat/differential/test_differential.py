"""Every differential scenario, run on hotmesh_temporal, matches what a real Temporal
server did (the references recorded by ``python -m tests.compat.differential.record``),
except the listed expected differences, which are printed with their reasons."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.compat.differential import scenarios  # noqa: F401  (registers the scenarios)
from tests.compat.differential.expected_differences import EXPECTED_DIFFERENCES
from tests.compat.differential.harness import SCENARIOS, Scenario, run_scenario
from tests.compat.differential.observe import error_chain
from tests.compat.differential.sdk import load

REFERENCES = Path(__file__).parent / "references"
SCENARIO_TIMEOUT = 60.0


def differences(reference: Any, observed: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every place where the two JSON values differ, as (path, reference, observed)."""
    if isinstance(reference, dict) and isinstance(observed, dict):
        found = []
        for key in sorted(set(reference) | set(observed)):
            sub = f"{path}.{key}" if path else key
            if key not in observed:
                found.append((sub, reference[key], "<missing>"))
            elif key not in reference:
                found.append((sub, "<missing>", observed[key]))
            else:
                found.extend(differences(reference[key], observed[key], sub))
        return found
    if isinstance(reference, list) and isinstance(observed, list):
        if len(reference) != len(observed):
            return [(path, reference, observed)]
        found = []
        for index, (ref, obs) in enumerate(zip(reference, observed, strict=True)):
            found.extend(differences(ref, obs, f"{path}.{index}" if path else str(index)))
        return found
    return [] if reference == observed else [(path, reference, observed)]


def as_json(value: Any) -> str:
    return json.dumps(value, default=str)


def covers(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def test_every_scenario_has_a_reference() -> None:
    missing = sorted(name for name in SCENARIOS if not (REFERENCES / f"{name}.json").exists())
    assert not missing, f"record them: python -m tests.compat.differential.record ({missing})"
    assert len(SCENARIOS) >= 40


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario_matches_temporal(name: str, local_env: Any, skipping_env: Any) -> None:
    scenario: Scenario = SCENARIOS[name]
    reference = json.loads((REFERENCES / f"{name}.json").read_text())["observed"]
    env = skipping_env if scenario.time_skipping else local_env
    try:
        observed = await asyncio.wait_for(
            run_scenario(
                load("hotmesh"), env.client, env if scenario.time_skipping else None, scenario
            ),
            SCENARIO_TIMEOUT,
        )
    except Exception as exc:
        observed = {"scenario_raised": error_chain(exc)}
    found = differences(reference, observed)
    expected = [e for e in EXPECTED_DIFFERENCES if e.scenario == name]
    for entry in expected:
        print(f"expected difference in {name} at {entry.path}: {entry.reason}")
        assert any(covers(entry.path, path) for path, _, _ in found), (
            f"{name}: the expected difference at {entry.path} is gone; remove it from "
            "expected_differences.py and docs/compatibility.md"
        )
    unexpected = [d for d in found if not any(covers(e.path, d[0]) for e in expected)]
    report = "\n".join(
        f"  {path}:\n    temporal: {as_json(ref)}\n    hotmesh:  {as_json(obs)}"
        for path, ref, obs in unexpected
    )
    if unexpected:
        pytest.fail(f"{name} differs from Temporal:\n{report}", pytrace=False)
