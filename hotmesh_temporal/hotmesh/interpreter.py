"""The workflow that runs a YAML graph: one dynamic workflow whose type is the graph's
``subscribes`` topic, walking the compiled graph deterministically.

Each activity maps onto an engine primitive, so a graph run's history reads like a
code workflow's: worker -> an activity task (type = the worker topic), await -> a child
workflow, hook sleep -> a durable timer, hook wait -> a ``hotmesh.hook`` signal,
escalation/signal/interrupt of other jobs -> system activities (they need the
database, which workflow code never touches). Mappings and ``@pipe`` are pure and read
the clock only through ``workflow.now()``.

The walk: an activity runs when every parent (per the transitions) has settled, and at
least one of them took the transition to it; when none did, the activity is skipped
and its children hear "not taken" in turn (so converging branches join without
waiting forever). A ``cycle`` resets its ancestor's subtree and runs the ancestor
again. The job ends when nothing is running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hotmesh_temporal import workflow
from hotmesh_temporal.common import RawValue, RetryPolicy, SearchAttributeKey, TypedSearchAttributes
from hotmesh_temporal.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from hotmesh_temporal.hotmesh.functions import (
    PipeFunctionError,
    iso,
    js_string,
    js_truthy,
    to_number,
)
from hotmesh_temporal.hotmesh.model import (
    DEFAULT_CODE,
    Activity,
    Conditions,
    Graph,
    decode_app,
    fingerprint,
)
from hotmesh_temporal.hotmesh.pipe import MappingError, PipeContext, json_equal, resolve

HOOK_SIGNAL = "hotmesh.hook"
ESCALATION_SIGNAL = "hotmesh.escalation"
STATE_QUERY = "hotmesh.state"
SIGNAL_ACTIVITY = "hotmesh.signal"
ESCALATE_ACTIVITY = "hotmesh.escalate"
INTERRUPT_ACTIVITY = "hotmesh.interrupt"
# Keyword-list search attributes: which (topic, key) hooks a run waits on; the app and
# version of a run (set when it starts).
HOOKS_ATTRIBUTE = SearchAttributeKey.for_keyword_list("HotMeshHooks")
APP_ATTRIBUTE = SearchAttributeKey.for_keyword("HotMeshApp")
VERSION_ATTRIBUTE = SearchAttributeKey.for_keyword("HotMeshVersion")
SYSTEM_TIMEOUT = timedelta(seconds=30)
FAILED_CODE = 500


def app_queue(app_id: str) -> str:
    """The task queue of an app's graph runs and system activities."""
    return f"hotmesh-{app_id}"


def worker_queue(app_id: str, topic: str) -> str:
    """The task queue of one worker topic's activity tasks."""
    return f"hotmesh-{app_id}-{topic}"


def hook_key(topic: str, key: Any) -> str:
    """The search-attribute value that finds a job waiting on ``topic`` for ``key``."""

    return f"{topic}|{'' if key is None else js_string(key)}"


class _Stop(Exception):
    """Raised inside an activity's task to end the walk (self-interrupt)."""


@workflow.defn(dynamic=True)
class GraphRun:
    """One run of a YAML graph. Input: ``{"app": compiled subset, "topic", "data"}``."""

    def __init__(self) -> None:
        self.activities: dict[str, dict[str, Any]] = {}
        self.job: dict[str, Any] = {"data": {}, "metadata": {}}
        self.running = 0
        self.arrivals: dict[str, dict[str, bool]] = {}
        self.passes: dict[str, int] = {}
        self.hook_inbox: list[dict[str, Any]] = []
        self.escalations: dict[str, Any] = {}
        self.waiting_keys: list[str] = []
        self.carried: dict[str, dict[str, Any]] = {}  # cycle data for a re-entered hook
        self.failure: BaseException | None = None
        self.stopped = False

    # ----------------------------------------------------------------- messages

    @workflow.signal(name=HOOK_SIGNAL)
    def on_hook(self, message: dict) -> None:
        self.hook_inbox.append(message)

    @workflow.signal(name=ESCALATION_SIGNAL)
    def on_escalation(self, message: dict) -> None:
        self.escalations[message["id"]] = message.get("data") or {}

    @workflow.query(name=STATE_QUERY)
    def state(self) -> dict:
        return {
            "metadata": self.job["metadata"],
            "data": self.job["data"],
            "activities": self.activities,
        }

    # ---------------------------------------------------------------------- run

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> dict:
        start = workflow.payload_converter().from_payload(args[0].payload, dict)
        # Which task queue serves a worker topic: chosen by whoever started the run
        # ("*": every topic), else the topic's own queue.
        self.routes: dict[str, str] = start.get("routes") or {}
        self.app = decode_app(start["app"], start.get("fingerprint"))
        graph = self.app.graph_for(start["topic"])
        if graph is None:
            raise ApplicationError(f"no graph subscribes to {start['topic']!r}", non_retryable=True)
        self.graph: Graph = graph
        info = workflow.info()
        self.job["metadata"] = {
            "jid": info.workflow_id,
            "app": self.app.id,
            "vrs": self.app.version,
            "tpc": graph.subscribes,
            "ts": iso(workflow.now()),
            "pj": start.get("parent_jid", ""),
            "js": 1,
        }
        self.spawn(graph.trigger, start.get("data") or {})
        await workflow.wait_condition(
            lambda: self.running == 0 or self.failure is not None or self.stopped
        )
        if self.failure is not None:
            raise self.failure
        self.job["metadata"]["js"] = -1 if self.stopped else 0
        self.job["metadata"]["jc"] = iso(workflow.now())
        return {"metadata": self.job["metadata"], "data": self.job["data"]}

    def spawn(self, activity_id: str, trigger_data: Any = None) -> None:
        self.running += 1
        asyncio.create_task(self.guarded(activity_id, trigger_data))

    async def guarded(self, activity_id: str, trigger_data: Any) -> None:
        try:
            await self.run_activity(self.graph.activities[activity_id], trigger_data)
        except _Stop:
            self.stopped = True
        except (MappingError, PipeFunctionError) as err:
            # A mapping that cannot be evaluated on this data fails the job (rather than
            # the workflow task, which would be retried forever on the same data).
            if self.failure is None:
                self.failure = ApplicationError(
                    f"activity {activity_id!r}: {err}",
                    type="HotMeshMappingError",
                    non_retryable=True,
                )
        except Exception as err:  # the job fails with the first activity's failure
            if self.failure is None:
                self.failure = err
        finally:
            self.running -= 1

    async def run_activity(self, activity: Activity, trigger_data: Any) -> None:
        self.passes[activity.id] = self.passes.get(activity.id, 0) + 1
        state = self.activities.setdefault(activity.id, {})
        state["output"] = {"data": {}, "metadata": {"aid": activity.id, "atp": activity.type}}
        if activity.type == "trigger":
            state["input"] = {"data": trigger_data}
            state["output"]["data"] = trigger_data
            code = DEFAULT_CODE
        else:
            code = await getattr(self, f"do_{activity.type}")(activity, state)
        state["output"]["metadata"]["code"] = code
        state["output"]["metadata"]["ac"] = iso(workflow.now())
        if code == DEFAULT_CODE and activity.output_maps and activity.type != "activity":
            state["output"]["data"] = resolve(activity.output_maps, self.ctx(activity.id))
        if activity.job_maps:
            self.job["data"].update(resolve(activity.job_maps, self.ctx(activity.id)) or {})
        self.follow(activity, code)

    def queue_for(self, topic: str) -> str:
        return self.routes.get(topic) or self.routes.get("*") or worker_queue(self.app.id, topic)

    def ctx(self, activity_id: str) -> PipeContext:
        return PipeContext(
            activities=self.activities,
            job=self.job,
            settings=self.app.settings,
            now=workflow.now(),
            self_id=activity_id,
        )

    # -------------------------------------------------------------- transitions

    def follow(self, activity: Activity, code: int) -> None:
        outs = self.graph.transitions.get(activity.id, [])
        if code != DEFAULT_CODE and not any(code in t.conditions.code for t in outs):
            output = self.activities[activity.id]["output"]["data"]
            raise ApplicationError(
                f"activity {activity.id!r} ended with status {code} and no transition handles it",
                output,
                type="HotMeshActivityFailed",
                non_retryable=True,
            )
        for transition in outs:
            taken = self.passes_conditions(transition.conditions, code, activity.id)
            self.arrive(activity.id, transition.to, taken)

    def passes_conditions(self, conditions: Conditions, code: int, activity_id: str) -> bool:
        if code not in conditions.code:
            return False
        if not conditions.match:
            return True
        ctx = self.ctx(activity_id)
        results = (
            json_equal(resolve(m.expected, ctx), resolve(m.actual, ctx)) for m in conditions.match
        )
        return any(results) if conditions.gate == "or" else all(results)

    def arrive(self, parent: str, target: str, taken: bool) -> None:
        arrived = self.arrivals.setdefault(target, {})
        arrived[parent] = taken
        if any(p not in arrived for p in self.graph.parents(target)):
            return  # fan-in: wait for every parent to settle
        del self.arrivals[target]
        if any(arrived.values()):
            self.spawn(target)
        else:
            for transition in self.graph.transitions.get(target, []):
                self.arrive(target, transition.to, False)

    # ---------------------------------------------------------------- activities

    async def do_activity(self, activity: Activity, state: dict) -> int:
        if activity.output_maps:
            state["output"]["data"] = resolve(activity.output_maps, self.ctx(activity.id))
        return DEFAULT_CODE

    async def do_worker(self, activity: Activity, state: dict) -> int:
        data = resolve(activity.input_maps, self.ctx(activity.id)) if activity.input_maps else {}
        state["input"] = {"data": data}
        retry = activity.retry
        policy = RetryPolicy(
            initial_interval=timedelta(seconds=retry.initial_interval if retry else 1.0),
            backoff_coefficient=retry.backoff_coefficient if retry else 2.0,
            maximum_interval=timedelta(seconds=retry.maximum_interval)
            if retry and retry.maximum_interval
            else None,
            maximum_attempts=retry.maximum_attempts if retry else 3,
        )
        try:
            result = await workflow.execute_activity(
                activity.topic,
                data,
                task_queue=self.queue_for(activity.topic),
                start_to_close_timeout=timedelta(seconds=activity.timeout),
                retry_policy=policy,
                result_type=dict,
            )
        except ActivityError as err:
            state["output"]["data"] = {"message": str(err.cause or err)}
            return FAILED_CODE
        state["output"]["data"] = result.get("data") or {}
        return int(result.get("code", DEFAULT_CODE))

    async def do_await(self, activity: Activity, state: dict) -> int:
        data = resolve(activity.input_maps, self.ctx(activity.id)) if activity.input_maps else {}
        state["input"] = {"data": data}
        jid = self.job["metadata"]["jid"]
        child_id = f"{jid}-{activity.id}-{self.passes[activity.id]}"
        child_app = self.app.subset_for(activity.topic).to_json()
        start = {
            "app": child_app,
            "fingerprint": fingerprint(child_app),
            "topic": activity.topic,
            "data": data,
            "parent_jid": jid,
            "routes": self.routes,
        }
        options: dict[str, Any] = dict(
            id=child_id,
            task_queue=workflow.info().task_queue,
            search_attributes=self.run_attributes(),
            result_type=dict,
        )
        if not activity.wait:
            await workflow.start_child_workflow(
                activity.topic,
                start,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                **options,
            )
            state["output"]["data"] = {"job_id": child_id}
            return DEFAULT_CODE
        try:
            result = await workflow.execute_child_workflow(activity.topic, start, **options)
        except ChildWorkflowError as err:
            state["output"]["data"] = {"message": str(err.cause or err), "job_id": child_id}
            return FAILED_CODE
        state["output"]["data"] = result.get("data") or {}
        return DEFAULT_CODE

    def run_attributes(self) -> Any:

        return TypedSearchAttributes(
            [
                APP_ATTRIBUTE.value_set(self.app.id),
                VERSION_ATTRIBUTE.value_set(self.app.version),
            ]
        )

    async def do_hook(self, activity: Activity, state: dict) -> int:
        if activity.sleep is not None:
            seconds = to_number(resolve(activity.sleep, self.ctx(activity.id)))
            if seconds == seconds and seconds > 0:  # NaN and <= 0 do not sleep
                await workflow.sleep(timedelta(seconds=seconds))
        payload: Any = None
        if activity.escalation is not None:
            payload = await self.escalate(activity)
        rules = self.graph.hook_rules_for(activity.id)
        if rules:
            payload = await self.wait_for_hook(activity, rules)
        carried = self.carried.pop(activity.id, {})
        state["hook"] = {
            "data": {**carried, **(payload or {})}
            if isinstance(payload, (dict, type(None)))
            else payload
        }
        state["output"]["data"] = state["hook"]["data"]
        return DEFAULT_CODE

    async def wait_for_hook(self, activity: Activity, rules: list) -> Any:
        ctx = self.ctx(activity.id)
        keys = [
            hook_key(topic, resolve(rule.job_key, ctx) if rule.job_key is not None else None)
            for topic, rule in rules
        ]
        self.set_waiting(self.waiting_keys + keys)
        found: dict[str, Any] = {}

        def matched() -> bool:
            for index, message in enumerate(self.hook_inbox):
                for topic, rule in rules:
                    if message.get("topic") == topic and self.hook_matches(
                        activity.id, rule, message
                    ):
                        found["message"] = self.hook_inbox.pop(index)
                        return True
            return False

        await workflow.wait_condition(matched)
        self.set_waiting([k for k in self.waiting_keys if k not in keys])
        return found["message"].get("data")

    def hook_matches(self, activity_id: str, rule: Any, message: dict) -> bool:
        if not rule.conditions.match:
            return True
        state = self.activities.setdefault(activity_id, {})
        previous = state.get("hook")
        state["hook"] = {"data": message.get("data")}
        try:
            return self.passes_conditions(rule.conditions, DEFAULT_CODE, activity_id)
        finally:
            if previous is None:
                state.pop("hook", None)
            else:
                state["hook"] = previous

    def set_waiting(self, keys: list[str]) -> None:
        self.waiting_keys = keys
        workflow.upsert_search_attributes([HOOKS_ATTRIBUTE.value_set(list(keys))])

    async def escalate(self, activity: Activity) -> Any:
        escalation = activity.escalation
        assert escalation is not None
        ctx = self.ctx(activity.id)
        row_id = f"{self.job['metadata']['jid']}:{activity.id}:{self.passes[activity.id]}"
        await workflow.execute_activity(
            ESCALATE_ACTIVITY,
            {
                "id": row_id,
                "app_id": self.app.id,
                "job_id": self.job["metadata"]["jid"],
                "activity_id": activity.id,
                "role": escalation.role,
                "type": escalation.type,
                "subtype": escalation.subtype,
                "priority": escalation.priority,
                "description": resolve(escalation.description, ctx),
                "metadata": resolve(escalation.metadata, ctx),
                "envelope": resolve(escalation.envelope, ctx),
            },
            start_to_close_timeout=SYSTEM_TIMEOUT,
        )
        await workflow.wait_condition(lambda: row_id in self.escalations)
        return self.escalations[row_id]

    async def do_cycle(self, activity: Activity, state: dict) -> int:
        ancestor = self.graph.activities[activity.ancestor]
        data = resolve(activity.input_maps, self.ctx(activity.id)) if activity.input_maps else None
        state["input"] = {"data": data or {}}
        for node in [ancestor.id, *self.graph.descendants(ancestor.id)]:
            self.arrivals.pop(node, None)
        # The remapped values become the ancestor's output on the next pass (what its
        # descendants read); without input maps the ancestor keeps its last output.
        previous = self.activities.get(ancestor.id, {}).get("output", {}).get("data") or {}
        self.carried[ancestor.id] = {**previous, **(data or {})}
        self.spawn(ancestor.id)
        return DEFAULT_CODE

    async def do_signal(self, activity: Activity, state: dict) -> int:
        ctx = self.ctx(activity.id)
        data = resolve(activity.signal_maps, ctx) if activity.signal_maps else {}
        key = resolve(activity.key_value, ctx) if activity.key_value is not None else None
        request = {
            "app_id": self.app.id,
            "topic": activity.topic,
            "data": data,
            "key": key,
            "all": activity.subtype == "all",
        }
        state["input"] = {"data": request}
        signalled = await workflow.execute_activity(
            SIGNAL_ACTIVITY, request, start_to_close_timeout=SYSTEM_TIMEOUT, result_type=list
        )
        state["output"]["data"] = {"signaled": signalled}
        return DEFAULT_CODE

    async def do_interrupt(self, activity: Activity, state: dict) -> int:
        ctx = self.ctx(activity.id)
        target = resolve(activity.target, ctx) if activity.target is not None else None
        reason = resolve(activity.reason, ctx) if activity.reason is not None else "interrupted"
        jid = self.job["metadata"]["jid"]
        if target in (None, "", jid):
            self.job["metadata"]["err"] = {"code": activity.code, "message": str(reason)}
            if activity.throw:
                raise ApplicationError(
                    str(reason),
                    {"code": activity.code},
                    type="HotMeshInterrupted",
                    non_retryable=True,
                )
            raise _Stop()
        await workflow.execute_activity(
            INTERRUPT_ACTIVITY,
            {"job_id": str(target), "reason": str(reason)},
            start_to_close_timeout=SYSTEM_TIMEOUT,
        )
        state["output"]["data"] = {"interrupted": str(target)}
        return DEFAULT_CODE


def truthy(value: Any) -> bool:
    return js_truthy(value)
