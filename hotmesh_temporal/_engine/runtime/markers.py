"""The markers Temporal's Core SDK records, in its exact format, so histories written
here replay in temporalio and histories from a Temporal server replay here.

* ``core_patch`` (``workflow.patched`` / ``deprecate_patch``): details key
  ``patch-data`` holding one JSON payload ``{"id": <patch id>, "deprecated": <bool>}``.
  Older Core versions wrote two raw payloads, ``patch_id`` (UTF-8 bytes) and
  ``deprecated`` (one byte); both forms are read.
* ``core_local_activity``: details ``data`` (one JSON payload of Core's
  ``LocalActivityMarkerData``: seq, attempt, activity_id, activity_type,
  complete_time, backoff, original_schedule_time) and, on success, ``result`` (the
  result payload); a failure is the marker's ``failure`` field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal.api.common.v1 import Payload

PATCH_MARKER = "core_patch"
LOCAL_ACTIVITY_MARKER = "core_local_activity"
_PATCH_DETAILS_KEY = "patch-data"


def json_payload(value: Any) -> Payload:
    """A payload as Core writes its own marker data: compact JSON, json/plain."""
    return Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps(value, separators=(",", ":")).encode(),
    )


def patch_marker_details(patch_id: str, deprecated: bool) -> dict[str, Any]:
    payload = json_payload({"id": patch_id, "deprecated": deprecated})
    return {_PATCH_DETAILS_KEY: h.payloads([payload])}


def patch_marker_id(attrs: Mapping[str, Any]) -> str | None:
    """The patch id of a ``core_patch`` marker's attributes (either format)."""
    patch = _patch_marker_data(attrs)
    return None if patch is None else patch[0]


def patch_marker_deprecated(attrs: Mapping[str, Any]) -> bool:
    """Whether a ``core_patch`` marker was written by ``deprecate_patch``."""
    patch = _patch_marker_data(attrs)
    return patch is not None and patch[1]


def _patch_marker_data(attrs: Mapping[str, Any]) -> tuple[str, bool] | None:
    details = attrs.get("details") or {}
    current = h.parse_payloads(details.get(_PATCH_DETAILS_KEY))
    if current:
        try:
            data = json.loads(current[0].data)
            return str(data["id"]), bool(data.get("deprecated", False))
        except (ValueError, KeyError, TypeError):
            return None
    legacy_id = h.parse_payloads(details.get("patch_id"))
    if not legacy_id:
        return None
    legacy_flag = h.parse_payloads(details.get("deprecated"))
    deprecated = bool(legacy_flag and legacy_flag[0].data[:1] not in (b"", b"\x00"))
    return legacy_id[0].data.decode("utf-8", "replace"), deprecated
