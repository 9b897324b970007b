"""Apply the user's payload codec (encryption, compression...) at the edge of workflow
code: payloads are decoded on their way into an activation and encoded on their way
out, so workflow code only ever sees the payload converter, and every payload at rest
in Postgres is encoded.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal.converter import (
    ActivitySerializationContext,
    DataConverter,
    SerializationContext,
    StorageDriverWorkflowInfo,
    StorageOperationMetrics,
    WorkflowSerializationContext,
)

# The payload-carrying fields of each job and command: (field, kind) where kind is
# "list" (sequence of payloads), "one" (optional payload), "map" (str -> payload) or
# "failure".
_JOB_FIELDS = {
    c.InitializeWorkflow: (
        ("arguments", "list"),
        ("last_completion_result", "list"),
        ("continued_failure", "failure"),
        ("memo", "map"),
    ),
    c.ResolveActivity: (("completed", "one"), ("failed", "failure"), ("cancelled", "failure")),
    c.SignalWorkflow: (("input", "list"),),
    c.DoUpdate: (("input", "list"),),
    c.ResolveChildWorkflow: (("completed", "one"), ("failed", "failure"), ("cancelled", "failure")),
    c.ResolveChildWorkflowStart: (("cancelled", "failure"),),
    c.ResolveSignalExternalWorkflow: (("failure", "failure"),),
    c.ResolveRequestCancelExternalWorkflow: (("failure", "failure"),),
}

_COMMAND_FIELDS = {
    c.ScheduleActivity: (("arguments", "list"), ("user_metadata", "map")),
    c.StartTimer: (("user_metadata", "map"),),
    c.CompleteWorkflow: (("result", "one"),),
    c.FailWorkflow: (("failure", "failure"),),
    c.ContinueAsNew: (("arguments", "list"), ("memo", "map")),
    c.StartChildWorkflow: (("arguments", "list"), ("memo", "map"), ("user_metadata", "map")),
    c.SignalExternalWorkflow: (("arguments", "list"),),
    c.ModifyWorkflowProperties: (("upserted_memo", "map"),),
    c.UpdateResponse: (("rejected", "failure"), ("completed", "one"), ("failed", "failure")),
}


# Jobs and commands with a ``headers`` map (through the codec only when the client's
# header_codec_behavior says so).
_HEADER_FIELD = (("headers", "map"),)
_HEADERED = (
    c.InitializeWorkflow,
    c.SignalWorkflow,
    c.DoUpdate,
    c.ScheduleActivity,
    c.StartChildWorkflow,
    c.SignalExternalWorkflow,
    c.ContinueAsNew,
)


@dataclass
class TaskStorageMetrics:
    """External storage work of one workflow activation: payloads retrieved for its
    jobs and stored for its commands, kept apart as temporalio reports them with an
    activation's completion."""

    download: StorageOperationMetrics = dataclasses.field(default_factory=StorageOperationMetrics)
    upload: StorageOperationMetrics = dataclasses.field(default_factory=StorageOperationMetrics)


@dataclass(frozen=True)
class RunIdentity:
    """The workflow run whose payloads are converted (for serialization contexts)."""

    namespace: str
    workflow_id: str
    workflow_type: str
    task_queue: str
    run_id: str = ""
    # Where a child's result goes, for its external storage target; None for a
    # top-level run or a run continued as new (temporalio's choice).
    parent: StorageDriverWorkflowInfo | None = None

    def storage_target(self) -> StorageDriverWorkflowInfo:
        """The run itself, as external storage names it."""
        return StorageDriverWorkflowInfo(
            namespace=self.namespace,
            id=self.workflow_id,
            run_id=self.run_id or None,
            type=self.workflow_type or None,
        )


@dataclass(frozen=True)
class ActivityTarget:
    """The activity a ResolveActivity job is about (its payloads use its context)."""

    activity_id: str
    activity_type: str
    task_queue: str
    is_local: bool


class PayloadCodecs:
    """Encode/decode the payloads of jobs and commands with the data converter's codec
    (and external storage); ``headers`` says whether header payloads go through it too.

    Bound to a run (:py:meth:`for_run`), each payload gets the codec in temporalio's
    serialization context: the run's workflow context, an activity's context for its
    arguments and result, a child's (or signalled workflow's) context for its payloads.
    External storage stores on behalf of temporalio's target: the run itself, except
    for a child's start (the child), a signal to another workflow (that workflow) and a
    child's result (its parent).
    """

    def __init__(
        self,
        converter: DataConverter,
        *,
        headers: bool = False,
        run: RunIdentity | None = None,
        context: SerializationContext | None = None,
        target: StorageDriverWorkflowInfo | None = None,
        storage_concurrency: int = 1,
    ) -> None:
        self.converter = converter
        self.headers = headers
        self.run = run
        # How many jobs' or commands' payloads may be with external storage at once
        # (the worker's max_workflow_task_external_storage_concurrency).
        self.storage_concurrency = storage_concurrency
        bound = converter.with_context(context) if context is not None else converter
        self.codec = bound._with_store_target(target)._edge_codec

    def for_run(self, run: RunIdentity) -> PayloadCodecs:
        """These codecs in the context of ``run`` (its workflow context by default)."""
        return PayloadCodecs(
            self.converter,
            headers=self.headers,
            run=run,
            context=self._workflow_context(run),
            target=run.storage_target(),
            storage_concurrency=self.storage_concurrency,
        )

    def with_started(self, started_attrs: Mapping[str, Any]) -> PayloadCodecs:
        """These codecs once the run's WorkflowExecutionStarted attributes are known:
        a child's result is stored on behalf of its parent, unless the run was
        continued as new (temporalio's rule)."""
        execution = started_attrs.get("parentWorkflowExecution")
        if self.run is None or not execution or started_attrs.get("continuedExecutionRunId"):
            return self
        parent = StorageDriverWorkflowInfo(
            namespace=started_attrs.get("parentWorkflowNamespace") or self.run.namespace,
            id=execution.get("workflowId"),
            run_id=execution.get("runId") or None,
        )
        return self.for_run(dataclasses.replace(self.run, parent=parent))

    def _in_context(
        self,
        context: SerializationContext | None,
        target: StorageDriverWorkflowInfo | None = None,
    ) -> PayloadCodecs:
        if context is None and target is None:
            return self
        if self.run is not None:
            context = context or self._workflow_context(self.run)
            target = target or self.run.storage_target()
        return PayloadCodecs(
            self.converter,
            headers=self.headers,
            run=self.run,
            context=context,
            target=target,
            storage_concurrency=self.storage_concurrency,
        )

    def _command_target(self, cmd: Any) -> StorageDriverWorkflowInfo | None:
        """temporalio's external storage target for a command's payloads (None: the
        run's own)."""
        if self.run is None:
            return None
        namespace = self.run.namespace
        if isinstance(cmd, c.StartChildWorkflow):
            return StorageDriverWorkflowInfo(
                namespace=namespace, id=cmd.workflow_id, type=cmd.workflow_type
            )
        if isinstance(cmd, c.SignalExternalWorkflow):
            return StorageDriverWorkflowInfo(namespace=namespace, id=cmd.workflow_id)
        if isinstance(cmd, c.CompleteWorkflow):
            return self.run.parent
        return None

    def _workflow_context(
        self, run: RunIdentity, workflow_id: str | None = None
    ) -> WorkflowSerializationContext:
        return WorkflowSerializationContext(
            namespace=run.namespace, workflow_id=workflow_id or run.workflow_id
        )

    def _activity_context(self, target: ActivityTarget) -> SerializationContext | None:
        if self.run is None:
            return None
        return ActivitySerializationContext(
            namespace=self.run.namespace,
            activity_id=target.activity_id,
            activity_type=target.activity_type,
            activity_task_queue=target.task_queue,
            workflow_id=self.run.workflow_id,
            workflow_type=self.run.workflow_type,
            is_local=target.is_local,
        )

    def _command_context(self, cmd: Any) -> SerializationContext | None:
        """temporalio's context for a command's payloads (None: the run's own)."""
        if self.run is None:
            return None
        if isinstance(cmd, c.ScheduleActivity):
            return self._activity_context(
                ActivityTarget(cmd.activity_id, cmd.activity_type, cmd.task_queue, cmd.is_local)
            )
        if isinstance(cmd, (c.StartChildWorkflow, c.SignalExternalWorkflow)):
            return self._workflow_context(self.run, cmd.workflow_id)
        return None

    def _job_context(self, job: Any, target: ActivityTarget | str | None) -> Any:
        if self.run is None or target is None:
            return None
        if isinstance(job, c.ResolveActivity) and isinstance(target, ActivityTarget):
            return self._activity_context(target)
        other_workflow = (c.ResolveChildWorkflow, c.ResolveChildWorkflowStart)
        if isinstance(job, (*other_workflow, c.ResolveSignalExternalWorkflow)) and isinstance(
            target, str
        ):
            return self._workflow_context(self.run, target)
        return None

    async def decode_job(self, job: Any, target: ActivityTarget | str | None = None) -> Any:
        """Decode ``job``'s payloads; ``target`` names the activity (ActivityTarget) or
        child workflow id (str) a resolution is about, for its serialization context."""
        codecs = self._in_context(self._job_context(job, target))
        return await codecs._transform(job, codecs._fields(_JOB_FIELDS, job), encode=False)

    async def decode_jobs(self, jobs: Sequence[Any], target_of: Callable[[Any], Any]) -> list[Any]:
        """:py:meth:`decode_job` for each job (``target_of`` gives its target)."""
        return await self._each(jobs, lambda job: self.decode_job(job, target_of(job)))

    async def encode_commands(self, commands: Sequence[Any]) -> list[Any]:
        """:py:meth:`encode_command` for each command."""
        return await self._each(commands, self.encode_command)

    async def _each(
        self, items: Sequence[Any], convert: Callable[[Any], Awaitable[Any]]
    ) -> list[Any]:
        """``convert`` applied to each item, in order. With external storage, up to
        ``storage_concurrency`` items at once, as temporalio lets a workflow task's
        store and retrieve calls overlap; one at a time otherwise."""
        limit = self.storage_concurrency
        if limit <= 1 or len(items) <= 1 or self.converter.external_storage is None:
            return [await convert(item) for item in items]
        gate = asyncio.Semaphore(limit)

        async def gated(item: Any) -> Any:
            async with gate:
                return await convert(item)

        return list(await asyncio.gather(*(gated(item) for item in items)))

    async def encode_command(self, cmd: Any) -> Any:
        codecs = self._in_context(self._command_context(cmd), self._command_target(cmd))
        return await codecs._transform(cmd, codecs._fields(_COMMAND_FIELDS, cmd), encode=True)

    async def decode_headers(self, headers: Any) -> Any:
        if not self.headers or not headers:
            return headers
        return await self._convert(headers, "map", encode=False)

    def _fields(self, table: Any, obj: Any) -> tuple:
        fields = table.get(type(obj), ())
        if self.headers and isinstance(obj, _HEADERED):
            fields = fields + _HEADER_FIELD
        return fields

    async def encode_payloads(self, payloads: Sequence[Any]) -> list[Any]:
        if self.codec is None or not payloads:
            return list(payloads)
        return list(await self.codec.encode(list(payloads)))

    async def decode_payloads(self, payloads: Sequence[Any]) -> list[Any]:
        if self.codec is None or not payloads:
            return list(payloads)
        return list(await self.codec.decode(list(payloads)))

    async def encode_failure(self, failure: Any) -> None:
        if self.codec is not None and failure is not None:
            await self.codec.encode_failure(failure)

    async def decode_failure(self, failure: Any) -> None:
        if self.codec is not None and failure is not None:
            await self.codec.decode_failure(failure)

    async def _transform(self, obj: Any, fields: Sequence[tuple], *, encode: bool) -> Any:
        if self.codec is None or not fields:
            return obj
        changes = {}
        for name, kind in fields:
            value = getattr(obj, name)
            if value is None or (kind != "one" and not value):
                continue
            changes[name] = await self._convert(value, kind, encode)
        return dataclasses.replace(obj, **changes) if changes else obj

    async def _convert(self, value: Any, kind: str, encode: bool) -> Any:
        if kind == "list":
            return await (self.encode_payloads(value) if encode else self.decode_payloads(value))
        if kind == "one":
            converted = await (
                self.encode_payloads([value]) if encode else self.decode_payloads([value])
            )
            return converted[0]
        if kind == "map":
            # One payload at a time, as temporalio visits a map's payloads: each memo
            # value or header is its own codec call and its own external storage batch.
            convert = self.encode_payloads if encode else self.decode_payloads
            return {key: (await convert([item]))[0] for key, item in value.items()}
        # failure: codecs transform failures in place
        await (self.encode_failure(value) if encode else self.decode_failure(value))
        return value
