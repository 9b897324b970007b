"""Drives a WorkflowInstance with hand-built activations, no database involved."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from hotmesh_temporal import common, workflow
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal._engine.runtime.instance import WorkflowInstance
from hotmesh_temporal.api.failure.v1 import Failure
from hotmesh_temporal.converter import DataConverter
from hotmesh_temporal.workflow._definition import WorkflowDefinition

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
CONVERTER = DataConverter.default


def make_info(workflow_type: str, **overrides: Any) -> workflow.Info:
    values: dict = dict(
        attempt=1,
        continued_run_id=None,
        cron_schedule=None,
        execution_timeout=None,
        first_execution_run_id="run-1",
        headers={},
        namespace="default",
        original_execution_run_id="run-1",
        parent=None,
        root=None,
        priority=common.Priority(),
        raw_memo={},
        retry_policy=None,
        run_id="run-1",
        run_timeout=None,
        search_attributes={},
        start_time=START,
        task_queue="tq",
        task_timeout=timedelta(seconds=10),
        typed_search_attributes=common.TypedSearchAttributes.empty,
        workflow_id="wf-1",
        workflow_start_time=START,
        workflow_type=workflow_type,
    )
    values.update(overrides)
    return workflow.Info(**values)


def payloads(*values: Any) -> list[Any]:
    return CONVERTER.payload_converter.to_payloads(list(values))


def payload(value: Any) -> Any:
    return CONVERTER.payload_converter.to_payload(value)


def decode(p: Any, type_hint: Any = None) -> Any:
    return CONVERTER.payload_converter.from_payload(p, type_hint)


def to_failure(err: BaseException) -> Any:
    failure = Failure()
    CONVERTER.failure_converter.to_failure(err, CONVERTER.payload_converter, failure)
    return failure


def from_failure(failure: Any) -> BaseException:
    return CONVERTER.failure_converter.from_failure(failure, CONVERTER.payload_converter)


class Driver:
    """One workflow run plus helpers to activate it step by step."""

    def __init__(self, cls: type, *, failure_types: Sequence[type] = (), **info: Any) -> None:
        self.definition = WorkflowDefinition.from_class(cls)
        self.instance = WorkflowInstance(
            self.definition,
            make_info(self.definition.name or "Dynamic", **info),
            CONVERTER,
            workflow_failure_exception_types=failure_types,
        )
        self.elapsed = timedelta()

    def activate(
        self, *jobs: c.Job, replaying: bool = False, advance: timedelta = timedelta()
    ) -> c.ActivationCompletion:
        self.elapsed += advance
        activation = c.Activation(
            run_id="run-1",
            timestamp=START + self.elapsed,
            is_replaying=replaying,
            history_length=3,
            jobs=list(jobs),
        )
        return self.instance.activate(activation)

    def start(
        self, *args: Any, seed: int = 7, extra_jobs: Sequence[c.Job] = (), replaying: bool = False
    ) -> c.ActivationCompletion:
        init = c.InitializeWorkflow(
            workflow_type=self.definition.name or "Dynamic",
            arguments=payloads(*args),
            randomness_seed=seed,
        )
        return self.activate(init, *extra_jobs, replaying=replaying)


def only(commands: Sequence[Any], kind: type) -> list[Any]:
    return [cmd for cmd in commands if isinstance(cmd, kind)]


def completed_result(completion: c.ActivationCompletion, type_hint: type | None = None) -> Any:
    assert completion.failure is None, completion.failure
    (done,) = only(completion.commands, c.CompleteWorkflow)
    return decode(done.result, type_hint)
