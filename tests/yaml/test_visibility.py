"""A YAML run is a workflow execution like any other: listable, its history reads as
activities (typed by worker topic) and timers; HotMesh's reads (status, state,
export) work on its job id and on handles of code workflows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.api.enums.v1 import EventType
from hotmesh_temporal.worker import Worker

THREE_STEPS = """
  graphs:
    - subscribes: v.steps
      activities:
        t1:
          type: trigger
        first:
          type: worker
          topic: v.first
        pause:
          type: hook
          sleep: 0.2
        second:
          type: worker
          topic: v.second
          job:
            maps:
              done: '{$self.output.data.ok}'
      transitions:
        t1:
          - to: first
        first:
          - to: pause
        pause:
          - to: second
"""


async def test_a_yaml_run_is_listed_and_its_history_reads_as_activities_and_timers(mesh, client):
    hm = await mesh(
        THREE_STEPS, {"v.first": lambda d: {"n": 1}, "v.second": lambda d: {"ok": True}}
    )
    jid = f"vis-{uuid.uuid4().hex[:8]}"
    job = await hm.pubsub("v.steps", {}, job_id=jid)
    assert job.data == {"done": True}

    listed = [e async for e in client.list_workflows(f"HotMeshApp = '{hm.app_id}'")]
    assert [(e.id, e.workflow_type, e.status.name) for e in listed] == [
        (jid, "v.steps", "COMPLETED")
    ]
    assert [
        e.id
        async for e in client.list_workflows(f"WorkflowType = 'v.steps' AND WorkflowId = '{jid}'")
    ] == [jid]

    history = await client.get_workflow_handle(jid).fetch_history()
    names = [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events]
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == ["v.first", "v.second"]
    assert names.index("TIMER_STARTED") > names.index("ACTIVITY_TASK_COMPLETED")
    assert names.count("TIMER_FIRED") == 1
    assert names[-1] == "WORKFLOW_EXECUTION_COMPLETED"

    exported = await hm.export(jid)
    assert exported["status"] == 0
    assert exported["data"] == {"done": True}
    assert exported["state"]["metadata"]["vrs"] == "1"
    timeline = [(e["type"], e.get("activity_type")) for e in exported["timeline"]]
    assert ("ACTIVITY_TASK_SCHEDULED", "v.first") in timeline
    assert ("TIMER_STARTED", None) in timeline
    assert set(await hm.export(jid, allow=["status"])) == {"job_id", "status"}
    with pytest.raises(ValueError, match="export allow"):
        await hm.export(jid, allow=["secrets"])
    assert (await hm.get_state(jid))["data"] == {"done": True}


@activity.defn
async def add_one(n: int) -> int:
    return n + 1


@workflow.defn
class Waits:
    @workflow.run
    async def run(self, n: int) -> int:
        n = await workflow.execute_activity(
            add_one, n, start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.wait_condition(lambda: self.go)
        return n

    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def release(self) -> None:
        self.go = True


async def test_status_state_export_on_a_code_workflow_handle(client):
    queue = f"extras-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[Waits], activities=[add_one]):
        handle = await client.start_workflow(
            Waits.run, 41, id=f"extras-{uuid.uuid4()}", task_queue=queue
        )
        while not any(
            EventType.Name(e.event_type) == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED"
            for e in (await handle.fetch_history()).events
        ):
            await asyncio.sleep(0.05)
        assert await handle.status() == 1  # running, no open activity
        running = await handle.state()
        assert running["metadata"]["status"] == "RUNNING" and running["data"] is None
        await handle.signal(Waits.release)
        assert await handle.result() == 42
    assert await handle.status() == 0
    state = await handle.state()
    assert state["data"] == 42 and state["metadata"]["type"] == "Waits"
    exported = await handle.export(allow=["timeline", "data"])
    assert exported["data"] == 42
    assert [e["activity_type"] for e in exported["timeline"] if "activity_type" in e] == ["add_one"]


async def test_yaml_histories_replay_deterministically(mesh, client):
    """The interpreter is ordinary workflow code: a Replayer re-runs a graph's history
    (fan-out, a timer, a signal-fed hook, a child graph) without a mismatch."""
    from hotmesh_temporal.hotmesh.interpreter import GraphRun
    from hotmesh_temporal.worker import Replayer

    hm = await mesh(
        """
  graphs:
    - subscribes: r.main
      activities:
        t1:
          type: trigger
        left:
          type: worker
          topic: r.work
          input:
            maps:
              side: left
        right:
          type: hook
          sleep: 0.1
        wait:
          type: hook
        child:
          type: await
          topic: r.child
          input:
            maps:
              got: '{wait.hook.data.value}'
          job:
            maps:
              result: '{$self.output.data.echo}'
              now: {'@pipe': [['{@date.now}'], ['{@date.toISOString}']]}
      transitions:
        t1:
          - to: left
          - to: right
        left:
          - to: wait
        right:
          - to: wait
        wait:
          - to: child
      hooks:
        r.go:
          - to: wait
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.jid}'
    - subscribes: r.child
      activities:
        c1:
          type: trigger
          job:
            maps:
              echo: '{$self.output.data.got}'
""",
        {"r.work": lambda d: {"side": d["side"]}},
    )
    jid = await hm.pub("r.main", {})
    for _ in range(600):
        if await hm.signal("r.go", {"jid": jid, "value": 7}):
            break
        await asyncio.sleep(0.1)
    job = await hm.result(jid, timeout=30)
    assert job.data["result"] == 7
    history = await client.get_workflow_handle(jid).fetch_history()
    await Replayer(workflows=[GraphRun]).replay_workflow(history)
    child = await client.get_workflow_handle(f"{jid}-child-1").fetch_history()
    await Replayer(workflows=[GraphRun]).replay_workflow(child)
