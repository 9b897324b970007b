"""Differences from a real Temporal server that hotmesh_temporal keeps, with reasons.

Each entry names a scenario and a path into its observation (``a.b.0.c``; a path
covers everything under it) and says why the difference stays. The test prints every
entry it applies, and fails when an entry no longer matches a difference (so the list
shrinks as differences are fixed). Each is also listed in docs/compatibility.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExpectedDifference:
    scenario: str
    path: str
    reason: str


EXPECTED_DIFFERENCES: tuple[ExpectedDifference, ...] = ()
