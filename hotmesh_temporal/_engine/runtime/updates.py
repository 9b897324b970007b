"""Workflow updates in Temporal's event model.

An update request reaches the worker with a workflow task (not as a history event).
What the workflow answers becomes history: accepting writes
``WorkflowExecutionUpdateAccepted`` (carrying the whole request), finishing writes
``WorkflowExecutionUpdateCompleted`` (carrying the outcome), rejecting writes nothing.
On replay the request is rebuilt from the Accepted event, delivered in the activation
of the task that accepted it, without running the validator again (as Temporal's
core SDK does).

Request JSON is Temporal's ``update.v1.Request``: ``{"meta": {"updateId", "identity"},
"input": {"name", "args": {"payloads"}, "header": {"fields"}}}``.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping
from typing import Any

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime import protojson as h

ACCEPTED = "WorkflowExecutionUpdateAccepted"
COMPLETED = "WorkflowExecutionUpdateCompleted"

# Row states of the updates table (schema/0003_updates.sql).
STATE_ADMITTED, STATE_ACCEPTED, STATE_COMPLETED, STATE_ABORTED, STATE_REJECTED = 0, 1, 2, 3, 4


def request_json(
    update_id: str, name: str, args: list[Any], headers: Any, identity: str
) -> dict[str, Any]:
    """The ``update.v1.Request`` a client sends (payloads already encoded)."""
    return {
        "meta": {"updateId": update_id, "identity": identity},
        "input": h.strip_none(
            {"header": h.header(headers), "name": name, "args": h.payloads(args)}
        ),
    }


def update_job(request: Mapping[str, Any], *, run_validator: bool) -> c.DoUpdate:
    meta = request.get("meta") or {}
    given = request.get("input") or {}
    update_id = meta.get("updateId", "")
    return c.DoUpdate(
        id=update_id,
        protocol_instance_id=update_id,
        name=given.get("name", ""),
        input=h.parse_payloads(given.get("args")),
        headers=h.parse_payload_map((given.get("header") or {}).get("fields")),
        run_validator=run_validator,
        identity=meta.get("identity", ""),
    )


def update_event_kind(cmd: c.UpdateResponse) -> str | None:
    """The event a response writes; None for a rejection (Temporal writes none)."""
    if cmd.accepted:
        return ACCEPTED
    if cmd.rejected is not None:
        return None
    return COMPLETED


def update_id_of_event(attrs: Mapping[str, Any]) -> str | None:
    return attrs.get("protocolInstanceId") or (attrs.get("meta") or {}).get("updateId")


class UpdateLedger:
    """What a run driver knows about updates: the requests it delivered and the
    Accepted event of each (a Completed event points back to it)."""

    def __init__(self) -> None:
        self._requests: dict[str, Mapping[str, Any]] = {}
        self._accepted_event: dict[str, int] = {}

    def live_jobs(self, requests: list[Mapping[str, Any]]) -> list[c.Job]:
        jobs: list[c.Job] = []
        for request in requests:
            job = update_job(request, run_validator=True)
            self._requests[job.id] = request
            jobs.append(job)
        return jobs

    def replayed_jobs(self, events: list[Mapping[str, Any]], index: int) -> list[c.Job]:
        """Updates accepted by the task completed at ``events[index]``: their requests
        belong to that task's activation."""
        jobs: list[c.Job] = []
        for ev in events[index + 1 :]:
            if ev["type"] not in h.COMMAND_EVENTS:
                break
            if ev["type"] == ACCEPTED:
                request = ev["attrs"].get("acceptedRequest") or {}
                job = update_job(request, run_validator=False)
                self._requests[job.id] = request
                jobs.append(job)
        return jobs

    def note_event(self, cmd: c.UpdateResponse, event_id: int) -> None:
        """Remember the Accepted event of an update until its Completed event; forget
        what a long-lived run no longer needs."""
        update_id = cmd.protocol_instance_id
        if cmd.accepted:
            self._accepted_event[update_id] = event_id
            self._requests.pop(update_id, None)
        else:
            self._accepted_event.pop(update_id, None)

    def forget_rejected(self, update_id: str) -> None:
        self._requests.pop(update_id, None)

    # ---------------------------------------------------------- completion

    def event_attrs(self, cmd: c.UpdateResponse, sequencing_event_id: int) -> dict[str, Any]:
        """Attributes of the event ``cmd`` writes (see :func:`update_event_kind`)."""
        update_id = cmd.protocol_instance_id
        if cmd.accepted:
            return {
                "protocolInstanceId": update_id,
                "acceptedRequestMessageId": f"{update_id}/request",
                "acceptedRequestSequencingEventId": str(sequencing_event_id),
                "acceptedRequest": self._requests.get(update_id)
                or {"meta": {"updateId": update_id}},
            }
        return {
            "meta": {"updateId": update_id},
            "acceptedEventId": str(self._accepted_event.get(update_id, 0)),
            "outcome": outcome_json(cmd),
        }


def outcome_json(cmd: c.UpdateResponse) -> dict[str, Any]:
    """Temporal's ``update.v1.Outcome`` of a finished or rejected update."""
    failure = cmd.rejected if cmd.rejected is not None else cmd.failed
    if failure is not None:
        return {"failure": h.failure(failure)}
    return {"success": h.payloads([cmd.completed] if cmd.completed is not None else []) or {}}


def completion_row(cmd: c.UpdateResponse) -> dict[str, Any]:
    """What complete_workflow_task records in the updates table for ``cmd``."""
    if cmd.accepted:
        return {"id": cmd.protocol_instance_id, "state": STATE_ACCEPTED}
    state = STATE_REJECTED if cmd.rejected is not None else STATE_COMPLETED
    return {"id": cmd.protocol_instance_id, "state": state, "outcome": outcome_json(cmd)}


def unfinished_handler_warnings(running: list[tuple]) -> list[Warning]:
    """The warnings for a run that finished while handlers ran, worded as temporalio's:
    ``running`` holds (kind, name, policy, update id) of each warnable handler."""

    updates = [
        {"name": name, "id": update_id} for kind, name, _, update_id in running if kind == "update"
    ]
    signals = collections.Counter(name for kind, name, _, _ in running if kind == "signal")
    out: list[Warning] = []
    if updates:
        message = _unfinished_message("update", _UPDATE_CUT_SHORT, updates)
        out.append(workflow.UnfinishedUpdateHandlersWarning(message))
    if signals:
        counted = [{"name": name, "count": count} for name, count in signals.most_common()]
        message = _unfinished_message("signal", _SIGNAL_CUT_SHORT, counted)
        out.append(workflow.UnfinishedSignalHandlersWarning(message))
    return out


def _unfinished_message(kind: str, template: str, handlers: list[dict[str, Any]]) -> str:
    return (
        template.format(kind=kind)
        + f" The following {kind}s were unfinished (and warnings were not disabled for "
        f"their handler): {json.dumps(handlers)}"
    )


# temporalio's wording, kept word for word: users search for these texts.
_UPDATE_CUT_SHORT = (
    "[TMPRL1102] Workflow finished while {kind} handlers are still running. This may have "
    "interrupted work that the {kind} handler was doing, and the client that sent the "
    "{kind} will receive a 'workflow execution already completed' RPCError instead of the "
    "{kind} result. You can wait for all update and signal handlers to complete by using "
    "`await workflow.wait_condition(lambda: workflow.all_handlers_finished())`. "
    "Alternatively, if both you and the clients sending the {kind} are okay with "
    "interrupting running handlers when the workflow finishes, and causing clients to "
    "receive errors, then you can disable this warning via the {kind} handler decorator: "
    "`@workflow.{kind}(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)`."
)
_SIGNAL_CUT_SHORT = (
    "[TMPRL1102] Workflow finished while {kind} handlers are still running. This may have "
    "interrupted work that the {kind} handler was doing. You can wait for all update and "
    "signal handlers to complete by using `await workflow.wait_condition(lambda: "
    "workflow.all_handlers_finished())`. Alternatively, if both you and the clients sending "
    "the {kind} are okay with interrupting running handlers when the workflow finishes, "
    "then you can disable this warning via the {kind} handler decorator: "
    "`@workflow.{kind}(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)`."
)
