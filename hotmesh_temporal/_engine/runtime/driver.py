"""Drive one workflow run through its history.

A :class:`RunDriver` feeds history events to a workflow instance the way a Temporal
worker does: events between two workflow tasks become the jobs of one activation; the
commands an activation returns must match, in order, the command events that follow
the ``WorkflowTaskCompleted`` event of that task (else :class:`NondeterminismError`).
Events after the last completed task form the *current* activation, whose commands are
new: :func:`build_completion` turns them into events and rows for the database.

The driver lives in the worker's sticky cache between tasks, so a cached run only
processes the events it has not seen.
"""

from __future__ import annotations

import collections
import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime.codec import (
    ActivityTarget,
    PayloadCodecs,
    TaskStorageMetrics,
)
from hotmesh_temporal._engine.runtime.local_markers import (
    is_local_activity,
    is_local_activity_marker,
    marker_from_attributes,
    resolution,
)
from hotmesh_temporal._engine.runtime.markers import (
    PATCH_MARKER,
    patch_marker_deprecated,
    patch_marker_id,
)
from hotmesh_temporal._engine.runtime.updates import (
    UpdateLedger,
    update_event_kind,
    update_id_of_event,
)
from hotmesh_temporal.api.failure.v1 import Failure


class NondeterminismError(Exception):
    """History and workflow code disagree (raised inside the engine; the public
    ``workflow.NondeterminismError`` is raised to users where temporalio raises it)."""


@dataclass
class _Activity:
    seq: int
    activity_type: str
    activity_id: str
    is_local: bool


@dataclass
class _Child:
    seq: int
    namespace: str
    workflow_id: str
    workflow_type: str
    cancellation_type: int
    run_id: str | None = None
    # Resolved before it closed (WAIT_CANCELLATION_REQUESTED): its close is no news.
    resolved_early: bool = False


# ChildWorkflowCancellationType.WAIT_CANCELLATION_REQUESTED: the child resolves as
# cancelled as soon as the cancel request reached it.
_WAIT_CANCELLATION_REQUESTED = 3


@dataclass
class ActivationResult:
    commands: list[c.Command]
    failure: BaseException | None = None


# Temporal's default thresholds for suggesting continue-as-new (the server's dynamic
# config limit.historyCount.suggestContinueAsNew and limit.historySize.suggestContinueAsNew).
SUGGEST_CONTINUE_AS_NEW_EVENTS = 4 * 1024
SUGGEST_CONTINUE_AS_NEW_BYTES = 4 * 1024 * 1024


def continue_as_new_suggested(
    history_length: int,
    history_size: int,
    events: int = SUGGEST_CONTINUE_AS_NEW_EVENTS,
    size: int = SUGGEST_CONTINUE_AS_NEW_BYTES,
) -> bool:
    """Temporal's suggestion, at the deployment's thresholds (table limits)."""
    return history_length >= events or history_size >= size


@dataclass
class TaskFacts:
    """What workflow code may read about the task that runs it: Temporal records them in
    WorkflowTaskStarted, so a replay sees the same values as the first run."""

    started_event_id: int = 0
    history_size: int = 0
    suggest_continue_as_new: bool = False


InstanceFactory = Callable[[c.InitializeWorkflow, Mapping[str, Any]], Any]

T = TypeVar("T")

# Where workflow code runs. The driver never calls into workflow code itself: it hands
# each synchronous step (build the instance, run one activation, answer a query) to an
# ``ActivationRunner``, which a worker points at its workflow task executor (threads,
# a deadlock timeout: see worker/activations.py). ``run_inline`` runs the step in the
# caller's thread (the replayer without an executor, tests of the driver).
ActivationRunner = Callable[[Callable[[], T]], Awaitable[T]]


async def run_inline(step: Callable[[], T]) -> T:
    return step()


class RunDriver:
    """Replays history into one workflow instance and runs its new activations."""

    def __init__(
        self,
        *,
        run_id: str,
        create_instance: InstanceFactory,
        codecs: PayloadCodecs,
        public_nondeterminism_error: type = NondeterminismError,
        run_step: ActivationRunner = run_inline,
    ) -> None:
        self.run_id = run_id
        self._create_instance = create_instance
        self.run_step = run_step
        self._codecs = codecs
        self._storage_metrics = TaskStorageMetrics()
        self.storage_reporter: Callable[[TaskStorageMetrics], None] | None = None
        self._nondeterminism = public_nondeterminism_error
        self.instance: Any = None
        self.last_event_id = 0
        self.last_scheduled_id = 0
        self.started_attrs: dict[str, Any] = {}
        self._activities: dict[int, _Activity] = {}  # by scheduled event id
        self._activity_event: dict[int, int] = {}  # seq -> scheduled event id
        self._timers: dict[int, int] = {}  # started event id -> seq
        self._timer_event: dict[int, int] = {}  # seq -> started event id
        self._children: dict[int, _Child] = {}  # by initiated event id
        self._child_by_seq: dict[int, _Child] = {}
        self._activity_targets: dict[int, ActivityTarget] = {}  # seq -> its activity
        self._child_targets: dict[int, str] = {}  # seq -> child workflow id
        self._signal_targets: dict[int, str] = {}  # seq -> signalled workflow id
        # initiated event id -> (kind, seq): kind "signal", "cancel" or "cancel_child"
        self._externals: dict[int, tuple[str, int]] = {}
        self.updates = UpdateLedger()
        self._jobs: list[c.Job] = []
        self._expected: collections.deque[c.Command] = collections.deque()
        self._task_started_time: datetime | None = None
        self._task_facts = TaskFacts()
        self._local_resolutions: list[c.Job] = []
        self._unresolved_locals: dict[int, c.ScheduleActivity] = {}  # by seq
        self.closed = False
        # Kept by the workflow worker for running a task ahead (workflow_worker.py): the
        # run's history size after the last completed task, and that task's facts.
        self.history_size = 0
        self.task_facts: dict[str, Any] | None = None
        # The time the last completed task's events carry: a task run ahead is not
        # stamped earlier (a run's event times never go backwards).
        self.last_event_time: datetime | None = None

    # ------------------------------------------------------------------ replay

    async def replay(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Feed recorded events (all of them belong to the past)."""
        for index, ev in enumerate(events):
            event_id = int(ev["id"])
            if event_id != self.last_event_id + 1:
                raise RuntimeError(
                    f"history of run {self.run_id} jumps from event {self.last_event_id} to {event_id}"
                )
            await self._apply(ev, events, index)
            self.last_event_id = event_id

    async def _apply(
        self, ev: Mapping[str, Any], events: list[Mapping[str, Any]], index: int
    ) -> None:
        kind = ev["type"]
        attrs = ev["attrs"]
        if kind in h.COMMAND_EVENTS:
            self._match_command(int(ev["id"]), kind, attrs)
            if self._local_resolutions:
                await self._resolve_recorded_local_activities()
            return
        if self._expected:
            raise self._mismatch(
                f"workflow issued {type(self._expected[0]).__name__} but history has {kind} "
                f"(event {ev['id']}) instead of its command event"
            )
        if kind == "WorkflowTaskScheduled":
            self.last_scheduled_id = int(ev["id"])
        elif kind == "WorkflowTaskStarted":
            self._task_started_time = h.parse_time(ev["time"])
            self._task_facts = TaskFacts(
                started_event_id=int(ev["id"]),
                history_size=int(attrs.get("historySizeBytes") or 0),
                suggest_continue_as_new=bool(attrs.get("suggestContinueAsNew")),
            )
        elif kind == "WorkflowTaskCompleted":
            jobs = (
                self._patch_jobs(events, index)
                + self._jobs
                + self.updates.replayed_jobs(events, index)
            )
            self._jobs = []
            result = await self.activate(
                jobs,
                self._task_started_time or h.parse_time(ev["time"]),
                replaying=True,
                history_length=int(ev["id"]),
            )
            if result.failure is not None:
                raise result.failure
            self._expect(result.commands)
        else:
            job = self._job_for(kind, attrs)
            if job is not None:
                self._jobs.append(job)

    def deliver_updates(self, requests: list[Mapping[str, Any]]) -> None:
        """Update requests handed over with the current task (they are not events)."""
        self._jobs.extend(self.updates.live_jobs(requests))

    async def _resolve_recorded_local_activities(self) -> None:
        """A local activity's marker was matched: hand its recorded outcome to the
        workflow at once, as the worker did within the same task when it ran it."""
        jobs, self._local_resolutions = self._local_resolutions, []
        result = await self.activate(
            jobs,
            self._task_started_time or datetime.now(timezone.utc),
            replaying=True,
            history_length=self.last_event_id,
        )
        if result.failure is not None:
            raise result.failure
        self._expect(result.commands)

    def _expect(self, commands: list[c.Command]) -> None:
        """Commands of a replayed activation that history must show. Local activities
        are matched by seq when their marker comes, wherever it comes (a marker is
        written when the activity finishes, after the commands issued before that)."""
        for cmd in recorded_commands(commands):
            if is_local_activity(cmd):
                self._unresolved_locals[cmd.seq] = cmd
            else:
                self._expected.append(cmd)

    @property
    def owes_local_activities(self) -> bool:
        """Local activities an earlier task scheduled are still to be run."""
        return bool(self._unresolved_locals)

    def take_unresolved_local_activities(self) -> list[c.ScheduleActivity]:
        """Local activities an earlier task scheduled with no marker yet: the worker
        runs them again in the current task (as Core does after losing a worker)."""
        pending = list(self._unresolved_locals.values())
        self._unresolved_locals.clear()
        return pending

    def queue_jobs(self, jobs: list[c.Job]) -> None:
        """Jobs for the next activation of the current task (local activity outcomes)."""
        self._jobs.extend(jobs)

    def _patch_jobs(self, events: list[Mapping[str, Any]], index: int) -> list[c.Job]:
        """Patch markers recorded by a task are announced before its activation runs,
        so that ``workflow.patched`` answers the same as when the task first ran."""
        jobs: list[c.Job] = []
        for ev in events[index + 1 :]:
            if ev["type"] not in h.COMMAND_EVENTS:
                break
            patch_id = _patch_id(ev)
            if patch_id is not None:
                jobs.append(c.NotifyHasPatch(patch_id=patch_id))
        return jobs

    # ------------------------------------------------------------ activations

    async def activate(
        self, jobs: list[c.Job], timestamp: datetime, *, replaying: bool, history_length: int
    ) -> ActivationResult:
        """Run one activation. What workflow code reads about its task (history length
        and size, the continue-as-new suggestion) comes from the task's facts, which
        WorkflowTaskStarted records; ``history_length`` only serves before any."""
        if not jobs and self.instance is None:
            return ActivationResult(commands=[])
        with self._storage_metrics.download.track():
            jobs = await self._codecs.decode_jobs(jobs, self._job_target)
        init = next(
            (j for j in jobs if isinstance(j, c.InitializeWorkflow) and self.instance is None),
            None,
        )
        if self.instance is None and init is None:
            raise RuntimeError(f"run {self.run_id} has no WorkflowExecutionStarted event")
        facts = self._task_facts
        activation = c.Activation(
            run_id=self.run_id,
            timestamp=timestamp,
            is_replaying=replaying,
            history_length=facts.started_event_id or history_length,
            jobs=jobs,
            continue_as_new_suggested=facts.suggest_continue_as_new,
            history_size=facts.history_size,
        )
        completion = await self.run_step(functools.partial(self._activate_step, init, activation))
        self._note_targets(completion.commands)
        if replaying:  # a replayed activation's commands are in history: nothing to store
            self._report_storage()
        return ActivationResult(commands=list(completion.commands), failure=completion.failure)

    def _activate_step(
        self, init: c.InitializeWorkflow | None, activation: c.Activation
    ) -> c.ActivationCompletion:
        """One step in the workflow thread: build the instance first if this activation
        starts the run (its interceptors' constructors are workflow code too)."""
        if init is not None:
            self.instance = self._create_instance(init, self.started_attrs)
        return self.instance.activate(activation)

    def _report_storage(self) -> None:
        """Hand the activation's external storage work to ``storage_reporter`` (one
        report per activation, as temporalio's worker reports them)."""
        taken, self._storage_metrics = self._storage_metrics, TaskStorageMetrics()
        if self.storage_reporter is not None:
            self.storage_reporter(taken)

    def begin_task(self, facts: TaskFacts) -> None:
        """The live task about to run (its WorkflowTaskStarted is written at completion)."""
        self._task_facts = facts

    async def run_current(self, started_at: datetime, history_length: int) -> ActivationResult:
        """Run the activation of the task being processed now (not replaying)."""
        if self._expected:
            raise self._mismatch(
                f"workflow issued {type(self._expected[0]).__name__} that history does not have"
            )
        jobs, self._jobs = self._jobs, []
        result = await self.activate(
            jobs, started_at, replaying=False, history_length=history_length
        )
        if result.failure is None:
            with self._storage_metrics.upload.track():
                result.commands = await self._codecs.encode_commands(result.commands)
        else:
            self._jobs = jobs  # the task is retried: its jobs are still owed
        self._report_storage()
        return result

    # ------------------------------------------------------------ event -> job

    def _job_for(self, kind: str, attrs: Mapping[str, Any]) -> c.Job | None:
        if kind == "WorkflowExecutionStarted":
            self.started_attrs = dict(attrs)
            self._codecs = self._codecs.with_started(attrs)
            return c.InitializeWorkflow(
                workflow_type=attrs["workflowType"]["name"],
                arguments=h.parse_payloads(attrs.get("input")),
                headers=h.parse_payload_map((attrs.get("header") or {}).get("fields")),
                randomness_seed=_seed(attrs.get("originalExecutionRunId") or self.run_id),
                last_completion_result=h.parse_payloads(attrs.get("lastCompletionResult")) or None,
                continued_failure=h.parse_failure(attrs.get("continuedFailure")),
                memo=h.parse_payload_map((attrs.get("memo") or {}).get("fields")),
                search_attributes=h.parse_payload_map(
                    (attrs.get("searchAttributes") or {}).get("indexedFields")
                ),
            )
        if kind == "TimerFired":
            seq = self._timers.get(int(attrs["startedEventId"]))
            return None if seq is None else c.FireTimer(seq=seq)
        if kind.startswith("ActivityTask") and kind not in ("ActivityTaskStarted",):
            return self._activity_job(kind, attrs)
        if kind == "WorkflowExecutionSignaled":
            return c.SignalWorkflow(
                signal_name=attrs.get("signalName", ""),
                input=h.parse_payloads(attrs.get("input")),
                identity=attrs.get("identity", ""),
                headers=h.parse_payload_map((attrs.get("header") or {}).get("fields")),
            )
        if kind == "WorkflowExecutionCancelRequested":
            return c.CancelWorkflow(reason=attrs.get("cause", ""))
        if "ChildWorkflowExecution" in kind:
            return self._child_job(kind, attrs)
        if kind in _EXTERNAL_OUTCOMES:
            return self._external_job(kind, attrs)
        return None

    def _child_job(self, kind: str, attrs: Mapping[str, Any]) -> c.Job | None:
        child = self._children.get(int(attrs.get("initiatedEventId") or 0))
        if child is None:
            return None
        if kind == "ChildWorkflowExecutionStarted":
            child.run_id = (attrs.get("workflowExecution") or {}).get("runId", "")
            return c.ResolveChildWorkflowStart(seq=child.seq, run_id=child.run_id)
        if child.resolved_early:
            return None
        if kind == "StartChildWorkflowExecutionFailed":
            return c.ResolveChildWorkflowStart(
                seq=child.seq, failed_cause="WORKFLOW_ALREADY_EXISTS"
            )
        if kind == "ChildWorkflowExecutionCompleted":
            result = h.parse_payloads(attrs.get("result"))
            return c.ResolveChildWorkflow(
                seq=child.seq, completed=result[0] if result else None, has_completed=True
            )
        if kind == "ChildWorkflowExecutionCanceled":
            return c.ResolveChildWorkflow(seq=child.seq, cancelled=_child_cancelled(child, attrs))
        return c.ResolveChildWorkflow(seq=child.seq, failed=_child_failure(kind, child, attrs))

    def _external_job(self, kind: str, attrs: Mapping[str, Any]) -> c.Job | None:
        target = self._externals.get(int(attrs.get("initiatedEventId") or 0))
        if target is None:
            return None
        what, seq = target
        failure = _external_failure(kind) if kind.endswith("Failed") else None
        if what == "signal":
            return c.ResolveSignalExternalWorkflow(seq=seq, failure=failure)
        if what == "cancel":
            return c.ResolveRequestCancelExternalWorkflow(seq=seq, failure=failure)
        child = self._child_by_seq.get(seq)
        if (
            kind == "ExternalWorkflowExecutionCancelRequested"
            and child is not None
            and child.cancellation_type == _WAIT_CANCELLATION_REQUESTED
        ):
            child.resolved_early = True
            return c.ResolveChildWorkflow(seq=seq, cancelled=_child_cancelled(child, attrs))
        return None  # other child cancellation types resolve on the child's close

    def _activity_job(self, kind: str, attrs: Mapping[str, Any]) -> c.Job | None:
        activity = self._activities.get(int(attrs["scheduledEventId"]))
        if activity is None:
            return None
        if kind == "ActivityTaskCompleted":
            result = h.parse_payloads(attrs.get("result"))
            return c.ResolveActivity(
                seq=activity.seq, completed=result[0] if result else None, has_completed=True
            )
        if kind in ("ActivityTaskFailed", "ActivityTaskTimedOut"):
            message = (
                "Activity task failed"
                if kind == "ActivityTaskFailed"
                else "Activity task timed out"
            )
            cause = h.parse_failure(attrs.get("failure"))
            return c.ResolveActivity(
                seq=activity.seq, failed=self._activity_failure(message, activity, attrs, cause)
            )
        if kind == "ActivityTaskCanceled":
            cause = Failure.from_json_dict(
                {
                    "message": "Cancelled",  # the cause's message as Temporal words it
                    "source": "",
                    "canceledFailureInfo": {"details": attrs["details"]}
                    if attrs.get("details")
                    else {},
                }
            )
            # Canceled events carry no retry state; Temporal SDKs report CANCEL_REQUESTED.
            attrs = {**attrs, "retryState": "RETRY_STATE_CANCEL_REQUESTED"}
            return c.ResolveActivity(
                seq=activity.seq,
                cancelled=self._activity_failure("Activity cancelled", activity, attrs, cause),
            )
        return None

    @staticmethod
    def _activity_failure(
        message: str, activity: _Activity, attrs: Mapping[str, Any], cause: Failure | None
    ) -> Failure:
        wrapper = Failure.from_json_dict(
            {
                "message": message,
                "activityFailureInfo": h.strip_none(
                    {
                        "scheduledEventId": str(attrs.get("scheduledEventId", "0")),
                        "startedEventId": str(attrs.get("startedEventId", "0")),
                        "identity": attrs.get("identity", ""),
                        "activityType": {"name": activity.activity_type},
                        "activityId": activity.activity_id,
                        "retryState": attrs.get("retryState", "RETRY_STATE_UNSPECIFIED"),
                    }
                ),
            }
        )
        if cause is not None:
            wrapper.cause.CopyFrom(cause)
        return wrapper

    # ------------------------------------------------------- command matching

    def _match_command(self, event_id: int, kind: str, attrs: Mapping[str, Any]) -> None:
        if kind == "MarkerRecorded" and is_local_activity_marker(attrs):
            self._match_local_activity_marker(event_id, attrs)
            return
        if kind == "MarkerRecorded" and not self._expected and _is_deprecated_patch_marker(attrs):
            return  # a deprecated patch's marker may be absent from code: Temporal allows it
        if _is_patch_version_upsert(kind, attrs) and not _expects_version_upsert(self._expected):
            return  # Core's TemporalChangeVersion upsert that goes with a patch marker
        if not self._expected:
            raise self._mismatch(
                f"history has {kind} (event {event_id}) but the workflow issued no command for it"
            )
        cmd = self._expected.popleft()
        if (
            kind == "MarkerRecorded"
            and _is_deprecated_patch_marker(attrs)
            and not (isinstance(cmd, c.SetPatchMarker) and _same_target(cmd, attrs))
        ):
            self._expected.appendleft(cmd)  # a removed deprecated patch: skip its marker
            return
        expected_kind = _event_kind(cmd)
        if expected_kind != kind or not _same_target(cmd, attrs):
            raise self._mismatch(
                f"event {event_id} is {kind}{_describe(attrs)} but the workflow issued "
                f"{type(cmd).__name__}{_describe_cmd(cmd)}"
            )
        self.note_command_event(cmd, event_id)

    def _match_local_activity_marker(self, event_id: int, attrs: Mapping[str, Any]) -> None:
        marker = marker_from_attributes(attrs)
        if marker is None:
            raise self._mismatch(f"local activity marker (event {event_id}) has no readable data")
        cmd = self._unresolved_locals.pop(marker.seq, None)
        if cmd is None or marker.activity_type not in ("", cmd.activity_type):
            issued = _describe_cmd(cmd) if cmd is not None else " nothing"
            raise self._mismatch(
                f"event {event_id} is MarkerRecorded (marker 'core_local_activity', local "
                f"activity type {marker.activity_type!r}, seq {marker.seq}) but the workflow "
                f"issued{issued} for that seq"
            )
        self._local_resolutions.append(resolution(marker))

    def note_command_event(self, cmd: c.Command, event_id: int) -> None:
        """Remember which event a command became (to route later results to it)."""
        if isinstance(cmd, c.ScheduleActivity):
            self._activities[event_id] = _Activity(
                cmd.seq, cmd.activity_type, cmd.activity_id, cmd.is_local
            )
            self._activity_event[cmd.seq] = event_id
        elif isinstance(cmd, c.StartTimer):
            self._timers[event_id] = cmd.seq
            self._timer_event[cmd.seq] = event_id
        elif isinstance(cmd, c.StartChildWorkflow):
            child = _Child(
                cmd.seq, cmd.namespace, cmd.workflow_id, cmd.workflow_type, cmd.cancellation_type
            )
            self._children[event_id] = child
            self._child_by_seq[cmd.seq] = child
        elif isinstance(cmd, c.SignalExternalWorkflow):
            self._externals[event_id] = ("signal", cmd.seq)
        elif isinstance(cmd, c.RequestCancelExternalWorkflow):
            self._externals[event_id] = ("cancel", cmd.seq)
        elif isinstance(cmd, c.CancelChildWorkflow):
            self._externals[event_id] = ("cancel_child", cmd.seq)
        elif isinstance(
            cmd, (c.CompleteWorkflow, c.FailWorkflow, c.CancelWorkflowExecution, c.ContinueAsNew)
        ):
            self.closed = True
        elif isinstance(cmd, c.UpdateResponse):
            self.updates.note_event(cmd, event_id)

    @property
    def codecs(self) -> PayloadCodecs:
        return self._codecs

    def _job_target(self, job: c.Job) -> ActivityTarget | str | None:
        """The activity or child workflow id a resolution job is about, if known."""
        if isinstance(job, c.ResolveActivity):
            return self._activity_targets.get(job.seq)
        if isinstance(job, (c.ResolveChildWorkflow, c.ResolveChildWorkflowStart)):
            return self._child_targets.get(job.seq)
        if isinstance(job, c.ResolveSignalExternalWorkflow):
            # temporalio decodes a signal's failure in the signalled workflow's context
            # (a cancel request's in the run's own).
            return self._signal_targets.get(job.seq)
        return None

    def _note_targets(self, commands: Sequence[c.Command]) -> None:
        """Remember what each activity and child command targets, so their results
        are decoded in the same serialization context their inputs were encoded in."""
        for cmd in commands:
            if isinstance(cmd, c.ScheduleActivity):
                self._activity_targets[cmd.seq] = ActivityTarget(
                    cmd.activity_id, cmd.activity_type, cmd.task_queue, cmd.is_local
                )
            elif isinstance(cmd, c.StartChildWorkflow):
                self._child_targets[cmd.seq] = cmd.workflow_id
            elif isinstance(cmd, c.SignalExternalWorkflow):
                self._signal_targets[cmd.seq] = cmd.workflow_id

    def activity_event_id(self, seq: int) -> int | None:
        return self._activity_event.get(seq)

    def timer_event_id(self, seq: int) -> int | None:
        return self._timer_event.get(seq)

    def child(self, seq: int) -> _Child | None:
        return self._child_by_seq.get(seq)

    def _mismatch(self, detail: str) -> BaseException:
        return self._nondeterminism(f"Nondeterminism in run {self.run_id}: {detail}")


# ------------------------------------------------------------------ helpers

_CLOSE_COMMANDS: dict[type, str] = {
    c.CompleteWorkflow: "WorkflowExecutionCompleted",
    c.FailWorkflow: "WorkflowExecutionFailed",
    c.CancelWorkflowExecution: "WorkflowExecutionCanceled",
    c.ContinueAsNew: "WorkflowExecutionContinuedAsNew",
}

_EVENT_OF_COMMAND: dict[type, str] = {
    c.ScheduleActivity: "ActivityTaskScheduled",
    c.LocalActivityMarker: "MarkerRecorded",
    c.RequestCancelActivity: "ActivityTaskCancelRequested",
    c.StartTimer: "TimerStarted",
    c.CancelTimer: "TimerCanceled",
    c.SetPatchMarker: "MarkerRecorded",
    c.StartChildWorkflow: "StartChildWorkflowExecutionInitiated",
    c.SignalExternalWorkflow: "SignalExternalWorkflowExecutionInitiated",
    c.RequestCancelExternalWorkflow: "RequestCancelExternalWorkflowExecutionInitiated",
    c.CancelChildWorkflow: "RequestCancelExternalWorkflowExecutionInitiated",
    c.UpsertSearchAttributes: "UpsertWorkflowSearchAttributes",
    c.ModifyWorkflowProperties: "WorkflowPropertiesModified",
    **_CLOSE_COMMANDS,
}


def _event_kind(cmd: c.Command) -> str:
    if isinstance(cmd, c.UpdateResponse):
        return update_event_kind(cmd) or "(no event)"
    if is_local_activity(cmd):
        return "MarkerRecorded"
    return _EVENT_OF_COMMAND.get(type(cmd), type(cmd).__name__)


def recorded_commands(commands: list[c.Command]) -> list[c.Command]:
    """The commands of an activation that become history events. A local activity
    scheduled by an activation that also closes the run never runs (the run is over
    before the worker would start it), so it records nothing."""
    closing = any(type(cmd) in _CLOSE_COMMANDS for cmd in commands)
    # Except one cancelled before its handle ran: Core records its cancel marker.
    cancelled = {
        cmd.seq for cmd in commands if isinstance(cmd, c.RequestCancelActivity) and cmd.is_local
    }
    return [
        cmd
        for cmd in commands
        if _records_event(cmd)
        and not (closing and is_local_activity(cmd) and cmd.seq not in cancelled)
    ]


def _records_event(cmd: c.Command) -> bool:
    if isinstance(cmd, c.UpdateResponse):
        return update_event_kind(cmd) is not None
    if isinstance(cmd, c.RequestCancelActivity) and cmd.is_local:
        return False  # completion writes nothing for it (see completion.py)
    return type(cmd) in _EVENT_OF_COMMAND


def _same_target(cmd: c.Command, attrs: Mapping[str, Any]) -> bool:
    if isinstance(cmd, c.ScheduleActivity):
        return (
            attrs.get("activityType", {}).get("name") == cmd.activity_type
            and attrs.get("activityId") == cmd.activity_id
        )
    if isinstance(cmd, c.StartTimer):
        return attrs.get("timerId") == str(cmd.seq)
    if isinstance(cmd, c.SetPatchMarker):
        return _patch_id_from_attrs(attrs) == cmd.patch_id
    if isinstance(cmd, c.StartChildWorkflow):
        return (
            attrs.get("workflowType", {}).get("name") == cmd.workflow_type
            and attrs.get("workflowId") == cmd.workflow_id
        )
    if isinstance(cmd, (c.SignalExternalWorkflow, c.RequestCancelExternalWorkflow)):
        return (attrs.get("workflowExecution") or {}).get("workflowId") == cmd.workflow_id
    if isinstance(cmd, c.UpdateResponse):
        return update_id_of_event(attrs) == cmd.protocol_instance_id
    return True


def _describe(attrs: Mapping[str, Any]) -> str:
    if "activityType" in attrs:
        return f" (activity type {attrs['activityType'].get('name')!r}, id {attrs.get('activityId')!r})"
    if "timerId" in attrs:
        return f" (timer {attrs['timerId']!r})"
    if "markerName" in attrs:
        return f" (marker {attrs['markerName']!r})"
    return ""


def _describe_cmd(cmd: c.Command) -> str:
    if is_local_activity(cmd):
        return f" (local activity type {cmd.activity_type!r}, seq {cmd.seq})"
    if isinstance(cmd, c.ScheduleActivity):
        return f" (activity type {cmd.activity_type!r}, id {cmd.activity_id!r})"
    if isinstance(cmd, c.StartTimer):
        return f" (timer {str(cmd.seq)!r})"
    return ""


# Outcomes of a signal or cancel request sent to another workflow, and what Temporal's
# core SDK tells workflow code when the target was not found.
_EXTERNAL_OUTCOMES = {
    "ExternalWorkflowExecutionSignaled": None,
    "SignalExternalWorkflowExecutionFailed": (
        "Unable to signal external workflow because it was not found"
    ),
    "ExternalWorkflowExecutionCancelRequested": None,
    "RequestCancelExternalWorkflowExecutionFailed": (
        "Unable to cancel external workflow because not found"
    ),
}

# Child close events other than completion: (message, cause failure), as Temporal's
# core SDK builds them for workflow code.
_CHILD_FAILURES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "ChildWorkflowExecutionFailed": ("Child Workflow execution failed", None),
    "ChildWorkflowExecutionTimedOut": (
        "Child Workflow execution timed out",
        {
            "message": "Timed out",
            "timeoutFailureInfo": {"timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"},
        },
    ),
    "ChildWorkflowExecutionTerminated": (
        "Child Workflow execution terminated",
        {"message": "Terminated", "terminatedFailureInfo": {}},
    ),
}


def _external_failure(kind: str) -> Failure:
    return Failure.from_json_dict(
        {
            "message": _EXTERNAL_OUTCOMES[kind],
            "applicationFailureInfo": {"type": "ExternalWorkflowExecutionNotFound"},
        }
    )


def _child_wrapper(
    message: str, child: _Child, attrs: Mapping[str, Any], retry_state: str
) -> Failure:
    return Failure.from_json_dict(
        {
            "message": message,
            "childWorkflowExecutionFailureInfo": {
                "namespace": attrs.get("namespace") or child.namespace,
                "workflowExecution": {"workflowId": child.workflow_id, "runId": child.run_id or ""},
                "workflowType": {"name": child.workflow_type},
                "initiatedEventId": str(attrs.get("initiatedEventId", "0")),
                "startedEventId": str(attrs.get("startedEventId", "0")),
                "retryState": retry_state,
            },
        }
    )


def _child_failure(kind: str, child: _Child, attrs: Mapping[str, Any]) -> Failure:
    message, cause_json = _CHILD_FAILURES.get(kind, ("Child Workflow execution failed", None))
    retry_state = attrs.get("retryState") or "RETRY_STATE_NON_RETRYABLE_FAILURE"
    wrapper = _child_wrapper(message, child, attrs, retry_state)
    if cause_json is None:
        cause = h.parse_failure(attrs.get("failure"))
    else:
        cause = Failure.from_json_dict(cause_json)
    if cause is not None:
        wrapper.cause.CopyFrom(cause)
    return wrapper


def _child_cancelled(child: _Child, attrs: Mapping[str, Any]) -> Failure:
    wrapper = _child_wrapper(
        "Child Workflow execution cancelled", child, attrs, "RETRY_STATE_NON_RETRYABLE_FAILURE"
    )
    details = {"details": attrs["details"]} if attrs.get("details") else {}
    # Temporal's core SDK sends this cause without a message.
    cause = Failure.from_json_dict({"message": "", "canceledFailureInfo": details})
    wrapper.cause.CopyFrom(cause)
    return wrapper


PATCH_VERSION_ATTRIBUTE = "TemporalChangeVersion"


def _is_patch_version_upsert(kind: str, attrs: Mapping[str, Any]) -> bool:
    """Core (with its UpsertSearchAttributeOnPatch flag) follows a patch marker with an
    upsert of only the TemporalChangeVersion search attribute; workflow code did not
    command it, so replay passes over it."""
    if kind != "UpsertWorkflowSearchAttributes":
        return False
    fields = (attrs.get("searchAttributes") or {}).get("indexedFields") or {}
    return set(fields) == {PATCH_VERSION_ATTRIBUTE}


def _expects_version_upsert(expected: collections.deque[c.Command]) -> bool:
    return (
        bool(expected)
        and isinstance(expected[0], c.UpsertSearchAttributes)
        and (PATCH_VERSION_ATTRIBUTE in expected[0].search_attributes)
    )


def _is_deprecated_patch_marker(attrs: Mapping[str, Any]) -> bool:
    """Only a deprecated patch's marker may be missing from the code (Core's rule: a
    marker of a patch the code no longer checks at all is nondeterminism)."""
    return _is_patch_marker(attrs) and patch_marker_deprecated(attrs)


def _is_patch_marker(attrs: Mapping[str, Any]) -> bool:
    return attrs.get("markerName") == PATCH_MARKER


def _patch_id(ev: Mapping[str, Any]) -> str | None:
    if ev["type"] != "MarkerRecorded" or not _is_patch_marker(ev["attrs"]):
        return None
    return _patch_id_from_attrs(ev["attrs"])


def _patch_id_from_attrs(attrs: Mapping[str, Any]) -> str | None:
    return patch_marker_id(attrs)


def _seed(run_id: str) -> int:
    try:
        return uuid.UUID(str(run_id)).int & ((1 << 63) - 1)
    except ValueError:
        return abs(hash(run_id)) & ((1 << 63) - 1)
