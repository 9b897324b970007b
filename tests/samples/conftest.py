"""Fixtures for the samples' tests (``env`` and ``client`` come from tests/conftest.py)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def task_queue() -> str:
    return f"samples-{uuid.uuid4()}"
