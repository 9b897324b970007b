"""The scenario registry and the context a scenario runs in.

A scenario is an async function ``(ctx) -> dict`` written once against the temporalio
API through ``ctx.sdk``; it defines its workflows and activities with that SDK's
decorators (so each SDK gets its own definitions), runs them, and returns what a user
observed. :func:`run_scenario` normalises the observation so two runs compare equal.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from .observe import Normaliser
from .sdk import Sdk

ScenarioFn = Callable[["Ctx"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Scenario:
    name: str
    family: str
    fn: ScenarioFn
    # Runs on a time-skipping environment (the Java test server / our virtual clock).
    time_skipping: bool = False


SCENARIOS: dict[str, Scenario] = {}


def scenario(family: str, *, time_skipping: bool = False) -> Callable[[ScenarioFn], ScenarioFn]:
    def register(fn: ScenarioFn) -> ScenarioFn:
        name = fn.__name__
        assert name not in SCENARIOS, f"duplicate scenario {name}"
        SCENARIOS[name] = Scenario(name, family, fn, time_skipping)
        return fn

    return register


@dataclass
class Ctx:
    sdk: Sdk
    client: Any
    env: Any  # the WorkflowEnvironment when time-skipping, else None
    task_queue: str = field(default_factory=lambda: f"dq-{uuid.uuid4().hex[:12]}")
    prefix: str = field(default_factory=lambda: f"dx{uuid.uuid4().hex[:10]}")
    _ids: dict[str, str] = field(default_factory=dict)

    def id(self, name: str) -> str:
        """A workflow (or schedule) id unique to this run, normalised back to ``name``."""
        value = f"{self.prefix}-{name}"
        self._ids[value] = f"<{name}>"
        return value

    @property
    def wf(self) -> Any:
        return self.sdk.workflow

    def run(self, fn: Callable[..., Any]) -> Any:
        """``@workflow.run`` for a class defined inside a scenario: both SDKs refuse
        ``<locals>`` in the qualified name (workflows are meant to live at module level),
        so the scenario's definitions are given a module-level-looking name first."""
        fn.__qualname__ = ".".join(fn.__qualname__.split(".")[-2:])
        return self.wf.run(fn)

    def defn(self, **options: Any) -> Callable[[type], type]:
        """``@workflow.defn(...)`` for a class defined inside a scenario (see :meth:`run`)."""

        def define(cls: type) -> type:
            cls.__qualname__ = cls.__name__
            for member in vars(cls).values():
                if callable(member) and hasattr(member, "__qualname__"):
                    member.__qualname__ = f"{cls.__name__}.{member.__name__}"
            return self.wf.defn(**options)(cls)

        return define

    @property
    def act(self) -> Any:
        return self.sdk.activity

    def worker(
        self,
        workflows: Sequence[type] = (),
        activities: Sequence[Callable[..., Any]] = (),
        *,
        task_queue: str | None = None,
        **options: Any,
    ) -> Any:
        return self.sdk.worker.Worker(
            self.client,
            task_queue=task_queue or self.task_queue,
            workflows=list(workflows),
            activities=list(activities),
            workflow_runner=self.sdk.worker.UnsandboxedWorkflowRunner(),
            **options,
        )

    @asynccontextmanager
    async def running(
        self,
        workflows: Sequence[type] = (),
        activities: Sequence[Callable[..., Any]] = (),
        **options: Any,
    ) -> AsyncIterator[Any]:
        async with self.worker(workflows, activities, **options) as worker:
            yield worker

    def normaliser(self) -> Normaliser:
        replacements = dict(self._ids)
        replacements[self.task_queue] = "<task-queue>"
        replacements[self.prefix] = "<prefix>"
        return Normaliser(replacements)


async def run_scenario(sdk: Sdk, client: Any, env: Any, scenario: Scenario) -> dict[str, Any]:
    ctx = Ctx(sdk=sdk, client=client, env=env)
    observed = await scenario.fn(ctx)
    return ctx.normaliser()(observed)


async def outcome(awaitable: Awaitable[Any]) -> dict[str, Any]:
    """A result or the error chain it raised, as a user sees either."""
    from .observe import error_chain

    try:
        return {"result": await awaitable}
    except Exception as exc:
        return {"error": error_chain(exc)}
