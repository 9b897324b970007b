"""Turn the commands of a new activation into what complete_workflow_task() writes:
the task's Started/Completed events, one event per command, and the rows the
commands create (activity tasks, timers, cancellations, the run's close).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime import workflow_retry
from hotmesh_temporal._engine.runtime.cron import CronSchedule
from hotmesh_temporal._engine.runtime.driver import RunDriver
from hotmesh_temporal._engine.runtime.ids import new_run_id
from hotmesh_temporal._engine.runtime.local_markers import marker_attributes
from hotmesh_temporal._engine.runtime.markers import PATCH_MARKER, patch_marker_details
from hotmesh_temporal._engine.runtime.updates import completion_row, update_event_kind
from hotmesh_temporal.common import RetryPolicy


@dataclass
class TaskContext:
    """What the worker knows about the workflow task it is completing."""

    run_id: str
    workflow_id: str
    namespace: str
    task_queue: str
    first_event_id: int  # the WorkflowTaskStarted event's id (the run's next id)
    scheduled_event_id: int
    identity: str
    history_size: int
    started_attrs: dict[str, Any]
    suggest_continue_as_new: bool = False
    eager_activity_slots: int = 0  # activities this worker can take right now
    # Queues besides task_queue whose activities this worker runs (a Worker serving
    # several queues): their activities may be handed over eagerly too.
    also_activity_queues: frozenset[str] = frozenset()
    sticky_timeout: float | None = None  # how long the next task waits for this worker
    started_at: str | None = None  # when the task was leased (workflow.now() of this task)
    completed_at: datetime | None = None  # database time as the completion is built


@dataclass
class Completion:
    events: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    cancel_timers: list[int] = field(default_factory=list)
    cancel_activities: list[dict[str, Any]] = field(default_factory=list)
    children: list[dict[str, Any]] = field(default_factory=list)  # child starts
    externals: list[dict[str, Any]] = field(default_factory=list)  # signal / cancel requests
    updates: list[dict[str, Any]] = field(default_factory=list)  # rows for the updates table
    close: dict[str, Any] | None = None
    # Memo / search-attribute upserts of this task, merged in command order:
    # {"search_attributes": {name: payload}, "memo": {name: payload}}.
    visibility: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_event_id: int = 0
    sticky_timeout: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"first_event_id": self.first_event_id, "events": self.events}
        if self.sticky_timeout is not None:
            out["sticky_timeout"] = self.sticky_timeout
        if self.activities:
            out["activities"] = self.activities
        if self.timers:
            out["timers"] = self.timers
        if self.cancel_timers:
            out["cancel_timers"] = self.cancel_timers
        if self.cancel_activities:
            out["cancel_activities"] = self.cancel_activities
        if self.children:
            out["children"] = self.children
        if self.externals:
            out["externals"] = self.externals
        if self.updates:
            out["updates"] = self.updates
        if self.close is not None:
            out["close"] = self.close
        if self.visibility:
            out["visibility"] = self.visibility
        return out


def build_completion(task: TaskContext, commands: list[c.Command], driver: RunDriver) -> Completion:
    out = Completion(first_event_id=task.first_event_id, sticky_timeout=task.sticky_timeout)
    started_id = task.first_event_id
    completed_id = started_id + 1
    out.events.append(
        h.event_at(
            task.started_at,
            "WorkflowTaskStarted",
            {
                "scheduledEventId": str(task.scheduled_event_id),
                "identity": task.identity,
                "requestId": str(uuid.uuid4()),
                "historySizeBytes": str(task.history_size),
                "suggestContinueAsNew": task.suggest_continue_as_new or None,
            },
        )
    )
    out.events.append(
        h.event(
            "WorkflowTaskCompleted",
            {
                "scheduledEventId": str(task.scheduled_event_id),
                "startedEventId": str(started_id),
                "identity": task.identity,
            },
        )
    )
    builder = _Builder(task, out, driver, completed_id)
    for cmd in commands:
        builder.add(cmd)
        if out.close is not None:
            break  # nothing may follow the command that closes the run
    return out


class _Builder:
    def __init__(
        self, task: TaskContext, out: Completion, driver: RunDriver, completed_id: int
    ) -> None:
        self.task = task
        self.out = out
        self.driver = driver
        self.completed_id = completed_id
        self.eager_left = task.eager_activity_slots

    @property
    def next_id(self) -> int:
        return self.out.first_event_id + len(self.out.events)

    def emit(
        self, cmd: c.Command, event_type: str, attrs: dict[str, Any], *, task_field: bool = True
    ) -> int:
        event_id = self.next_id
        if task_field:  # most command events name the task that issued them
            attrs = dict(attrs, workflowTaskCompletedEventId=str(self.completed_id))
        event = h.event(event_type, attrs)
        metadata = h.payload_map(getattr(cmd, "user_metadata", None))
        if metadata:  # the summary / details, kept on the event as Temporal does
            event["user_metadata"] = metadata
        self.out.events.append(event)
        self.driver.note_command_event(cmd, event_id)
        return event_id

    def add(self, cmd: c.Command) -> None:
        handler = getattr(self, "_" + type(cmd).__name__, None)
        if handler is None:
            raise NotImplementedError(
                f"{type(cmd).__name__} is not supported by this version of hotmesh_temporal"
            )
        handler(cmd)

    # ----------------------------------------------------------------- commands

    def _ScheduleActivity(self, cmd: c.ScheduleActivity) -> None:
        s2c = cmd.schedule_to_close_timeout
        s2s = cmd.schedule_to_start_timeout or s2c
        s2c_row = s2c
        start = cmd.start_to_close_timeout or s2c
        retry = cmd.retry_policy or _default_retry_policy()
        event_id = self.emit(
            cmd,
            "ActivityTaskScheduled",
            {
                "activityId": cmd.activity_id,
                "activityType": {"name": cmd.activity_type},
                "taskQueue": h.task_queue(cmd.task_queue),
                "header": h.header(cmd.headers),
                "input": h.payloads(cmd.arguments),
                "scheduleToCloseTimeout": h.duration(s2c) or "0s",
                "scheduleToStartTimeout": h.duration(s2s) or "0s",
                "startToCloseTimeout": h.duration(start),
                "heartbeatTimeout": h.duration(cmd.heartbeat_timeout) or "0s",
                "retryPolicy": h.retry_policy_json(_server_filled_retry_policy(retry)),
            },
        )
        eager = self.eager_left > 0 and (
            cmd.task_queue == self.task.task_queue
            or cmd.task_queue in self.task.also_activity_queues
        )
        if eager:
            self.eager_left -= 1
        self.out.activities.append(
            h.strip_none(
                {
                    "scheduled_event_id": event_id,
                    "activity_id": cmd.activity_id,
                    "activity_type": cmd.activity_type,
                    "task_queue": cmd.task_queue,
                    "input": h.payloads(cmd.arguments),
                    "header": h.header(cmd.headers),
                    "schedule_to_close": h.seconds(s2c_row),
                    "schedule_to_start": h.seconds(cmd.schedule_to_start_timeout),
                    "start_to_close": h.seconds(start),
                    "heartbeat_timeout": h.seconds(cmd.heartbeat_timeout),
                    "retry_policy": h.retry_policy_row(retry),
                    "eager": eager,
                }
            )
        )

    def _LocalActivityMarker(self, cmd: c.LocalActivityMarker) -> None:
        self.emit(cmd, "MarkerRecorded", marker_attributes(cmd))

    def _RequestCancelActivity(self, cmd: c.RequestCancelActivity) -> None:
        if cmd.is_local:
            return  # local activities ran to their outcome within the task already
        scheduled = self.driver.activity_event_id(cmd.seq)
        if scheduled is None:
            return
        event_id = self.emit(
            cmd, "ActivityTaskCancelRequested", {"scheduledEventId": str(scheduled)}
        )
        self.out.cancel_activities.append(
            {"scheduled_event_id": scheduled, "requested_event_id": event_id}
        )

    def _StartTimer(self, cmd: c.StartTimer) -> None:
        event_id = self.emit(
            cmd,
            "TimerStarted",
            {"timerId": str(cmd.seq), "startToFireTimeout": h.duration(cmd.duration)},
        )
        self.out.timers.append(
            {
                "started_event_id": event_id,
                "timer_id": str(cmd.seq),
                "seconds": max(cmd.duration.total_seconds(), 0.0),
            }
        )

    def _CancelTimer(self, cmd: c.CancelTimer) -> None:
        started = self.driver.timer_event_id(cmd.seq)
        if started is None:
            return
        self.emit(
            cmd,
            "TimerCanceled",
            {
                "timerId": str(cmd.seq),
                "startedEventId": str(started),
                "identity": self.task.identity,
            },
        )
        self.out.cancel_timers.append(started)

    def _SetPatchMarker(self, cmd: c.SetPatchMarker) -> None:
        self.emit(
            cmd,
            "MarkerRecorded",
            {
                "markerName": PATCH_MARKER,
                "details": patch_marker_details(cmd.patch_id, cmd.deprecated),
            },
        )

    def _UpdateResponse(self, cmd: c.UpdateResponse) -> None:
        kind = update_event_kind(cmd)
        if kind is not None:
            # The request was delivered with this task: sequenced before its Started event.
            attrs = self.driver.updates.event_attrs(cmd, self.task.first_event_id - 1)
            self.emit(cmd, kind, attrs, task_field=False)
        else:
            self.driver.updates.forget_rejected(cmd.protocol_instance_id)
        self.out.updates.append(completion_row(cmd))

    def _UpsertSearchAttributes(self, cmd: c.UpsertSearchAttributes) -> None:
        fields = h.payload_map(cmd.search_attributes) or {}
        attrs = {"searchAttributes": {"indexedFields": fields}}
        self.emit(cmd, "UpsertWorkflowSearchAttributes", attrs)
        self.out.visibility.setdefault("search_attributes", {}).update(fields)

    def _ModifyWorkflowProperties(self, cmd: c.ModifyWorkflowProperties) -> None:
        fields = h.payload_map(cmd.upserted_memo) or {}
        self.emit(cmd, "WorkflowPropertiesModified", {"upsertedMemo": {"fields": fields}})
        self.out.visibility.setdefault("memo", {}).update(fields)

    def _CompleteWorkflow(self, cmd: c.CompleteWorkflow) -> None:
        result = h.payloads([cmd.result] if cmd.result is not None else [])
        cron_run = self._next_cron_run(result=result)
        attrs: dict[str, Any] = {"result": result}
        if cron_run is not None:
            attrs["newExecutionRunId"] = cron_run["run_id"]
        self.emit(cmd, "WorkflowExecutionCompleted", attrs)
        self.out.close = h.strip_none({"status": 2, "result": result, "continue_as_new": cron_run})

    def _FailWorkflow(self, cmd: c.FailWorkflow) -> None:
        failure = h.failure(cmd.failure)
        decision = workflow_retry.decide(self.task.started_attrs, failure, self._now())
        # A retry comes first; a cron workflow starts its next run once retries are over.
        if decision.backoff is not None:
            task = self.task
            next_run = retry_run(
                task.started_attrs,
                namespace=task.namespace,
                workflow_id=task.workflow_id,
                run_id=task.run_id,
                identity=task.identity,
                failure=failure,
                backoff=decision.backoff,
            )
        else:
            next_run = self._next_cron_run(failure=failure)
        self.emit(
            cmd,
            "WorkflowExecutionFailed",
            {
                "failure": failure,
                "retryState": decision.retry_state,
                "newExecutionRunId": next_run and next_run["run_id"],
            },
        )
        # complete_workflow_task starts the next run like a continue-as-new.
        self.out.close = h.strip_none(
            {"status": 3, "failure": failure, "continue_as_new": next_run}
        )

    def _now(self) -> datetime:
        task = self.task
        return task.completed_at or (
            h.parse_time(task.started_at) if task.started_at else datetime.now(timezone.utc)
        )

    def _next_cron_run(
        self, *, result: dict[str, Any] | None = None, failure: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        task = self.task
        return next_cron_run(
            task.started_attrs,
            namespace=task.namespace,
            workflow_id=task.workflow_id,
            run_id=task.run_id,
            identity=task.identity,
            now=self._now(),
            result=result,
            failure=failure,
        )

    def _CancelWorkflowExecution(self, cmd: c.CancelWorkflowExecution) -> None:
        self.emit(cmd, "WorkflowExecutionCanceled", {})
        self.out.close = {"status": 4}

    def _ContinueAsNew(self, cmd: c.ContinueAsNew) -> None:
        """Close this run and start the next one. What the command leaves unset (task
        queue, timeouts, memo, search attributes, retry policy) is the current run's."""
        next_run_id = new_run_id()
        prior = self.task.started_attrs
        task_queue = cmd.task_queue or self.task.task_queue
        run_timeout = cmd.run_timeout or h.parse_duration(prior.get("workflowRunTimeout"))
        task_timeout = cmd.task_timeout or h.parse_duration(prior.get("workflowTaskTimeout"))
        memo = (
            h.payload_map(cmd.memo)
            if cmd.memo is not None
            else (prior.get("memo") or {}).get("fields")
        )
        search_attributes = (
            h.payload_map(cmd.search_attributes)
            if cmd.search_attributes is not None
            else (prior.get("searchAttributes") or {}).get("indexedFields")
        )
        retry_policy = h.retry_policy_json(cmd.retry_policy) or prior.get("retryPolicy")
        self.emit(
            cmd,
            "WorkflowExecutionContinuedAsNew",
            {
                "newExecutionRunId": next_run_id,
                "workflowType": {"name": cmd.workflow_type},
                "taskQueue": h.task_queue(task_queue),
                "input": h.payloads(cmd.arguments),
                "workflowRunTimeout": h.duration(run_timeout),
                "workflowTaskTimeout": h.duration(task_timeout),
                "backoffStartInterval": h.duration(cmd.backoff_start_interval),
                "initiator": "CONTINUE_AS_NEW_INITIATOR_WORKFLOW",
                "header": h.header(cmd.headers),
                "memo": {"fields": memo} if memo else None,
                "searchAttributes": h.search_attributes(search_attributes),
            },
        )
        start = new_run_start(
            namespace=self.task.namespace,
            workflow_id=self.task.workflow_id,
            run_id=next_run_id,
            workflow_type=cmd.workflow_type,
            task_queue=task_queue,
            arguments=cmd.arguments,
            execution_timeout=h.parse_duration(prior.get("workflowExecutionTimeout")),
            run_timeout=run_timeout,
            task_timeout=task_timeout,
            memo_json=memo,
            search_attributes_json=search_attributes,
            headers=cmd.headers,
            first_execution_run_id=prior.get("firstExecutionRunId") or self.task.run_id,
            continued_run_id=self.task.run_id,
            identity=self.task.identity,
            retry_policy_json=retry_policy,
            start_delay=cmd.backoff_start_interval,
            execution_deadline=prior.get("workflowExecutionExpirationTime"),
            parent=parent_of(prior),
        )
        self.out.close = {"status": 6, "continue_as_new": start}

    # ------------------------------------------------- children and externals

    def _StartChildWorkflow(self, cmd: c.StartChildWorkflow) -> None:
        namespace = cmd.namespace or self.task.namespace
        memo = h.payload_map(cmd.memo)
        search_attributes = h.payload_map(cmd.search_attributes)
        event_id = self.emit(
            cmd,
            "StartChildWorkflowExecutionInitiated",
            {
                "namespace": namespace,
                "workflowId": cmd.workflow_id,
                "workflowType": {"name": cmd.workflow_type},
                "taskQueue": h.task_queue(cmd.task_queue),
                "input": h.payloads(cmd.arguments),
                "workflowExecutionTimeout": h.duration(cmd.execution_timeout),
                "workflowRunTimeout": h.duration(cmd.run_timeout),
                "workflowTaskTimeout": h.duration(cmd.task_timeout),
                "parentClosePolicy": h.PARENT_CLOSE_POLICY.get(cmd.parent_close_policy),
                "workflowIdReusePolicy": h.ID_REUSE_POLICY.get(cmd.id_reuse_policy),
                "retryPolicy": h.retry_policy_json(cmd.retry_policy),
                "cronSchedule": cmd.cron_schedule or None,
                "header": h.header(cmd.headers),
                "memo": {"fields": memo} if memo else None,
                "searchAttributes": h.search_attributes(search_attributes),
            },
        )
        prior = self.task.started_attrs
        parent = {
            "namespace": self.task.namespace,
            "workflow_id": self.task.workflow_id,
            "run_id": self.task.run_id,
            "initiated_event_id": event_id,
            "root": prior.get("rootWorkflowExecution")
            or {"workflowId": self.task.workflow_id, "runId": self.task.run_id},
        }
        start = new_run_start(
            namespace=namespace,
            workflow_id=cmd.workflow_id,
            run_id=new_run_id(),
            workflow_type=cmd.workflow_type,
            task_queue=cmd.task_queue,
            arguments=cmd.arguments,
            execution_timeout=cmd.execution_timeout,
            run_timeout=cmd.run_timeout,
            task_timeout=cmd.task_timeout,
            memo_json=memo,
            search_attributes_json=search_attributes,
            headers=cmd.headers,
            identity=self.task.identity,
            retry_policy=cmd.retry_policy,
            cron_schedule=cmd.cron_schedule,
            id_reuse_policy=cmd.id_reuse_policy or 1,
            parent=parent,
            user_metadata=h.payload_map(cmd.user_metadata),
        )
        self.out.children.append(
            {
                "initiated_event_id": event_id,
                "completed_event_id": self.completed_id,
                "start": start,
            }
        )

    def _CancelChildWorkflow(self, cmd: c.CancelChildWorkflow) -> None:
        child = self.driver.child(cmd.seq)
        if child is None:
            return
        self._request_cancel(
            cmd,
            child.namespace,
            child.workflow_id,
            child.run_id,
            child_only=True,
            reason=cmd.reason,
        )

    def _RequestCancelExternalWorkflow(self, cmd: c.RequestCancelExternalWorkflow) -> None:
        self._request_cancel(
            cmd,
            cmd.namespace or self.task.namespace,
            cmd.workflow_id,
            cmd.run_id or None,
            child_only=False,
            reason=cmd.reason,
        )

    def _request_cancel(
        self,
        cmd: c.Command,
        namespace: str,
        workflow_id: str,
        run_id: str | None,
        *,
        child_only: bool,
        reason: str,
    ) -> None:
        target = h.strip_none({"workflowId": workflow_id, "runId": run_id})
        event_id = self.emit(
            cmd,
            "RequestCancelExternalWorkflowExecutionInitiated",
            {
                "namespace": namespace,
                "workflowExecution": target,
                "childWorkflowOnly": child_only or None,
                "reason": reason or None,
            },
        )
        self.out.externals.append(
            self._external("cancel", event_id, namespace, target, child_only) | {"reason": reason}
        )

    def _SignalExternalWorkflow(self, cmd: c.SignalExternalWorkflow) -> None:
        namespace = cmd.namespace or self.task.namespace
        target = h.strip_none({"workflowId": cmd.workflow_id, "runId": cmd.run_id or None})
        event_id = self.emit(
            cmd,
            "SignalExternalWorkflowExecutionInitiated",
            {
                "namespace": namespace,
                "workflowExecution": target,
                "signalName": cmd.signal_name,
                "input": h.payloads(cmd.arguments),
                "childWorkflowOnly": cmd.child_workflow_only or None,
                "header": h.header(cmd.headers),
            },
        )
        signal = h.event(
            "WorkflowExecutionSignaled",
            {
                "signalName": cmd.signal_name,
                "input": h.payloads(cmd.arguments),
                "identity": self.task.identity,
                "header": h.header(cmd.headers),
                "externalWorkflowExecution": {
                    "workflowId": self.task.workflow_id,
                    "runId": self.task.run_id,
                },
            },
        )
        self.out.externals.append(
            self._external("signal", event_id, namespace, target, cmd.child_workflow_only)
            | {"signal": signal}
        )

    def _external(
        self, kind: str, event_id: int, namespace: str, target: dict[str, str], child_only: bool
    ) -> dict[str, Any]:
        """What the SQL side needs to reach the target and record the outcome."""
        return {
            "kind": kind,
            "initiated_event_id": event_id,
            "completed_event_id": self.completed_id,
            "namespace": namespace,
            "workflow_id": target["workflowId"],
            "run_id": target.get("runId"),
            "child_only": child_only,
        }


def run_again(
    prior: dict[str, Any],
    *,
    namespace: str,
    workflow_id: str,
    run_id: str,
    new_run_id: str,
    identity: str,
    start_delay: timedelta | None,
    attempt: int = 1,
) -> dict[str, Any]:
    """The start of the same workflow again (a retry or the next cron run): the input,
    timeouts, memo, search attributes, header, retry policy, cron schedule and parent of
    the closing run ``run_id``, whose WorkflowExecutionStarted attributes are ``prior``."""
    return new_run_start(
        namespace=namespace,
        workflow_id=workflow_id,
        run_id=new_run_id,
        workflow_type=prior["workflowType"]["name"],
        task_queue=prior["taskQueue"]["name"],
        arguments=h.parse_payloads(prior.get("input")),
        execution_timeout=h.parse_duration(prior.get("workflowExecutionTimeout")),
        run_timeout=h.parse_duration(prior.get("workflowRunTimeout")),
        task_timeout=h.parse_duration(prior.get("workflowTaskTimeout")),
        memo_json=(prior.get("memo") or {}).get("fields"),
        search_attributes_json=(prior.get("searchAttributes") or {}).get("indexedFields"),
        headers=h.parse_payload_map((prior.get("header") or {}).get("fields")),
        first_execution_run_id=prior.get("firstExecutionRunId") or run_id,
        continued_run_id=run_id,
        identity=identity,
        retry_policy_json=prior.get("retryPolicy"),
        cron_schedule=prior.get("cronSchedule", ""),
        start_delay=start_delay,
        execution_deadline=prior.get("workflowExecutionExpirationTime"),
        attempt=attempt,
        parent=parent_of(prior),
    )


def retry_run(
    prior: dict[str, Any],
    *,
    namespace: str,
    workflow_id: str,
    run_id: str,
    identity: str,
    failure: dict[str, Any],
    backoff: timedelta,
) -> dict[str, Any]:
    """The next attempt of a run that failed or timed out with ``failure`` (Temporal
    JSON), starting after ``backoff``: the same input, linked as Temporal links a
    retry (initiator RETRY, attempt + 1, the failure passed on)."""
    start = run_again(
        prior,
        namespace=namespace,
        workflow_id=workflow_id,
        run_id=run_id,
        new_run_id=new_run_id(),
        identity=identity,
        start_delay=backoff,
        attempt=int(prior.get("attempt") or 1) + 1,
    )
    started = start["started_attributes"]
    started["initiator"] = "CONTINUE_AS_NEW_INITIATOR_RETRY"
    started["continuedFailure"] = failure
    if "lastCompletionResult" in prior:
        started["lastCompletionResult"] = prior["lastCompletionResult"]
    return start


def next_cron_run(
    prior: dict[str, Any],
    *,
    namespace: str,
    workflow_id: str,
    run_id: str,
    identity: str,
    now: datetime,
    result: dict[str, Any] | None = None,
    failure: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The run that follows a cron run closing at ``now`` (None when the run has no
    cron schedule): the same input, delayed until the next cron time, linked as
    Temporal links it (initiator CRON_SCHEDULE, last result or failure passed on).
    ``prior`` is the closing run's WorkflowExecutionStarted attributes."""
    schedule = prior.get("cronSchedule")
    if not schedule:
        return None

    start = run_again(
        prior,
        namespace=namespace,
        workflow_id=workflow_id,
        run_id=run_id,
        new_run_id=new_run_id(),
        identity=identity,
        start_delay=CronSchedule(schedule).backoff(now),
    )
    started = start["started_attributes"]
    started["initiator"] = "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE"
    if result is not None:
        started["lastCompletionResult"] = result
    elif "lastCompletionResult" in prior:
        started["lastCompletionResult"] = prior["lastCompletionResult"]
    if failure is not None:
        started["continuedFailure"] = failure
    return start


def _default_retry_policy() -> Any:

    return RetryPolicy()


def _server_filled_retry_policy(policy: Any) -> Any:
    """The policy as a Temporal server records it on ActivityTaskScheduled: unset
    fields filled with the defaults the retries use (maximum interval 100 x initial)."""
    import dataclasses

    if policy.maximum_interval is not None:
        return policy
    return dataclasses.replace(policy, maximum_interval=policy.initial_interval * 100)


def new_run_start(
    *,
    namespace: str,
    workflow_id: str,
    run_id: str,
    workflow_type: str,
    task_queue: str,
    arguments: list[Any],
    execution_timeout: timedelta | None = None,
    run_timeout: timedelta | None = None,
    task_timeout: timedelta | None = None,
    memo_json: dict[str, Any] | None = None,
    search_attributes_json: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
    first_execution_run_id: str | None = None,
    continued_run_id: str | None = None,
    identity: str = "",
    retry_policy: Any = None,
    retry_policy_json: dict[str, Any] | None = None,
    cron_schedule: str = "",
    start_delay: timedelta | None = None,
    execution_deadline: str | None = None,
    attempt: int = 1,
    id_reuse_policy: int = 1,
    id_conflict_policy: int = 0,
    parent: dict[str, Any] | None = None,
    user_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The argument of insert_run() / start_workflow(): the execution row's fields and
    the WorkflowExecutionStarted attributes, in one JSON object.

    ``parent`` (namespace, workflow_id, run_id, initiated_event_id, root) makes the run
    a child: the row's ``parent`` column is how the parent's close finds its children
    and how the child's close finds its parent. ``user_metadata`` is the static
    summary and details (sdk.v1.UserMetadata JSON, payloads encoded)."""
    task_timeout = task_timeout or timedelta(seconds=10)
    run_timeout = run_timeout or execution_timeout
    first = first_execution_run_id or run_id
    started = {
        "workflowType": {"name": workflow_type},
        "taskQueue": h.task_queue(task_queue),
        "input": h.payloads(arguments),
        "workflowExecutionTimeout": h.duration(execution_timeout),
        "workflowRunTimeout": h.duration(run_timeout),
        "workflowTaskTimeout": h.duration(task_timeout),
        "continuedExecutionRunId": continued_run_id,
        "initiator": "CONTINUE_AS_NEW_INITIATOR_WORKFLOW" if continued_run_id else None,
        "originalExecutionRunId": run_id,
        "identity": identity,
        "firstExecutionRunId": first,
        "retryPolicy": retry_policy_json or h.retry_policy_json(retry_policy),
        "attempt": attempt,
        "workflowExecutionExpirationTime": execution_deadline,
        "cronSchedule": cron_schedule or None,
        "firstWorkflowTaskBackoff": h.duration(start_delay),
        "memo": {"fields": memo_json} if memo_json else None,
        "searchAttributes": h.search_attributes(search_attributes_json),
        "header": h.header(headers),
        "workflowId": workflow_id,
        **_parent_started_fields(parent),
    }
    return h.strip_none(
        {
            "namespace": namespace,
            "workflow_id": workflow_id,
            "run_id": run_id,
            "first_execution_run_id": first,
            "workflow_type": workflow_type,
            "task_queue": task_queue,
            "task_timeout": task_timeout.total_seconds(),
            "run_timeout": h.seconds(run_timeout),
            "execution_timeout": h.seconds(execution_timeout),
            "execution_deadline": execution_deadline,
            "start_delay": h.seconds(start_delay),
            "memo": memo_json,
            "search_attributes": search_attributes_json,
            "id_reuse_policy": id_reuse_policy,
            "id_conflict_policy": id_conflict_policy,
            "parent": _parent_row(parent),
            "user_metadata": user_metadata,
            "started_attributes": h.strip_none(started),
        }
    )


def _parent_started_fields(parent: dict[str, Any] | None) -> dict[str, Any]:
    if parent is None:
        return {}
    return {
        "parentWorkflowNamespace": parent["namespace"],
        "parentWorkflowExecution": {"workflowId": parent["workflow_id"], "runId": parent["run_id"]},
        "parentInitiatedEventId": str(parent["initiated_event_id"]),
        "rootWorkflowExecution": parent.get("root"),
    }


def _parent_row(parent: dict[str, Any] | None) -> dict[str, Any] | None:
    if parent is None:
        return None
    keys = ("namespace", "workflow_id", "run_id", "initiated_event_id")
    return {key: parent[key] for key in keys}


def parent_of(started_attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The parent of a run, from its WorkflowExecutionStarted attributes: a run that
    continues as new (or is retried) stays the child of the same parent."""
    execution = started_attrs.get("parentWorkflowExecution")
    if not execution:
        return None
    return {
        "namespace": started_attrs.get("parentWorkflowNamespace", ""),
        "workflow_id": execution.get("workflowId", ""),
        "run_id": execution.get("runId", ""),
        "initiated_event_id": int(started_attrs.get("parentInitiatedEventId") or 0),
        "root": started_attrs.get("rootWorkflowExecution"),
    }
