"""sub / psub: subscribers hear the output of every job of a graph that ``publishes``
their topic, once each, from the moment they subscribe."""

from __future__ import annotations

import asyncio

from hotmesh_temporal.hotmesh import JobResult

GRAPHS = """
  graphs:
    - subscribes: ps.order
      publishes: orders.done
      activities:
        t1:
          type: trigger
          job:
            maps:
              id: '{$self.output.data.id}'
    - subscribes: ps.refund
      publishes: refunds.done
      activities:
        t2:
          type: trigger
          job:
            maps:
              refund: '{$self.output.data.id}'
    - subscribes: ps.quiet
      activities:
        t3:
          type: trigger
"""


async def test_sub_and_psub_receive_completed_jobs_once(mesh):
    hm = await mesh(GRAPHS)
    before = await hm.pubsub("ps.order", {"id": "early"})  # before anyone subscribed
    exact: list[JobResult] = []
    pattern: list[JobResult] = []
    unsub_exact = await hm.sub("orders.done", exact.append, poll_interval=0.05)

    async def on_any(job: JobResult) -> None:
        pattern.append(job)

    unsub_pattern = await hm.psub("*.done", on_any, poll_interval=0.05)
    try:
        await hm.pubsub("ps.order", {"id": "o1"})
        await hm.pubsub("ps.refund", {"id": "r1"})
        await hm.pubsub("ps.quiet", {})
        await hm.pubsub("ps.order", {"id": "o2"})
        for _ in range(400):
            if len(exact) >= 2 and len(pattern) >= 3:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # nothing more arrives: each job is delivered once
    finally:
        await unsub_exact()
        await unsub_pattern()
    assert sorted(j.data["id"] for j in exact) == ["o1", "o2"]
    assert sorted(str(j.data) for j in pattern) == sorted(
        [str({"id": "o1"}), str({"id": "o2"}), str({"refund": "r1"})]
    )
    assert before.data == {"id": "early"}
    assert all(j.metadata["jid"] != before.metadata["jid"] for j in exact)


async def test_a_failing_subscriber_keeps_its_subscription(mesh):
    hm = await mesh(GRAPHS)
    heard: list[str] = []

    def flaky(job: JobResult) -> None:
        heard.append(job.data["id"])
        if len(heard) == 1:
            raise RuntimeError("subscriber bug")

    unsub = await hm.sub("orders.done", flaky, poll_interval=0.05)
    try:
        await hm.pubsub("ps.order", {"id": "first"})
        for _ in range(400):
            if heard:
                break
            await asyncio.sleep(0.05)
        await hm.pubsub("ps.order", {"id": "second"})
        for _ in range(400):
            if len(heard) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await unsub()
    assert heard == ["first", "second"]
