"""Where worker steps run: a HotMesh serves all its topics with one engine Worker (each
topic still on its own task queue), so a step whose topic this process serves is
handed over as the graph's workflow task completes and reported together with the
next one, while a topic served only by another process still runs there."""

from __future__ import annotations

import asyncio
import collections

from hotmesh_temporal.hotmesh import HotMesh, WorkerSpec

FOUR_STEPS = """
  graphs:
    - subscribes: ws.four
      activities:
        t1:
          type: trigger
        s1:
          type: worker
          topic: ws.s1
          input:
            maps:
              n: '{t1.output.data.n}'
        s2:
          type: worker
          topic: ws.s2
          input:
            maps:
              n: '{s1.output.data.n}'
        s3:
          type: worker
          topic: ws.s3
          input:
            maps:
              n: '{s2.output.data.n}'
        s4:
          type: worker
          topic: ws.s4
          input:
            maps:
              n: '{s3.output.data.n}'
          job:
            maps:
              n: '{$self.output.data.n}'
      transitions:
        t1:
          - to: s1
        s1:
          - to: s2
        s2:
          - to: s3
        s3:
          - to: s4
"""


def _step(site: str, topic: str, ran: collections.Counter):
    async def step(data: dict) -> dict:
        ran[(site, topic, data["job"])] += 1
        return {"n": data["n"] + 1, "job": data["job"]}

    return step


def _graph_passing_job() -> str:
    # Each step's input also carries the job's number, so a step's runs can be counted
    # per job.
    return (
        FOUR_STEPS.replace(
            "              n: '{t1.output.data.n}'",
            "              n: '{t1.output.data.n}'\n              job: '{t1.output.data.job}'",
        )
        .replace(
            "              n: '{s1.output.data.n}'",
            "              n: '{s1.output.data.n}'\n              job: '{s1.output.data.job}'",
        )
        .replace(
            "              n: '{s2.output.data.n}'",
            "              n: '{s2.output.data.n}'\n              job: '{s2.output.data.job}'",
        )
        .replace(
            "              n: '{s3.output.data.n}'",
            "              n: '{s3.output.data.n}'\n              job: '{s3.output.data.job}'",
        )
    )


async def test_topics_served_here_are_handed_over_and_reported_with_the_next_step(client, mesh):
    ran: collections.Counter = collections.Counter()
    hm = await mesh(
        _graph_passing_job(),
        {f"ws.s{i}": _step("here", f"ws.s{i}", ran) for i in (1, 2, 3, 4)},
    )
    store = (await client._engine()).store
    before = dict(store.calls)
    assert (await hm.pubsub("ws.four", {"n": 0, "job": 1}, timeout=60)).data == {"n": 4}
    after = dict(store.calls)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    # One workflow task starts the graph; each step's report then carries the graph's
    # next workflow task (the engine's run-ahead), as for a code workflow's activities
    # on its own queue: no step is reported on its own.
    assert delta.get("complete_activity_run_ahead") == 4
    assert delta.get("complete_workflow_task") == 1
    assert delta.get("complete_activity_task", 0) == 0
    assert sorted(ran) == [("here", f"ws.s{i}", 1) for i in (1, 2, 3, 4)]


async def test_topics_served_only_elsewhere_still_run_there_once_each(client, mesh):
    ran: collections.Counter = collections.Counter()
    hm = await mesh(
        _graph_passing_job(),
        {"ws.s1": _step("main", "ws.s1", ran), "ws.s3": _step("main", "ws.s3", ran)},
    )
    # Another process with no engine worker serves the other two topics, on their own
    # queues, with its one Worker.
    other = await HotMesh.init(
        app_id=hm.app_id,
        engine=client,
        engine_worker=False,
        workers=[
            WorkerSpec("ws.s2", _step("other", "ws.s2", ran)),
            WorkerSpec("ws.s4", _step("other", "ws.s4", ran)),
        ],
    )
    try:
        jobs = await asyncio.gather(
            *(hm.pubsub("ws.four", {"n": job, "job": job}, timeout=60) for job in range(12))
        )
    finally:
        await other.stop()
    assert [job.data for job in jobs] == [{"n": job + 4} for job in range(12)]
    # Every step of every job ran once, in the process serving its topic.
    expected = {
        (site, f"ws.s{i}", job): 1
        for job in range(12)
        for i, site in ((1, "main"), (2, "other"), (3, "main"), (4, "other"))
    }
    assert dict(ran) == expected
