"""Every scenario module; importing this package fills ``harness.SCENARIOS``."""

from . import activities, client_ops, messages, schedules, workflows  # noqa: F401
