"""The engine as the public modules see it: one typed method per operation.

The client, the schedule and activity handles, the history iterator and the test
environment call these methods; none of them names a SQL statement or holds the store.
Each method is one named statement of ``sql/queries.sql`` (one PL/pgSQL transition, one
round trip) with its arguments by name; the documents they exchange (start documents,
signal events, update requests, the rows and JSON replies) keep the shapes the SQL
functions define (``docs/sql-guide.md``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hotmesh_temporal._engine.runtime import visibility
from hotmesh_temporal._engine.runtime.cron import CronError, CronSchedule
from hotmesh_temporal._engine.runtime.list_filter import (
    WORKFLOWS,
    CompiledFilter,
    ListFilterError,
    compile_filter,
    keyset_condition,
)
from hotmesh_temporal._engine.service import namespaces, schedules, standalone_activities
from hotmesh_temporal._engine.service.async_activities import AsyncActivityOperations
from hotmesh_temporal._engine.service.errors import RPCError, RPCStatusCode
from hotmesh_temporal._engine.service.search_attributes import SearchAttributeRegistry
from hotmesh_temporal._engine.store.shared import acquire_store, release_store
from hotmesh_temporal._engine.store.store import Store
from hotmesh_temporal._engine.store.waiter import CloseWaiter, KeyedWaiter, UpdateWaiter
from hotmesh_temporal._engine.worker.sweeper import Sweeper
from hotmesh_temporal._engine.worker.workflow_worker import WorkflowWorker, local_worker_for


def _invalid_argument(message: str) -> RPCError:
    return RPCError(message, RPCStatusCode.INVALID_ARGUMENT, b"")


#: A row of a statement's result (asyncpg Record or the JSON document a function returns).
Row = Mapping[str, Any]
#: A JSON document in the shape a SQL function takes (start document, event, request).
Document = dict[str, Any]


# executions.status of a running run (WorkflowExecutionStatus.RUNNING).
RUNNING = 1


@dataclass(frozen=True)
class RunRef:
    """A workflow run: its id in a namespace, and the run (None: the latest run)."""

    namespace: str
    workflow_id: str
    run_id: str | None = None

    @property
    def run_uuid(self) -> uuid.UUID | None:
        return uuid.UUID(self.run_id) if self.run_id else None


@dataclass(frozen=True)
class ActivityRef:
    """A standalone activity: its id in a namespace, and the run (None: the latest)."""

    namespace: str
    activity_id: str
    run_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Count:
    """A count, and per-status counts when the query grouped by status."""

    count: int
    by_status: list[tuple[int, int]] = field(default_factory=list)  # (status, count)
    grouped: bool = False


@dataclass(frozen=True)
class Page:
    """One page of a listing and the token of the next (None after the last)."""

    rows: list[Row]
    next_token: bytes | None


class Engine:
    """The service layer over one database (one schema)."""

    def __init__(self, store: Store) -> None:
        self.store = store  # handed to the engine workers the public Worker builds
        # A string Postgres cannot store is refused as the server refuses bad input.
        store.refuse_invalid = _invalid_argument
        self._close_waiter: CloseWaiter | None = None
        self._answer_waiter: KeyedWaiter | None = None
        self._update_waiter: UpdateWaiter | None = None

    @classmethod
    async def open(cls, dsn: str, *, ssl: Any = None) -> Engine:
        """The engine over the process's shared Store of ``dsn``'s database and schema
        (store/shared.py): clients of one database share one bounded pool."""
        return cls(await acquire_store(dsn, ssl=ssl))

    async def close(self) -> None:
        """Let go of the shared Store (the last user closes it); this engine's waiters
        stop listening there."""
        for waiter in (self._close_waiter, self._answer_waiter, self._update_waiter):
            if waiter is not None:
                waiter.unsubscribe()
        await release_store(self.store)

    def release_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        """close() from a garbage-collected client: scheduled on the loop that opened
        the engine (asyncpg pools belong to their loop)."""
        if loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(lambda: loop.create_task(self.close()))
        except RuntimeError:
            pass  # the loop closed meanwhile: its pools went with it

    @property
    def schema(self) -> str:
        return self.store.schema

    @property
    def pool(self) -> Any:
        """The connection pool, shared by the YAML front end for its own statements
        (``hotmesh/sql``)."""
        return self.store.pool

    # ------------------------------------------------------------------ waiters

    def close_waiter(self) -> CloseWaiter:
        """Waits for runs to close (``result()``)."""
        if self._close_waiter is None:
            self._close_waiter = CloseWaiter(self.store)
        return self._close_waiter

    def replace_close_waiter(self, waiter: CloseWaiter) -> None:
        """The test environment's waiter lets its clock skip while a result is awaited."""
        self._close_waiter = waiter

    def answer_waiter(self) -> KeyedWaiter:
        """Waits on 'r|<query id>': a worker answered a query."""
        if self._answer_waiter is None:
            self._answer_waiter = KeyedWaiter(self.store, "r")
        return self._answer_waiter

    def update_waiter(self) -> UpdateWaiter:
        """Waits on 'u|<update row id>|...': an update changed state."""
        if self._update_waiter is None:
            self._update_waiter = UpdateWaiter(self.store)
        return self._update_waiter

    def sweeper(self) -> Sweeper:
        """One sweeper per store (per client connection) in a process."""
        sweeper: Sweeper | None = getattr(self.store, "_sweeper", None)
        if sweeper is None:
            sweeper = Sweeper(self.store)
            self.store._sweeper = sweeper  # type: ignore[attr-defined]
        return sweeper

    def local_worker_for(
        self, namespace: str, task_queue: str, workflow_type: str
    ) -> WorkflowWorker | None:
        """A worker of this process that can take a run it starts (eager start)."""
        return local_worker_for(self.store, namespace, task_queue, workflow_type)

    # -------------------------------------------------------------------- clock

    async def now(self) -> datetime:
        """The database's clock (the test environment's, when it skips time)."""
        return await self.store.fetchval("now")

    async def start_skipping_time(self) -> None:
        """Mark the schema's clock as a time-skipping environment's: workers of any
        process on it then announce the queues they poll (schema/0006)."""
        await self.store.fetchval("start_skipping_time")

    async def cron_start_delay(
        self, cron_schedule: str, start_delay: timedelta | None
    ) -> timedelta:
        """How long a cron workflow waits before its first run."""
        if start_delay:
            raise RPCError(
                "CronSchedule and WorkflowStartDelay may not be used together",
                RPCStatusCode.INVALID_ARGUMENT,
                b"",
            )
        try:
            schedule = CronSchedule(cron_schedule)
        except CronError:
            # Temporal's wording: the error is the whole story, as the server gives it.
            raise RPCError("invalid CronSchedule.", RPCStatusCode.INVALID_ARGUMENT, b"") from None
        return schedule.backoff(await self.now())

    # ---------------------------------------------------------------- workflows

    async def start_workflow(self, start: Document) -> Row:
        return await self.store.fetchval("start_workflow", start)

    async def start_workflow_with_update(
        self, start: Document, request: Document, row_id: Any
    ) -> Row:
        return await self.store.fetchval("start_workflow_with_update", start, request, row_id)

    async def find_run(self, ref: RunRef) -> Row | None:
        return await self.store.fetchrow("find_run", ref.namespace, ref.workflow_id, ref.run_uuid)

    async def pending_activities(self, run_id: Any) -> list[Row]:
        return await self.store.fetch("pending_activities", run_id)

    # Signal, cancel, terminate and signal-with-start carry the caller's request id: a
    # retry after a lost connection is applied once (0015_request_ids.sql).

    async def request_cancel_workflow(
        self, ref: RunRef, reason: str | None, identity: str, request_id: str
    ) -> str:
        return await self.store.fetchval(
            "request_cancel_workflow_once",
            request_id,
            ref.namespace,
            ref.workflow_id,
            ref.run_uuid,
            reason,
            identity,
        )

    async def signal_workflow(self, ref: RunRef, event: Document, request_id: str) -> str:
        return await self.store.fetchval(
            "signal_workflow_once", request_id, ref.namespace, ref.workflow_id, ref.run_uuid, event
        )

    async def signal_with_start(self, request_id: str, start: Document) -> Row:
        return await self.store.fetchval("signal_with_start", request_id, start)

    async def terminate_workflow(
        self,
        ref: RunRef,
        reason: str,
        details: Sequence[Any] | Mapping[str, Any],
        request_id: str,
    ) -> str:
        return await self.store.fetchval(
            "terminate_workflow_once",
            request_id,
            ref.namespace,
            ref.workflow_id,
            ref.run_uuid,
            reason,
            details,
        )

    async def delete_workflow(self, ref: RunRef) -> None:
        """Temporal's DeleteWorkflowExecution: a running run is terminated first, then
        the run is deleted with its history. RPCError NOT_FOUND for an unknown run."""
        row = await self.find_run(ref)
        if row is None or row["run_id"] is None:
            raise RPCError(
                f"workflow execution not found: {ref.workflow_id}", RPCStatusCode.NOT_FOUND, b""
            )
        run_ref = RunRef(ref.namespace, ref.workflow_id, str(row["run_id"]))
        if row["status"] == RUNNING:
            await self.terminate_workflow(
                run_ref, "Delete workflow execution", [], str(uuid.uuid4())
            )
        # A run a transition holds at this moment is skipped by delete_runs: try again
        # shortly (the hold lasts one short transaction).
        for _ in range(50):
            if await namespaces.delete_runs(self.store, [row["run_id"]]):
                return
            if await self.find_run(run_ref) is None:
                return
            await asyncio.sleep(0.05)
        raise RPCError(
            f"workflow execution {ref.workflow_id} is busy; try the delete again",
            RPCStatusCode.UNAVAILABLE,
            b"",
        )

    # --------------------------------------------------------------- namespaces

    async def register_namespace(
        self,
        namespace: str,
        *,
        retention: timedelta | None,
        description: str,
        owner_email: str,
        data: dict[str, str],
    ) -> namespaces.NamespaceSettings:
        """Register a namespace (RPCError ALREADY_EXISTS if it has been registered)."""
        if (await namespaces.describe_namespace(self.store, namespace)).created_at is not None:
            raise RPCError("Namespace already exists.", RPCStatusCode.ALREADY_EXISTS, b"")
        return await self.update_namespace(
            namespace,
            retention=retention,
            description=description,
            owner_email=owner_email,
            data=data,
        )

    async def update_namespace(
        self,
        namespace: str,
        *,
        retention: timedelta | None = None,
        description: str | None = None,
        owner_email: str | None = None,
        data: dict[str, str] | None = None,
    ) -> namespaces.NamespaceSettings:
        """Change what is given (None keeps it); a retention under the deployment's
        minimum is RPCError INVALID_ARGUMENT and changes nothing."""
        try:
            return await namespaces.upsert_namespace(
                self.store,
                namespace,
                retention=retention,
                description=description,
                owner_email=owner_email,
                data=data,
            )
        except namespaces.RetentionTooShortError as err:
            raise RPCError(str(err), RPCStatusCode.INVALID_ARGUMENT, b"") from None

    async def describe_namespace(self, namespace: str) -> namespaces.NamespaceSettings:
        """A namespace's settings; one never registered has the deployment's defaults
        (namespaces need no registration here)."""
        return await namespaces.describe_namespace(self.store, namespace)

    async def list_namespaces(self) -> list[namespaces.NamespaceSettings]:
        return await namespaces.list_namespaces(self.store)

    # ------------------------------------------------------------------ queries

    async def ask_query(self, query_id: uuid.UUID, ref: RunRef, request: Document) -> Row:
        return await self.store.fetchval(
            "ask_query", query_id, ref.namespace, ref.workflow_id, ref.run_uuid, request
        )

    async def take_answer(self, query_id: uuid.UUID) -> Row | None:
        return await self.store.fetchval("take_answer", query_id)

    async def cancel_query(self, query_id: uuid.UUID) -> None:
        await self.store.fetchval("cancel_query", query_id)

    # ------------------------------------------------------------------ updates

    async def request_update(self, ref: RunRef, request: Document, row_id: Any) -> Row:
        return await self.store.fetchval(
            "request_update", ref.namespace, ref.workflow_id, ref.run_uuid, request, row_id
        )

    async def find_update(self, ref: RunRef, update_id: str) -> Row:
        return await self.store.fetchval(
            "find_update", ref.namespace, ref.workflow_id, ref.run_uuid, update_id
        )

    # ------------------------------------------------------------------ history

    async def events_after(self, run_id: str, after: int) -> list[Row]:
        return await self.store.fetchval("events_after", uuid.UUID(run_id), after)

    async def events_page(self, run_id: str, after: int, limit: int) -> list[Row]:
        """At most ``limit`` events after ``after`` (one page of a long history)."""
        return await self.store.fetchval("events_page", uuid.UUID(run_id), after, limit)

    async def events_user_metadata(self, run_id: str, after: int) -> Mapping[str, Any] | None:
        return await self.store.fetchval("events_user_metadata", uuid.UUID(run_id), after)

    async def run_outcome(self, run_id: str) -> Row | None:
        return await self.store.fetchrow("run_outcome", uuid.UUID(run_id))

    # --------------------------------------------------------------- visibility

    # ------------------------------------------------------ search attributes

    def search_attributes(self, namespace: str) -> SearchAttributeRegistry:
        """The namespace's registered custom search attributes (schema/0013):
        register, list, remove, and the checks starts, schedules and filters pass."""
        return SearchAttributeRegistry(self.store, namespace)

    async def count_workflows(self, namespace: str, query: str | None) -> Count:
        compiled = compile_query(query, first_param=2)
        await self.search_attributes(namespace).check_filter_names(compiled.custom_names)
        fragments = {"where": compiled.where}
        if compiled.group_by is None:
            rows = await self.store.fetch_filtered(
                "count_workflows", fragments, namespace, *compiled.where_params
            )
            return Count(count=int(rows[0][0]))
        rows = await self.store.fetch_filtered(
            "count_workflows_by_status", fragments, namespace, *compiled.where_params
        )
        groups = [(r["status"], int(r["count"])) for r in rows]
        return Count(count=sum(n for _, n in groups), by_status=groups, grouped=True)

    async def list_workflows(
        self, namespace: str, query: str | None, page_size: int, token: bytes | None
    ) -> Page:
        if token is None:  # a filter naming an unregistered attribute is refused
            names = compile_query(query, first_param=3).custom_names
            await self.search_attributes(namespace).check_filter_names(names)
        return await self._list_page(
            "list_workflows", WORKFLOWS, namespace, query, page_size, token
        )

    async def list_standalone_activities(
        self,
        namespace: str,
        query: str | None,
        page_size: int,
        token: bytes | None,
        vocabulary: Any,
    ) -> Page:
        return await self._list_page(
            "list_standalone_activities", vocabulary, namespace, query, page_size, token
        )

    async def count_standalone_activities(
        self, namespace: str, query: str | None, vocabulary: Any
    ) -> Count:
        compiled = compile_query(query, first_param=2, vocabulary=vocabulary)
        fragments = {"where": compiled.where}
        if compiled.group_by is None:
            rows = await self.store.fetch_filtered(
                "count_standalone_activities", fragments, namespace, *compiled.where_params
            )
            return Count(count=int(rows[0][0]))
        rows = await self.store.fetch_filtered(
            "count_standalone_activities_by_status",
            fragments,
            namespace,
            *compiled.where_params,
        )
        groups = [(r["status"], int(r["count"])) for r in rows]
        return Count(count=sum(n for _, n in groups), by_status=groups, grouped=True)

    async def _list_page(
        self,
        statement: str,
        vocabulary: Any,
        namespace: str,
        query: str | None,
        page_size: int,
        token: bytes | None,
    ) -> Page:
        fragments, params, sort_count = _list_statement(query, token, vocabulary)
        # One row more than asked tells whether another page exists.
        rows = await self.store.fetch_filtered(
            statement, fragments, namespace, page_size + 1, *params
        )
        if len(rows) <= page_size:
            return Page(rows=list(rows), next_token=None)
        last_row = rows[page_size - 1]
        token = visibility.page_token([last_row[f"sort_{i}"] for i in range(sort_count)])
        return Page(rows=list(rows[:page_size]), next_token=token)

    # --------------------------------------------------------------- schedules

    async def list_schedules(
        self, namespace: str, where: CompiledFilter, after: str, size: int
    ) -> list[Row]:
        if not after:  # a filter naming an unregistered attribute is refused
            await self.search_attributes(namespace).check_filter_names(where.custom_names)
        return await self.store.fetch_filtered(
            "list_schedules", {"where": where.where}, namespace, after, size, *where.where_params
        )

    async def manual_schedule_starts(
        self, namespace: str, schedule_id: str, starts: Sequence[Document]
    ) -> str:
        """Starts a client asked for (trigger, backfill); the schedule's cursor stays."""
        return await schedules.manual_tick(self.store, namespace, schedule_id, starts)

    async def describe_schedule(self, namespace: str, schedule_id: str) -> Row | None:
        return await self.store.fetchrow("describe_schedule", namespace, schedule_id)

    async def create_schedule(self, row: Document) -> bool:
        await self._check_schedule_attributes(row)
        return await self.store.fetchval("create_schedule", row)

    async def update_schedule(self, row: Document, conflict_token: Any) -> str:
        await self._check_schedule_attributes(row)
        return await self.store.fetchval("update_schedule", row, conflict_token)

    async def _check_schedule_attributes(self, row: Document) -> None:
        """The schedule's and its action's search attributes, checked against the
        namespace's registry when it has one (a Temporal server refuses the schedule)."""
        registry = self.search_attributes(row["namespace"])
        await registry.check_values(row.get("search_attributes"))
        action_start = (row.get("action") or {}).get("start") or {}
        await registry.check_values(action_start.get("search_attributes"))

    async def delete_schedule(self, namespace: str, schedule_id: str) -> bool:
        return await self.store.fetchval("delete_schedule", namespace, schedule_id)

    async def set_schedule_paused(
        self, namespace: str, schedule_id: str, paused: bool, note: str | None
    ) -> bool:
        return await self.store.fetchval(
            "set_schedule_paused", namespace, schedule_id, paused, note
        )

    # ----------------------------------------------------- standalone activities

    async def start_standalone_activity(self, start: Document) -> Row:
        return await self.store.fetchval("start_standalone_activity", start)

    async def cancel_standalone_activity(
        self, ref: ActivityRef, reason: str | None, identity: str
    ) -> str:
        return await self.store.fetchval(
            "cancel_standalone_activity",
            ref.namespace,
            ref.activity_id,
            ref.run_id,
            reason,
            identity,
        )

    async def terminate_standalone_activity(
        self, ref: ActivityRef, reason: str | None, identity: str
    ) -> str:
        return await self.store.fetchval(
            "terminate_standalone_activity",
            ref.namespace,
            ref.activity_id,
            ref.run_id,
            reason,
            identity,
        )

    async def pause_standalone_activity(
        self, ref: ActivityRef, paused: bool, jitter_seconds: float | None
    ) -> str:
        return await self.store.fetchval(
            "pause_standalone_activity",
            ref.namespace,
            ref.activity_id,
            ref.run_id,
            paused,
            jitter_seconds,
        )

    async def update_standalone_activity_options(
        self, ref: ActivityRef, changes: Document, restore_original: bool
    ) -> Row:
        return await self.store.fetchval(
            "update_standalone_activity_options",
            ref.namespace,
            ref.activity_id,
            ref.run_id,
            changes,
            restore_original,
        )

    async def wait_for_standalone_activity_outcome(
        self, namespace: str, activity_id: str, run_id: str | None
    ) -> Row | None:
        """The activity's closed row, once it closes (None: no such activity)."""
        return await standalone_activities.wait_for_outcome(
            self.store, namespace, activity_id, run_id
        )

    def async_activity_operations(self, namespace: str, identity: str) -> AsyncActivityOperations:
        """Heartbeat, complete, fail and cancel activities by task token or by id."""
        return AsyncActivityOperations(self.store, namespace, identity)

    async def describe_standalone_activity(self, ref: ActivityRef) -> Row | None:
        return await self.store.fetchval(
            "describe_standalone_activity", ref.namespace, ref.activity_id, ref.run_id
        )


# ------------------------------------------------------------------ list filters


def compile_query(query: str | None, first_param: int, vocabulary: Any = WORKFLOWS) -> Any:
    """A visibility query compiled for a statement whose own parameters come first; a
    query the compiler refuses is an INVALID_ARGUMENT RPCError, as Temporal's."""
    try:
        return compile_filter(query, first_param=first_param, vocabulary=vocabulary)
    except ListFilterError as err:
        raise RPCError(str(err), RPCStatusCode.INVALID_ARGUMENT, b"") from err


def _list_statement(
    query: str | None, token: bytes | None, vocabulary: Any = WORKFLOWS
) -> tuple[dict[str, str], list[Any], int]:
    """The fragments and parameters (after $1 namespace and $2 limit) of one page's
    statement, and how many sort columns it selects."""
    compiled = compile_query(query, first_param=3, vocabulary=vocabulary)
    if compiled.group_by is not None:
        raise RPCError(
            "invalid query: GROUP BY is only supported by counts",
            RPCStatusCode.INVALID_ARGUMENT,
            b"",
        )
    terms = compiled.order_terms
    try:
        last = visibility.page_after(token, [t.cast for t in terms])
    except ValueError as err:
        raise RPCError(str(err), RPCStatusCode.INVALID_ARGUMENT, b"") from err
    after, after_params = (
        ("true", [])
        if last is None
        else keyset_condition(terms, last, first_param=3 + len(compiled.params))
    )
    fragments = {
        "where": compiled.where,
        "order": compiled.order_by,
        "after": after,
        "sort": compiled.sort_columns(),
    }
    return fragments, [*compiled.params, *after_params], len(terms)
