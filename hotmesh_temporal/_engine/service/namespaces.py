"""Namespaces and retention: typed operations over ``0010_retention.sql``.

Temporal keeps a closed run for its namespace's retention period and then deletes it
with its history. Here each namespace may have a row with its retention; a namespace
without one has the deployment's default (72 hours, as ``temporal operator namespace
create``). Retention is never shorter than the deployment's minimum (a day, the
server's minimum) unless the deployment lowers it (:func:`set_retention_limits`, for
tests and demos).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from hotmesh_temporal._engine.store.store import Store

PURGE_BATCH = 500


@dataclass(frozen=True)
class NamespaceSettings:
    namespace: str
    retention: timedelta
    description: str = ""
    owner_email: str = ""
    data: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None  # None: no row yet (the deployment's defaults)
    updated_at: datetime | None = None


class RetentionTooShortError(ValueError):
    """A retention under the deployment's minimum."""


def _settings(row: Any) -> NamespaceSettings:
    data = row["data"]
    if isinstance(data, str):
        data = json.loads(data)
    return NamespaceSettings(
        namespace=row["namespace"],
        retention=timedelta(seconds=row["retention_seconds"]),
        description=row["description"],
        owner_email=row["owner_email"],
        data=dict(data or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def upsert_namespace(
    store: Store,
    namespace: str,
    *,
    retention: timedelta | None = None,
    description: str | None = None,
    owner_email: str | None = None,
    data: dict[str, str] | None = None,
) -> NamespaceSettings:
    """Register ``namespace`` or change what is given (None keeps the current value)."""
    try:
        rows = await store.fetch(
            "upsert_namespace",
            namespace,
            retention.total_seconds() if retention is not None else None,
            description,
            owner_email,
            data,
        )
    except asyncpg.InvalidParameterValueError as err:
        raise RetentionTooShortError(str(err)) from None
    return _settings(rows[0])


async def describe_namespace(store: Store, namespace: str) -> NamespaceSettings:
    row = await store.fetchrow("describe_namespace", namespace)
    assert row is not None
    return _settings(row)


async def list_namespaces(store: Store) -> list[NamespaceSettings]:
    return [_settings(row) for row in await store.fetch("list_namespaces")]


async def set_retention_limits(
    store: Store,
    *,
    min_retention: timedelta | None = None,
    default_retention: timedelta | None = None,
    purge_every: timedelta | None = None,
) -> None:
    """Deployment settings (None keeps a value): the shortest retention allowed, the
    retention of namespaces without one, and how often the fleet purges."""

    def secs(value: timedelta | None) -> float | None:
        return value.total_seconds() if value is not None else None

    await store.fetchval(
        "set_retention_limits", secs(min_retention), secs(default_retention), secs(purge_every)
    )


async def delete_runs(store: Store, run_ids: Sequence[str | uuid.UUID]) -> int:
    """Delete closed runs now, with everything that belongs to them; running runs (and
    runs a transition holds at this moment) are left. Returns how many were deleted."""
    return int(await store.fetchval("delete_runs", [uuid.UUID(str(r)) for r in run_ids]))


async def purge_expired(store: Store, *, batch: int = PURGE_BATCH, max_batches: int = 20) -> int:
    """Delete runs past their namespace's retention, ``batch`` at a time (each batch is
    one short transaction), at most ``max_batches`` batches. Returns how many."""
    total = 0
    for _ in range(max_batches):
        deleted = int(await store.fetchval("purge_expired_runs", batch))
        total += deleted
        if deleted < batch:
            break
    return total


@dataclass(frozen=True)
class PartitionChanges:
    made: int
    dropped: int


async def maintain_partitions(store: Store) -> PartitionChanges:
    """Make the coming days' history partitions and drop those whose runs are all
    expired (0011_history_partitions.sql)."""
    row = await store.fetchrow("maintain_history_partitions")
    assert row is not None
    return PartitionChanges(row["made"], row["dropped"])


async def purge_if_due(store: Store) -> int:
    """One sweeper's share of retention: when the fleet's turn has come (once per
    ``purge_every`` across every worker of the deployment), keep the history partitions
    (dropping whole expired days first, the cheap way) and then delete the remaining
    expired runs row by row."""
    if not await store.fetchval("claim_purge_turn"):
        return 0
    await maintain_partitions(store)
    return await purge_expired(store)
