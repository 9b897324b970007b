"""compat_tests: checks against an installed temporalio (a test-only dependency).

Every test here compares hotmesh_temporal with temporalio, so the whole folder is
skipped when temporalio is not installed. The repository root is put on sys.path so
``compat_tests.parity`` imports however pytest was started.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("temporalio", reason="the parity suite compares against temporalio")


@pytest.fixture(scope="session")
def exclusions():
    from compat_tests import parity

    return parity.load_exclusions()


@pytest.fixture(scope="session")
def parity_results(exclusions):
    """Every module's parity result, computed once per session."""
    from compat_tests import parity

    return {r.module: r for r in parity.check_all(exclusions)}


# The database fixtures of tests/ (a test schema, an environment, a client), for the
# compat tests that run workflows here and replay them in temporalio.
from tests.conftest import (  # noqa: E402,F401
    client,
    dsn,
    env,
    migrated_dsn,
    pg_dsn,
    task_queue,
    test_schema,
    workflow_environment,
)
