"""Run a workflow in temporalio 1.35's own workflow instance, without a server.

temporalio's worker hands its workflow instance activations (protobuf job lists from
its Rust core) and sends back the commands the instance answers. Feeding that instance
the activations a server would give lets a test watch what temporalio's workflow side
does (the warnings it gives, the commands and failures it answers) offline, and compare
that with a hotmesh_temporal run of the same workflow on Postgres.

Only the SDK side is real here: the jobs are the ones a scenario writes, so a scenario
keeps them to what a server would send at that point.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import temporalio.api.common.v1
import temporalio.bridge.proto.workflow_activation as wa
import temporalio.bridge.proto.workflow_completion as wc
import temporalio.common
import temporalio.converter
import temporalio.workflow
from temporalio.worker._workflow_instance import (
    UnsandboxedWorkflowRunner,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)

_CONVERTER = temporalio.converter.DataConverter.default


def payloads(*values: Any) -> list[temporalio.api.common.v1.Payload]:
    return _CONVERTER.payload_converter.to_payloads(list(values))


@dataclass
class TemporalioRun:
    """One temporalio workflow instance and the activations given to it so far."""

    workflow_cls: type
    runner: WorkflowRunner = field(default_factory=UnsandboxedWorkflowRunner)
    workflow_id: str = "wf-id"
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))
    instance: WorkflowInstance | None = None
    history_length: int = 3
    randomness_seed: int = 1234

    def __post_init__(self) -> None:
        self.defn = temporalio.workflow._Definition.must_from_class(self.workflow_cls)
        self.runner.prepare_workflow(self.defn)

    def start(self, *args: Any) -> wc.WorkflowActivationCompletion:
        """The first activation: initialize the workflow with ``args``."""
        init = wa.InitializeWorkflow(
            workflow_type=self.defn.name or "",
            workflow_id=self.workflow_id,
            arguments=payloads(*args),
            randomness_seed=self.randomness_seed,
            first_execution_run_id=self.run_id,
            attempt=1,
        )
        init.workflow_task_timeout.FromTimedelta(timedelta(seconds=10))
        init.start_time.FromDatetime(self.now)
        outer = asyncio._get_running_loop()
        try:
            self.instance = self.runner.create_instance(self._details())
        finally:
            asyncio._set_running_loop(outer)
        return self.activate(wa.WorkflowActivationJob(initialize_workflow=init))

    def _details(self) -> WorkflowInstanceDetails:
        info = temporalio.workflow.Info(
            attempt=1,
            continued_run_id=None,
            cron_schedule=None,
            execution_timeout=None,
            first_execution_run_id=self.run_id,
            headers={},
            namespace="default",
            original_execution_run_id=self.run_id,
            parent=None,
            root=None,
            raw_memo={},
            retry_policy=None,
            run_id=self.run_id,
            run_timeout=None,
            search_attributes={},
            start_time=self.now,
            workflow_start_time=self.now,
            task_queue="tq",
            task_timeout=timedelta(seconds=10),
            typed_search_attributes=temporalio.common.TypedSearchAttributes.empty,
            workflow_id=self.workflow_id,
            workflow_type=self.defn.name or "",
            priority=temporalio.common.Priority.default,
        )
        return WorkflowInstanceDetails(
            payload_converter_factory=_CONVERTER._new_payload_converter,
            failure_converter_class=_CONVERTER.failure_converter_class,
            interceptor_classes=[],
            defn=self.defn,
            info=info,
            randomness_seed=self.randomness_seed,
            extern_functions={},
            disable_eager_activity_execution=True,
            worker_level_failure_exception_types=[],
            patch_activation_callback=None,
            last_completion_result=temporalio.api.common.v1.Payloads(),
            last_failure=None,
        )

    def activate(self, *jobs: wa.WorkflowActivationJob) -> wc.WorkflowActivationCompletion:
        assert self.instance is not None, "start() first"
        self.now += timedelta(seconds=1)
        self.history_length += 3
        act = wa.WorkflowActivation(
            run_id=self.run_id,
            is_replaying=False,
            history_length=self.history_length,
            jobs=list(jobs),
        )
        act.timestamp.FromDatetime(self.now)
        for job in act.jobs:
            if job.HasField("signal_workflow"):
                job.signal_workflow.originating_event_id = self.history_length
        # The instance makes itself the running loop while it runs and leaves none
        # behind; the test's own loop is put back.
        outer = asyncio._get_running_loop()
        try:
            return self.instance.activate(act)
        finally:
            asyncio._set_running_loop(outer)

    # ------------------------------------------------------------------ jobs

    def signal(self, name: str, *args: Any) -> wc.WorkflowActivationCompletion:
        return self.activate(signal_job(name, *args))

    def update(self, name: str, update_id: str, *args: Any) -> wc.WorkflowActivationCompletion:
        return self.activate(update_job(name, update_id, *args))

    def cancel(self, reason: str = "") -> wc.WorkflowActivationCompletion:
        return self.activate(
            wa.WorkflowActivationJob(cancel_workflow=wa.CancelWorkflow(reason=reason))
        )


def signal_job(name: str, *args: Any) -> wa.WorkflowActivationJob:
    return wa.WorkflowActivationJob(
        signal_workflow=wa.SignalWorkflow(signal_name=name, input=payloads(*args))
    )


def update_job(name: str, update_id: str, *args: Any) -> wa.WorkflowActivationJob:
    return wa.WorkflowActivationJob(
        do_update=wa.DoUpdate(
            id=update_id,
            protocol_instance_id=update_id,
            name=name,
            input=payloads(*args),
            run_validator=True,
        )
    )


def command_kinds(completion: wc.WorkflowActivationCompletion) -> list[str]:
    """The command kinds (``complete_workflow_execution``, ...) a completion holds, or
    ``["failed: <message>"]`` for a failed activation."""
    if completion.HasField("failed"):
        return [f"failed: {completion.failed.failure.message}"]
    return [cmd.WhichOneof("variant") or "" for cmd in completion.successful.commands]


def run_method(wf: Any) -> Any:
    """``@wf.run`` for a class defined inside a function: both SDKs refuse ``<locals>``
    in the qualified name, so the method gets a module-level-looking one first."""

    def decorate(fn: Any) -> Any:
        fn.__qualname__ = ".".join(fn.__qualname__.split(".")[-2:])
        return wf.run(fn)

    return decorate


def defn(wf: Any, **options: Any) -> Any:
    """``@wf.defn(...)`` for a class defined inside a function (see :func:`run_method`)."""

    def decorate(cls: type) -> type:
        cls.__qualname__ = cls.__name__
        for member in vars(cls).values():
            if callable(member) and hasattr(member, "__qualname__"):
                member.__qualname__ = f"{cls.__name__}.{member.__name__}"
        return wf.defn(**options)(cls)

    return decorate
