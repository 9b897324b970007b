"""tests/compat: checks against an installed temporalio (a test-only dependency).

Every test here compares hotmesh_temporal with temporalio, so the whole folder is
skipped when temporalio is not installed. The database fixtures come from
``tests/conftest.py``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("temporalio", reason="the parity suite compares against temporalio")


@pytest.fixture(scope="session")
def exclusions():
    from tests.compat import parity

    return parity.load_exclusions()


@pytest.fixture(scope="session")
def parity_results(exclusions):
    """Every module's parity result, computed once per session."""
    from tests.compat import parity

    return {r.module: r for r in parity.check_all(exclusions)}
