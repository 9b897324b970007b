"""Differences from a real Temporal server that hotmesh_temporal keeps, with reasons.

Each entry names a scenario and a path into its observation (``a.b.0.c``; a path
covers everything under it) and says why the difference stays. The test prints every
entry it applies, and fails when an entry no longer matches a difference (so the list
shrinks as differences are fixed). Each is also listed in docs/compatibility.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExpectedDifference:
    scenario: str
    path: str
    reason: str


EXPECTED_DIFFERENCES: tuple[ExpectedDifference, ...] = (
    ExpectedDifference(
        "activity_async_completion",
        "complete_twice.error.0.message",
        "Completing an async activity that is gone: our NOT_FOUND error says the activity "
        "finished, timed out or its run closed, without telling which; Temporal says "
        "'workflow execution already completed' when the run closed.",
    ),
    ExpectedDifference(
        "patching_markers",
        "history",
        "Temporal writes an UpsertWorkflowSearchAttributes event (TemporalChangeVersion) "
        "after each new patch marker; we write the markers only. Temporal histories with "
        "those events replay here.",
    ),
    ExpectedDifference(
        "schedule_create_describe_delete",
        "delete_twice.error.0.message",
        "Deleting a deleted schedule: Temporal answers 'workflow execution already "
        "completed' (its scheduler is a workflow); we answer 'schedule not found'.",
    ),
    ExpectedDifference(
        "visibility_list_count_memo_search_attributes",
        "bad_query",
        "A namespace that registered no search attribute accepts any name (nothing to "
        "register before a first workflow): a filter on a name nothing ever set matches nothing, "
        "where Temporal refuses it with INVALID_ARGUMENT 'invalid search attribute'. Once the "
        "namespace registers attributes (OperatorService), the same filter is refused as "
        "Temporal refuses it.",
    ),
)
