"""Workflow-level retries: a run that fails is retried as a new run of the same workflow
id when its retry policy allows, as Temporal does.

The decision is made from the run's WorkflowExecutionStarted attributes (retry
policy, attempt, expiration time). For a failure, by the worker that completes the
failing task: the failed run closes with ``WorkflowExecutionFailed.newExecutionRunId``
set and the next run starts after the backoff, in the same transaction
(``complete_workflow_task`` treats it like a continue-as-new). For a run timeout, by a
worker's sweeper (``schedules.continue_timed_out_runs``), with the timeout failure a
Temporal server uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hotmesh_temporal._engine.runtime import protojson as h

TIMEOUT_TYPE_PREFIX = "TemporalTimeout:"


@dataclass
class RetryDecision:
    retry_state: str  # Temporal's RetryState name recorded in WorkflowExecutionFailed
    backoff: timedelta | None = None  # set when the run is retried


def decide(started: Mapping[str, Any], failure: dict[str, Any], now: datetime) -> RetryDecision:
    """Whether a run that failed or timed out with ``failure`` (Temporal JSON) is retried."""
    policy = started.get("retryPolicy")
    if not policy:
        return RetryDecision("RETRY_STATE_RETRY_POLICY_NOT_SET")
    if not _retryable(failure, policy.get("nonRetryableErrorTypes") or ()):
        return RetryDecision("RETRY_STATE_NON_RETRYABLE_FAILURE")
    attempt = int(started.get("attempt") or 1)
    maximum = int(policy.get("maximumAttempts") or 0)
    if maximum and attempt >= maximum:
        return RetryDecision("RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED")
    backoff = _backoff(policy, attempt, failure.get("applicationFailureInfo") or {})
    expires = started.get("workflowExecutionExpirationTime")
    if expires and now + backoff >= h.parse_time(expires):
        return RetryDecision("RETRY_STATE_TIMEOUT")
    return RetryDecision("RETRY_STATE_IN_PROGRESS", backoff)


def _retryable(failure: Mapping[str, Any], non_retryable_types: Any) -> bool:
    """Temporal's rule: cancellations and terminations never retry, timeouts only for
    start-to-close and heartbeat, application failures unless marked non-retryable or of
    a listed type; anything else (an activity or child failure...) retries."""
    if "terminatedFailureInfo" in failure or "canceledFailureInfo" in failure:
        return False
    timeout = failure.get("timeoutFailureInfo")
    if timeout is not None:
        kind = timeout.get("timeoutType", "")
        allowed = ("TIMEOUT_TYPE_START_TO_CLOSE", "TIMEOUT_TYPE_HEARTBEAT")
        # A policy names a timeout as non-retryable as "TemporalTimeout:<type>".
        return kind in allowed and f"{TIMEOUT_TYPE_PREFIX}{kind}" not in non_retryable_types
    info = failure.get("applicationFailureInfo")
    if info is not None:
        return not info.get("nonRetryable") and info.get("type") not in non_retryable_types
    return True


def _backoff(policy: Mapping[str, Any], attempt: int, info: Mapping[str, Any]) -> timedelta:
    explicit = h.parse_duration(info.get("nextRetryDelay"))
    if explicit is not None:
        return explicit
    initial = h.parse_duration(policy.get("initialInterval")) or timedelta(seconds=1)
    coefficient = float(policy.get("backoffCoefficient") or 2.0)
    maximum = h.parse_duration(policy.get("maximumInterval")) or initial * 100
    return min(initial * coefficient ** (attempt - 1), maximum)
