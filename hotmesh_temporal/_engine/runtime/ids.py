"""Run ids as current Temporal servers issue them: UUIDv7 (RFC 9562).

A UUIDv7 starts with its creation time in milliseconds, so run ids sort by when the
run started (useful in indexes and when reading ``executions`` by hand), and the rest
is random so two processes never collide.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A version 7 UUID: 48 bits of Unix time in ms, version, 74 random bits."""
    ms = int(time.time() * 1000) if unix_ms is None else unix_ms
    random_bits = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    rand_a = random_bits >> 68  # 12 bits
    rand_b = random_bits & ((1 << 62) - 1)  # 62 bits
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


def new_run_id() -> str:
    """A new run's id (workflow, child, continue-as-new, retry, cron, schedule)."""
    return str(uuid7())
