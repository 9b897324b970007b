"""Settings read from the environment, so that tracing and log levels change
without code changes.

* ``HMSH_TELEMETRY=true`` (also ``1``, ``yes``, ``on``): every ``Client`` gets a
  ``contrib.opentelemetry.TracingInterceptor`` (unless it has one), and so do the
  workers built from it. Needs the ``opentelemetry`` packages (the ``otel`` extra);
  without them a warning is logged and nothing is traced.
* ``HMSH_LOGLEVEL`` = ``debug`` | ``info`` | ``warn`` | ``error`` | ``silent``: the
  level of the ``hotmesh_temporal`` logger (``silent`` turns it off). Unset leaves
  logging configuration to the application.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger("hotmesh_temporal")

_TRUE = {"1", "true", "yes", "on"}
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "silent": logging.CRITICAL + 1,
}


def with_env_tracing(interceptors: Sequence[Any]) -> list[Any]:
    """``interceptors``, plus a TracingInterceptor when HMSH_TELEMETRY asks for one."""
    interceptors = list(interceptors)
    if os.environ.get("HMSH_TELEMETRY", "").strip().lower() not in _TRUE:
        return interceptors
    try:
        # Late: opentelemetry is an optional dependency (the otel extra).
        from hotmesh_temporal.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        logger.warning("HMSH_TELEMETRY is set but opentelemetry is not installed: no tracing")
        return interceptors
    if not any(isinstance(i, TracingInterceptor) for i in interceptors):
        interceptors.append(TracingInterceptor())
    return interceptors


def apply_env_log_level() -> None:
    """Set the ``hotmesh_temporal`` logger's level from HMSH_LOGLEVEL, if set."""
    value = os.environ.get("HMSH_LOGLEVEL", "").strip().lower()
    if not value:
        return
    level = _LEVELS.get(value)
    if level is None:
        logger.warning(
            "HMSH_LOGLEVEL=%r is not one of %s; leaving the log level as it is",
            value,
            ", ".join(sorted(_LEVELS)),
        )
        return
    logger.setLevel(level)
    logger.disabled = value == "silent"


apply_env_log_level()
