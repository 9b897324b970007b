"""Schedules with ``temporalio.client``'s API (re-exported by :mod:`hotmesh_temporal.client`).

A schedule is a row in the ``schedules`` table; any worker's sweeper fires it (see
``_engine/schedules.py``). The classes here are the user-facing values; they convert
to and from the JSON the row stores.
"""

from __future__ import annotations

import dataclasses
import inspect
from abc import ABC
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import (
    TYPE_CHECKING,
    Any,
)

import hotmesh_temporal.common
import hotmesh_temporal.exceptions
from hotmesh_temporal import converter
from hotmesh_temporal._engine.runtime import cron, visibility
from hotmesh_temporal._engine.runtime import protojson as h
from hotmesh_temporal._engine.runtime.completion import new_run_start
from hotmesh_temporal._engine.runtime.list_filter import (
    DEFAULT_ORDER,
    SCHEDULES,
    CompiledFilter,
    ListFilterError,
    compile_filter,
)
from hotmesh_temporal._engine.service import schedules as engine
from hotmesh_temporal._engine.service.engine import Engine
from hotmesh_temporal.api.common.v1 import Payload, SearchAttributes
from hotmesh_temporal.client._interceptor import (
    BackfillScheduleInput,
    CreateScheduleInput,
    DeleteScheduleInput,
    DescribeScheduleInput,
    PauseScheduleInput,
    TriggerScheduleInput,
    UnpauseScheduleInput,
    UpdateScheduleInput,
)
from hotmesh_temporal.service import (
    RPCError,
    RPCStatusCode,
    _refuse_bad_names,
    _refuse_large_memo,
)
from hotmesh_temporal.workflow._definition import workflow_type_and_result_type

if TYPE_CHECKING:
    from hotmesh_temporal.client._client import Client

_ARG_UNSET: Any = hotmesh_temporal.common._arg_unset
_NO_ATTRIBUTES = hotmesh_temporal.common.TypedSearchAttributes.empty
_PLACEHOLDER_RUN = "00000000-0000-0000-0000-000000000000"
_UPDATE_ATTEMPTS = 10


class ScheduleAlreadyRunningError(hotmesh_temporal.exceptions.TemporalError):
    """A schedule with this id exists already."""

    def __init__(self) -> None:
        super().__init__("Schedule already running")


# ------------------------------------------------------------------------ the spec


@dataclass(frozen=True)
class ScheduleRange:
    """Inclusive range of values, every ``step``-th (``end`` below ``start`` means just
    ``start``; ``step`` 0 means 1)."""

    start: int
    end: int = 0
    step: int = 0

    def __post_init__(self) -> None:
        if self.end < self.start:
            object.__setattr__(self, "end", self.start)
        if self.step == 0:
            object.__setattr__(self, "step", 1)


def _ranges_doc(ranges: Sequence[ScheduleRange]) -> list[list[int]]:
    return [[r.start, r.end, r.step] for r in ranges]


def _ranges(doc: Sequence[Sequence[int]]) -> Sequence[ScheduleRange]:
    return tuple(ScheduleRange(*r) for r in doc)


@dataclass
class ScheduleCalendarSpec:
    """Calendar times to act on, in the spec's time zone. Each field lists the values
    that match; the defaults mean midnight of every day. An empty ``year`` is every
    year; ``day_of_week`` counts from Sunday = 0."""

    second: Sequence[ScheduleRange] = (ScheduleRange(0),)
    minute: Sequence[ScheduleRange] = (ScheduleRange(0),)
    hour: Sequence[ScheduleRange] = (ScheduleRange(0),)
    day_of_month: Sequence[ScheduleRange] = (ScheduleRange(1, 31),)
    month: Sequence[ScheduleRange] = (ScheduleRange(1, 12),)
    year: Sequence[ScheduleRange] = ()
    day_of_week: Sequence[ScheduleRange] = (ScheduleRange(0, 6),)
    comment: str | None = None

    def _to_doc(self) -> dict[str, Any]:
        return {
            "second": _ranges_doc(self.second),
            "minute": _ranges_doc(self.minute),
            "hour": _ranges_doc(self.hour),
            "day_of_month": _ranges_doc(self.day_of_month),
            "month": _ranges_doc(self.month),
            "year": _ranges_doc(self.year),
            "day_of_week": _ranges_doc(self.day_of_week),
            "comment": self.comment or "",
        }

    @staticmethod
    def _from_doc(doc: Mapping[str, Any]) -> ScheduleCalendarSpec:
        return ScheduleCalendarSpec(
            second=_ranges(doc["second"]),
            minute=_ranges(doc["minute"]),
            hour=_ranges(doc["hour"]),
            day_of_month=_ranges(doc["day_of_month"]),
            month=_ranges(doc["month"]),
            year=_ranges(doc["year"]),
            day_of_week=_ranges(doc["day_of_week"]),
            comment=doc.get("comment") or None,
        )


@dataclass
class ScheduleIntervalSpec:
    """Every ``every`` since the Unix epoch, shifted by ``offset``: ``every=1h,
    offset=15m`` acts at a quarter past each hour."""

    every: timedelta
    offset: timedelta | None = None


def _aware(t: datetime) -> datetime:
    """Naive datetimes are UTC, as temporalio sends them."""
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _us(td: timedelta | None) -> int:
    if td is None:
        return 0
    return (td.days * 86400 + td.seconds) * 1_000_000 + td.microseconds


@dataclass
class ScheduleSpec:
    """When a schedule acts: the union of ``calendars``, ``intervals`` and
    ``cron_expressions``, minus the times matching ``skip``, between ``start_at`` and
    ``end_at``, each delayed by up to ``jitter``. Cron expressions are turned into
    calendars and intervals when the schedule is stored, as Temporal does."""

    calendars: Sequence[ScheduleCalendarSpec] = dataclasses.field(default_factory=list)
    intervals: Sequence[ScheduleIntervalSpec] = dataclasses.field(default_factory=list)
    cron_expressions: Sequence[str] = dataclasses.field(default_factory=list)
    skip: Sequence[ScheduleCalendarSpec] = dataclasses.field(default_factory=list)
    start_at: datetime | None = None
    end_at: datetime | None = None
    jitter: timedelta | None = None
    time_zone_name: str | None = None

    def _to_doc(self) -> dict[str, Any]:
        calendars = [c._to_doc() for c in self.calendars]
        intervals = [{"every": _us(i.every), "offset": _us(i.offset)} for i in self.intervals]
        time_zone = self.time_zone_name or ""
        for text in self.cron_expressions:
            parsed = cron.parse_cron(text)
            if parsed.time_zone_name:
                if time_zone and time_zone != parsed.time_zone_name:
                    raise cron.CronError(
                        f"cron expression {text!r} names a time zone and time_zone_name is set"
                    )
                time_zone = parsed.time_zone_name
            calendars += [engine.calendar_doc(c) for c in parsed.calendars]
            intervals += [{"every": i.every_us, "offset": i.offset_us} for i in parsed.intervals]
        for interval in intervals:
            if interval["every"] <= 0:
                raise cron.CronError("interval must be positive")
        doc = {
            "calendars": calendars,
            "intervals": intervals,
            "skip": [c._to_doc() for c in self.skip],
            "start_at": h.format_time(_aware(self.start_at)) if self.start_at else None,
            "end_at": h.format_time(_aware(self.end_at)) if self.end_at else None,
            "jitter": _us(self.jitter) or None,
            "time_zone_name": time_zone or None,
        }
        engine.compile_spec(doc)  # reject what would never work now, not at fire time
        return doc

    @staticmethod
    def _from_doc(doc: Mapping[str, Any]) -> ScheduleSpec:
        return ScheduleSpec(
            calendars=[ScheduleCalendarSpec._from_doc(c) for c in doc.get("calendars") or []],
            intervals=[
                ScheduleIntervalSpec(
                    every=timedelta(microseconds=i["every"]),
                    offset=timedelta(microseconds=i["offset"]) if i.get("offset") else None,
                )
                for i in doc.get("intervals") or []
            ],
            skip=[ScheduleCalendarSpec._from_doc(c) for c in doc.get("skip") or []],
            start_at=engine.time_or_none(doc.get("start_at")),
            end_at=engine.time_or_none(doc.get("end_at")),
            jitter=timedelta(microseconds=doc["jitter"]) if doc.get("jitter") else None,
            time_zone_name=doc.get("time_zone_name") or None,
        )


# ------------------------------------------------------------------------ actions


class ScheduleAction(ABC):  # noqa: B024  (a marker base, as in temporalio)
    """What a schedule does when it acts."""


@dataclass
class ScheduleActionStartWorkflow(ScheduleAction):
    """Start a workflow: the same options as ``Client.start_workflow``. Its runs get
    the id ``<id>-<scheduled time>``. Arguments and memo values read back from a
    description are encoded payloads, passed through unchanged on update."""

    workflow: str
    args: Sequence[Any] | Sequence[Payload]
    id: str
    task_queue: str
    execution_timeout: timedelta | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    retry_policy: hotmesh_temporal.common.RetryPolicy | None
    memo: Mapping[str, Any] | Mapping[str, Payload] | None
    typed_search_attributes: hotmesh_temporal.common.TypedSearchAttributes
    untyped_search_attributes: hotmesh_temporal.common.SearchAttributes
    static_summary: str | Payload | None
    static_details: str | Payload | None
    priority: hotmesh_temporal.common.Priority
    headers: Mapping[str, Payload] | None
    _from_raw: bool = dataclasses.field(compare=False, init=False)

    def __init__(
        self,
        workflow: str | Callable[..., Awaitable[Any]],
        arg: Any = _ARG_UNSET,
        *,
        args: Sequence[Any] = [],
        id: str | None = None,
        task_queue: str | None = None,
        execution_timeout: timedelta | None = None,
        run_timeout: timedelta | None = None,
        task_timeout: timedelta | None = None,
        retry_policy: hotmesh_temporal.common.RetryPolicy | None = None,
        memo: Mapping[str, Any] | None = None,
        typed_search_attributes: hotmesh_temporal.common.TypedSearchAttributes = _NO_ATTRIBUTES,
        untyped_search_attributes: hotmesh_temporal.common.SearchAttributes = {},  # noqa: B006
        static_summary: str | None = None,
        static_details: str | None = None,
        headers: Mapping[str, Payload] | None = None,
        raw_info: Any = None,
        priority: hotmesh_temporal.common.Priority = hotmesh_temporal.common.Priority.default,
    ) -> None:
        self._from_raw = raw_info is not None
        if raw_info is not None:
            self._set_from_doc(raw_info)
            return
        if not id:
            raise ValueError("ID required")
        if not task_queue:
            raise ValueError("Task queue required")
        if not isinstance(workflow, str) and not callable(workflow):
            raise TypeError("Workflow must be a string or callable")
        self.workflow = workflow_type_and_result_type(workflow)[0]
        self.args = hotmesh_temporal.common._arg_or_args(arg, args)
        self.id = id
        self.task_queue = task_queue
        self.execution_timeout = execution_timeout
        self.run_timeout = run_timeout
        self.task_timeout = task_timeout
        self.retry_policy = retry_policy
        self.memo = memo
        self.typed_search_attributes = typed_search_attributes
        self.untyped_search_attributes = untyped_search_attributes
        self.static_summary = static_summary
        self.static_details = static_details
        self.headers = headers
        self.priority = priority

    def _set_from_doc(self, doc: Mapping[str, Any]) -> None:
        """Fill the action from a stored action document (a description's action)."""

        started = doc["start"]["started_attributes"]
        attributes = SearchAttributes(
            indexed_fields=h.parse_payload_map(
                (started.get("searchAttributes") or {}).get("indexedFields")
            )
        )
        self.workflow = started["workflowType"]["name"]
        self.args = h.parse_payloads(started.get("input"))
        self.id = doc["workflow_id"]
        self.task_queue = started["taskQueue"]["name"]
        self.execution_timeout = h.parse_duration(started.get("workflowExecutionTimeout"))
        self.run_timeout = h.parse_duration(doc.get("run_timeout"))
        self.task_timeout = h.parse_duration(doc.get("task_timeout"))
        self.retry_policy = h.parse_retry_policy(started.get("retryPolicy"))
        self.memo = h.parse_payload_map((started.get("memo") or {}).get("fields")) or None
        self.typed_search_attributes = converter.decode_typed_search_attributes(attributes)
        untyped = converter.decode_search_attributes(attributes)
        for pair in self.typed_search_attributes:
            untyped.pop(pair.key.name, None)
        self.untyped_search_attributes = untyped
        self.static_summary = doc.get("static_summary")
        self.static_details = doc.get("static_details")
        self.headers = h.parse_payload_map((started.get("header") or {}).get("fields")) or None
        self.priority = hotmesh_temporal.common.Priority.default

    async def _to_doc(self, client: Client) -> dict[str, Any]:
        # The action's payloads are the started workflow's: temporalio encodes them in
        # the context of the action's workflow id (the id before the server suffixes
        # the scheduled time).
        dc = client.data_converter.with_context(
            converter.WorkflowSerializationContext(namespace=client.namespace, workflow_id=self.id)
        )._with_store_target(
            converter.StorageDriverWorkflowInfo(
                namespace=client.namespace, id=self.id, type=self.workflow
            )
        )
        args = [a if isinstance(a, Payload) else (await dc.encode([a]))[0] for a in self.args]
        memo = None
        if self.memo:
            memo = {
                k: (v if isinstance(v, Payload) else (await dc.encode([v]))[0]).to_json_dict()
                for k, v in self.memo.items()
            }
        start = new_run_start(
            namespace=client.namespace,
            workflow_id=self.id,
            run_id=_PLACEHOLDER_RUN,
            workflow_type=self.workflow,
            task_queue=self.task_queue,
            arguments=args,
            execution_timeout=self.execution_timeout,
            run_timeout=self.run_timeout,
            task_timeout=self.task_timeout,
            memo_json=memo,
            search_attributes_json=_encode_search_attributes(
                self.typed_search_attributes, self.untyped_search_attributes
            ),
            headers=dict(self.headers) if self.headers else None,
            identity=client.identity,
            retry_policy=self.retry_policy,
            user_metadata=await visibility.encode_user_metadata(
                dc, self.static_summary, self.static_details
            ),
        )
        return h.strip_none(
            {
                "workflow_id": self.id,
                "start": start,
                # What the start template cannot say back exactly (it fills in defaults).
                "run_timeout": h.duration(self.run_timeout),
                "task_timeout": h.duration(self.task_timeout),
                "static_summary": self.static_summary
                if isinstance(self.static_summary, str)
                else None,
                "static_details": self.static_details
                if isinstance(self.static_details, str)
                else None,
            }
        )


def _encode_search_attributes(typed: Any, untyped: Any) -> dict[str, Any] | None:

    out: dict[str, Any] = {}
    for name, values in (untyped or {}).items():
        out[name] = converter.encode_search_attribute_values(values).to_json_dict()
    for pair in typed or ():
        out[pair.key.name] = converter.encode_typed_search_attribute_value(
            pair.key, pair.value
        ).to_json_dict()
    return out or None


def _decode_search_attributes(doc: Mapping[str, Any] | None) -> tuple:

    attributes = SearchAttributes(indexed_fields=h.parse_payload_map(doc))
    return (
        converter.decode_typed_search_attributes(attributes),
        converter.decode_search_attributes(attributes),
    )


# ---------------------------------------------------------------- policy and state


class ScheduleOverlapPolicy(IntEnum):
    """What a schedule does when it is due while a workflow it started still runs."""

    SKIP = 1
    BUFFER_ONE = 2
    BUFFER_ALL = 3
    CANCEL_OTHER = 4
    TERMINATE_OTHER = 5
    ALLOW_ALL = 6


@dataclass
class ScheduleBackfill:
    """Act on the schedule's times in ``(start_at, end_at]`` as if they were now."""

    start_at: datetime
    end_at: datetime
    overlap: ScheduleOverlapPolicy | None = None


@dataclass
class SchedulePolicy:
    """How a schedule behaves: overlap, how late a missed time may still act (one
    year when None, at least 10 seconds), and whether a failed run pauses it."""

    overlap: ScheduleOverlapPolicy = dataclasses.field(
        default_factory=lambda: ScheduleOverlapPolicy.SKIP
    )
    catchup_window: timedelta | None = None
    pause_on_failure: bool = False


@dataclass
class ScheduleState:
    """Whether the schedule is paused (with a note), and its action budget when
    ``limited_actions`` is set."""

    note: str | None = None
    paused: bool = False
    limited_actions: bool = False
    remaining_actions: int = 0


@dataclass
class Schedule:
    """A schedule: its action, when it acts, its policies and its state."""

    action: ScheduleAction
    spec: ScheduleSpec
    policy: SchedulePolicy = dataclasses.field(default_factory=SchedulePolicy)
    state: ScheduleState = dataclasses.field(default_factory=ScheduleState)

    async def _to_row(self, client: Client, schedule_id: str) -> dict[str, Any]:
        if not isinstance(self.action, ScheduleActionStartWorkflow):
            raise TypeError("Only ScheduleActionStartWorkflow is a supported schedule action")
        try:
            spec = self.spec._to_doc()
        except (cron.CronError, ValueError) as err:
            raise RPCError(
                f"Invalid schedule spec: {err}", RPCStatusCode.INVALID_ARGUMENT, b""
            ) from None  # as on Temporal, the error is the whole story
        catchup = self.policy.catchup_window or engine.DEFAULT_CATCHUP_WINDOW
        return {
            "namespace": client.namespace,
            "schedule_id": schedule_id,
            "spec": spec,
            "action": await self.action._to_doc(client),
            "overlap": int(self.policy.overlap or ScheduleOverlapPolicy.SKIP),
            "catchup_window": max(catchup, engine.MIN_CATCHUP_WINDOW).total_seconds(),
            "pause_on_failure": self.policy.pause_on_failure,
            "paused": self.state.paused,
            "note": self.state.note or "",
            "limited_actions": self.state.limited_actions,
            "remaining_actions": self.state.remaining_actions,
        }

    @staticmethod
    def _from_row(row: Mapping[str, Any]) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow("", raw_info=row["action"]),
            spec=ScheduleSpec._from_doc(row["spec"]),
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy(row["overlap"]),
                catchup_window=timedelta(seconds=row["catchup_window"]),
                pause_on_failure=row["pause_on_failure"],
            ),
            state=ScheduleState(
                note=row["note"] or None,
                paused=row["paused"],
                limited_actions=row["limited_actions"],
                remaining_actions=row["remaining_actions"],
            ),
        )


# ------------------------------------------------------------------ descriptions


class ScheduleActionExecution(ABC):  # noqa: B024
    """An action a schedule took."""


@dataclass
class ScheduleActionExecutionStartWorkflow(ScheduleActionExecution):
    """A workflow a schedule started."""

    workflow_id: str
    first_execution_run_id: str


@dataclass
class ScheduleActionResult:
    """One action: when it was due (jitter included) and when it happened."""

    scheduled_at: datetime
    started_at: datetime
    action: ScheduleActionExecution


def _recent_actions(doc: Sequence[Mapping[str, Any]]) -> list[ScheduleActionResult]:
    return [
        ScheduleActionResult(
            scheduled_at=h.parse_time(a["scheduled_at"]),
            started_at=h.parse_time(a["started_at"]),
            action=ScheduleActionExecutionStartWorkflow(a["workflow_id"], str(a["run_id"])),
        )
        for a in doc
    ]


@dataclass
class ScheduleInfo:
    """What a schedule has done and will do."""

    num_actions: int
    num_actions_missed_catchup_window: int
    num_actions_skipped_overlap: int
    running_actions: Sequence[ScheduleActionExecution]
    recent_actions: Sequence[ScheduleActionResult]
    next_action_times: Sequence[datetime]
    created_at: datetime
    last_updated_at: datetime | None


class _MemoReader:
    """memo() and memo_value() over a stored memo map."""

    data_converter: Any

    def _memo_doc(self) -> Mapping[str, Any]:
        raise NotImplementedError

    async def memo(self) -> Mapping[str, Any]:
        """The schedule's memo, decoded without type hints."""
        raw = self._memo_doc()
        values = await self.data_converter.decode([Payload.from_json_dict(v) for v in raw.values()])
        return dict(zip(raw.keys(), values, strict=True))

    async def memo_value(
        self, key: str, default: Any = _ARG_UNSET, *, type_hint: type | None = None
    ) -> Any:
        """One memo value (KeyError when missing and no default is given)."""
        raw = self._memo_doc()
        if key not in raw:
            if default is _ARG_UNSET:
                raise KeyError(f"Memo does not have a value for key {key}")
            return default
        values = await self.data_converter.decode(
            [Payload.from_json_dict(raw[key])], [type_hint] if type_hint else None
        )
        return values[0]


@dataclass
class ScheduleDescription(_MemoReader):
    """A schedule as ``ScheduleHandle.describe()`` returns it."""

    id: str
    schedule: Schedule
    info: ScheduleInfo
    typed_search_attributes: hotmesh_temporal.common.TypedSearchAttributes
    search_attributes: hotmesh_temporal.common.SearchAttributes
    data_converter: Any
    raw_description: Any

    def _memo_doc(self) -> Mapping[str, Any]:
        return self.raw_description.get("memo") or {}

    @staticmethod
    def _from_row(
        row: Mapping[str, Any],
        running: Sequence[Mapping[str, Any]],
        now: datetime,
        client: Client,
    ) -> ScheduleDescription:
        typed, untyped = _decode_search_attributes(row.get("search_attributes"))
        return ScheduleDescription(
            id=row["schedule_id"],
            schedule=Schedule._from_row(row),
            info=ScheduleInfo(
                num_actions=row["num_actions"],
                num_actions_missed_catchup_window=row["missed_catchup"],
                num_actions_skipped_overlap=row["skipped_overlap"],
                running_actions=[
                    ScheduleActionExecutionStartWorkflow(r["workflow_id"], str(r["run_id"]))
                    for r in running
                ],
                recent_actions=_recent_actions(row["recent_actions"]),
                next_action_times=_next_times(row, now),
                created_at=h.parse_time(row["created_at"]),
                last_updated_at=engine.time_or_none(row.get("updated_at")),
            ),
            typed_search_attributes=typed,
            search_attributes=untyped,
            data_converter=client.data_converter,
            raw_description=dict(row),
        )


def _next_times(row: Mapping[str, Any], now: datetime) -> list[datetime]:
    # A paused schedule still lists its upcoming times, as on Temporal.
    if row["limited_actions"] and row["remaining_actions"] <= 0:
        return []
    return engine.next_action_times(row["spec"], row["schedule_id"], now)


@dataclass
class ScheduleUpdateInput:
    """What an updater callback receives: the schedule's current description."""

    description: ScheduleDescription


@dataclass
class ScheduleUpdate:
    """What an updater callback returns: the new schedule (and, when given, new
    search attributes for the schedule)."""

    schedule: Schedule
    search_attributes: hotmesh_temporal.common.TypedSearchAttributes | None = None


# ----------------------------------------------------------------------- listing


class ScheduleListAction(ABC):  # noqa: B024
    """The action of a listed schedule."""


@dataclass
class ScheduleListActionStartWorkflow(ScheduleListAction):
    """A listed schedule starts workflows of this type."""

    workflow: str


@dataclass
class ScheduleListState:
    """Pause state of a listed schedule."""

    note: str | None
    paused: bool


@dataclass
class ScheduleListSchedule:
    """A listed schedule's action, spec and state."""

    action: ScheduleListAction
    spec: ScheduleSpec
    state: ScheduleListState


@dataclass
class ScheduleListInfo:
    """A listed schedule's recent and next actions."""

    recent_actions: Sequence[ScheduleActionResult]
    next_action_times: Sequence[datetime]


@dataclass
class ScheduleListDescription(_MemoReader):
    """One schedule as ``Client.list_schedules`` yields it."""

    id: str
    schedule: ScheduleListSchedule | None
    info: ScheduleListInfo | None
    typed_search_attributes: hotmesh_temporal.common.TypedSearchAttributes
    search_attributes: hotmesh_temporal.common.SearchAttributes
    data_converter: Any
    raw_entry: Any

    def _memo_doc(self) -> Mapping[str, Any]:
        return self.raw_entry.get("memo") or {}

    @staticmethod
    def _from_row(row: Mapping[str, Any], now: datetime, client: Client) -> ScheduleListDescription:
        typed, untyped = _decode_search_attributes(row.get("search_attributes"))
        started = row["action"]["start"]["started_attributes"]
        return ScheduleListDescription(
            id=row["schedule_id"],
            schedule=ScheduleListSchedule(
                action=ScheduleListActionStartWorkflow(workflow=started["workflowType"]["name"]),
                spec=ScheduleSpec._from_doc(row["spec"]),
                state=ScheduleListState(note=row["note"] or None, paused=row["paused"]),
            ),
            info=ScheduleListInfo(
                recent_actions=_recent_actions(row["recent_actions"]),
                next_action_times=_next_times(row, now)[:5],
            ),
            typed_search_attributes=typed,
            search_attributes=untyped,
            data_converter=client.data_converter,
            raw_entry=dict(row),
        )


class ScheduleAsyncIterator:
    """Pages through ``Client.list_schedules``; use ``async for``."""

    def __init__(self, client: Client, input: Any) -> None:
        self._client = client
        self._input = input
        self._next_page_token: bytes | None = getattr(input, "next_page_token", None)
        self._current_page: Sequence[ScheduleListDescription] | None = None
        self._current_page_index = 0
        self._done = False
        self._filter = _compile_schedule_filter(getattr(input, "query", None))

    @property
    def current_page_index(self) -> int:
        return self._current_page_index

    @property
    def current_page(self) -> Sequence[ScheduleListDescription] | None:
        return self._current_page

    @property
    def next_page_token(self) -> bytes | None:
        return self._next_page_token

    async def fetch_next_page(self, *, page_size: int | None = None) -> None:
        """Load the next page of schedules (ordered by id)."""
        service = await self._client._engine()
        size = page_size or self._input.page_size
        after = (self._next_page_token or b"").decode()
        rows = await service.list_schedules(self._client.namespace, self._filter, after, size)
        now = await service.now()
        entries = [r["schedule"] for r in rows]
        self._current_page = [
            ScheduleListDescription._from_row(e, now, self._client) for e in entries
        ]
        self._current_page_index = 0
        self._next_page_token = (
            entries[-1]["schedule_id"].encode() if len(entries) == size else None
        )
        self._done = self._next_page_token is None

    def __aiter__(self) -> ScheduleAsyncIterator:
        return self

    async def __anext__(self) -> ScheduleListDescription:
        while True:
            if self._current_page is not None and self._current_page_index < len(
                self._current_page
            ):
                item = self._current_page[self._current_page_index]
                self._current_page_index += 1
                return item
            if self._done:
                raise StopAsyncIteration
            await self.fetch_next_page()


def _compile_schedule_filter(query: str | None) -> CompiledFilter:
    """A list_schedules query in the list-filter language of list_workflows, over
    ``ScheduleId``, ``WorkflowType``, ``TemporalSchedulePaused`` and the schedules'
    own search attributes. Schedules are listed by id: ORDER BY and GROUP BY are
    refused, like anything the language does not know."""
    try:
        compiled = compile_filter(query, first_param=4, vocabulary=SCHEDULES)
    except ListFilterError as err:
        raise RPCError(
            f"invalid schedule list query: {err}", RPCStatusCode.INVALID_ARGUMENT, b""
        ) from err
    if compiled.group_by is not None or compiled.order_terms != list(DEFAULT_ORDER):
        raise RPCError(
            "invalid schedule list query: ORDER BY and GROUP BY are not supported",
            RPCStatusCode.INVALID_ARGUMENT,
            b"",
        )
    return compiled


# ------------------------------------------------------------------------ handle


def _not_found(schedule_id: str) -> RPCError:
    # Temporal's wording (the id is the caller's own).
    return RPCError("schedule not found", RPCStatusCode.NOT_FOUND, b"")


class ScheduleHandle:
    """A handle to one schedule, by id. Every call goes through the client's
    interceptor chain."""

    def __init__(self, client: Client, id: str) -> None:
        self._client = client
        self.id = id

    async def backfill(
        self,
        *backfill: ScheduleBackfill,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Act on the schedule's times inside each period as if they were now (the
        catch-up window and pause do not apply)."""
        if not backfill:
            raise ValueError("At least one backfill required")
        await self._client._impl.backfill_schedule(
            BackfillScheduleInput(
                id=self.id, backfills=backfill, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout
            )
        )

    async def delete(
        self,
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Delete the schedule. Workflows it started keep running."""
        await self._client._impl.delete_schedule(
            DeleteScheduleInput(id=self.id, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout)
        )

    async def describe(
        self,
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> ScheduleDescription:
        """The schedule, what it has done, what runs, and its next action times."""
        return await self._client._impl.describe_schedule(
            DescribeScheduleInput(id=self.id, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout)
        )

    async def pause(
        self,
        *,
        note: str | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Pause: no scheduled action happens until unpaused (times passing meanwhile
        are skipped)."""
        await self._client._impl.pause_schedule(
            PauseScheduleInput(
                id=self.id, note=note, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout
            )
        )

    async def trigger(
        self,
        *,
        overlap: ScheduleOverlapPolicy | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Act now, whether paused or not (``overlap`` overrides the policy once)."""
        await self._client._impl.trigger_schedule(
            TriggerScheduleInput(
                id=self.id, overlap=overlap, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout
            )
        )

    async def unpause(
        self,
        *,
        note: str | None = None,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Resume scheduled actions."""
        await self._client._impl.unpause_schedule(
            UnpauseScheduleInput(
                id=self.id, note=note, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout
            )
        )

    async def update(
        self,
        updater: Callable[
            [ScheduleUpdateInput],
            ScheduleUpdate | None | Awaitable[ScheduleUpdate | None],
        ],
        *,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> None:
        """Replace the schedule with what ``updater`` builds from its description.
        The updater is called again if the schedule changed meanwhile; returning None
        changes nothing."""
        await self._client._impl.update_schedule(
            UpdateScheduleInput(
                id=self.id, updater=updater, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout
            )
        )


# ------------------------------------------- the innermost link: database work
# Client's _ClientImpl calls these; each takes the client and the interceptor input.


async def _engine_of(client: Client) -> Engine:
    return await client._engine()


async def _schedule_row(client: Client, schedule_id: str) -> Mapping[str, Any]:
    service = await _engine_of(client)
    found = await service.describe_schedule(client.namespace, schedule_id)
    if found is None:
        raise _not_found(schedule_id)
    return found["schedule"]


async def _manual_starts(client: Client, schedule_id: str, starts: list[dict[str, Any]]) -> None:
    service = await _engine_of(client)
    if await service.manual_schedule_starts(client.namespace, schedule_id, starts) == "not_found":
        raise _not_found(schedule_id)


_BACKFILL_START_INCLUSIVE = timedelta(milliseconds=1)


async def backfill_schedule(client: Client, input: BackfillScheduleInput) -> None:
    row = await _schedule_row(client, input.id)
    spec = engine.compile_spec(row["spec"])
    starts = []
    for period in input.backfills:
        # Temporal's backfill range includes its start: look from just before it.
        after = _aware(period.start_at) - _BACKFILL_START_INCLUSIVE
        for nominal in spec.times(after, _aware(period.end_at)):
            starts.append(
                engine.scheduled_start(
                    row["action"],
                    input.id,
                    nominal,
                    spec.jittered(nominal, input.id),
                    overlap=int(period.overlap or 0),
                    manual=True,
                )
            )
    await _manual_starts(client, input.id, starts)


async def delete_schedule(client: Client, input: DeleteScheduleInput) -> None:
    service = await _engine_of(client)
    if not await service.delete_schedule(client.namespace, input.id):
        raise _not_found(input.id)


async def describe_schedule(client: Client, input: DescribeScheduleInput) -> ScheduleDescription:
    service = await _engine_of(client)
    found = await service.describe_schedule(client.namespace, input.id)
    if found is None:
        raise _not_found(input.id)
    return ScheduleDescription._from_row(found["schedule"], found["running"], found["now"], client)


async def pause_schedule(client: Client, input: Any) -> None:
    """Pause (PauseScheduleInput) or unpause (UnpauseScheduleInput)."""
    paused = isinstance(input, PauseScheduleInput)
    note = input.note or ("Paused via Python SDK" if paused else "Unpaused via Python SDK")
    service = await _engine_of(client)
    if not await service.set_schedule_paused(client.namespace, input.id, paused, note):
        raise _not_found(input.id)


async def trigger_schedule(client: Client, input: TriggerScheduleInput) -> None:
    row = await _schedule_row(client, input.id)
    now = await (await _engine_of(client)).now()
    start = engine.scheduled_start(
        row["action"], input.id, now, now, overlap=int(input.overlap or 0), manual=True
    )
    await _manual_starts(client, input.id, [start])


async def update_schedule(client: Client, input: UpdateScheduleInput) -> None:
    service = await _engine_of(client)
    for _ in range(_UPDATE_ATTEMPTS):
        description = await describe_schedule(
            client,
            DescribeScheduleInput(
                id=input.id, rpc_metadata=input.rpc_metadata, rpc_timeout=input.rpc_timeout
            ),
        )
        update = input.updater(ScheduleUpdateInput(description=description))
        if inspect.isawaitable(update):
            update = await update
        if update is None:
            return
        row = await update.schedule._to_row(client, input.id)
        if update.search_attributes is not None:
            row["search_attributes"] = _encode_search_attributes(update.search_attributes, None)
        now = await service.now()
        row.update(
            cursor_at=h.format_time(now),
            next_fire_at=_format_or_none(engine.first_fire(row["spec"], input.id, now)),
        )
        status = await service.update_schedule(row, description.raw_description["conflict_token"])
        if status == "ok":
            return
        if status == "not_found":
            raise _not_found(input.id)
    raise RPCError(
        "schedule update kept conflicting with other changes", RPCStatusCode.ABORTED, b""
    )


def _format_or_none(value: datetime | None) -> str | None:
    return h.format_time(value) if value is not None else None


# ------------------------------------------------------------ client operations


async def create_schedule(client: Client, input: CreateScheduleInput) -> ScheduleHandle:
    """Store the schedule's row, then the actions asked for at creation."""
    if not input.id:
        raise ValueError("schedule id is required")
    service = await _engine_of(client)
    _refuse_bad_names(service.store.limits, ScheduleId=input.id)
    action = input.schedule.action
    if isinstance(action, ScheduleActionStartWorkflow):
        _refuse_bad_names(
            service.store.limits,
            WorkflowId=action.id,
            TaskQueue=action.task_queue,
            WorkflowType=action.workflow,
        )
    row = await input.schedule._to_row(client, input.id)
    warn_size = client.service_client.config.payload_limits.memo_warn_size
    # The started workflows' memo is refused here: a Temporal server takes it and then
    # fails every start, which no one sees (docs/compatibility.md).
    _refuse_large_memo(service.store.limits, warn_size, row["action"]["start"].get("memo"))
    if input.memo:
        encoded = await client.data_converter.encode(list(input.memo.values()))
        row["memo"] = {k: p.to_json_dict() for k, p in zip(input.memo.keys(), encoded, strict=True)}
        _refuse_large_memo(service.store.limits, warn_size, row["memo"])
    attributes = input.search_attributes
    if isinstance(attributes, hotmesh_temporal.common.TypedSearchAttributes):
        row["search_attributes"] = _encode_search_attributes(attributes, None)
    elif attributes:
        row["search_attributes"] = _encode_search_attributes(None, attributes)
    now = await service.now()
    row.update(
        cursor_at=h.format_time(now),
        next_fire_at=_format_or_none(engine.first_fire(row["spec"], input.id, now)),
    )
    if not await service.create_schedule(row):
        raise ScheduleAlreadyRunningError()
    if input.trigger_immediately:
        await _manual_starts(
            client,
            input.id,
            [
                engine.scheduled_start(
                    row["action"], input.id, now, now, overlap=row["overlap"], manual=True
                )
            ],
        )
    if input.backfill:
        await backfill_schedule(
            client,
            BackfillScheduleInput(
                id=input.id,
                backfills=input.backfill,
                rpc_metadata=input.rpc_metadata,
                rpc_timeout=input.rpc_timeout,
            ),
        )
    return ScheduleHandle(client, input.id)


__all__ = [
    "Schedule",
    "ScheduleAction",
    "ScheduleActionExecution",
    "ScheduleActionExecutionStartWorkflow",
    "ScheduleActionResult",
    "ScheduleActionStartWorkflow",
    "ScheduleAlreadyRunningError",
    "ScheduleAsyncIterator",
    "ScheduleBackfill",
    "ScheduleCalendarSpec",
    "ScheduleDescription",
    "ScheduleHandle",
    "ScheduleInfo",
    "ScheduleIntervalSpec",
    "ScheduleListAction",
    "ScheduleListActionStartWorkflow",
    "ScheduleListDescription",
    "ScheduleListInfo",
    "ScheduleListSchedule",
    "ScheduleListState",
    "ScheduleOverlapPolicy",
    "SchedulePolicy",
    "ScheduleRange",
    "ScheduleSpec",
    "ScheduleState",
    "ScheduleUpdate",
    "ScheduleUpdateInput",
]
