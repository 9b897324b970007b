"""A helper module the sandbox comparison workflows import passed through: its own
calls are not refused (see sandbox_workflow_*.py)."""

from __future__ import annotations

import os


def working_directory_known() -> bool:
    return bool(os.getcwd())
