"""Every activity type, run on the engine: trigger, worker, await (waiting and
fire-and-forget), hook (sleep, signal wait, escalation, cycle re-entry), cycle,
signal (one and all), interrupt (self and another job) and plain mapping activities."""

from __future__ import annotations

import asyncio

import pytest

from hotmesh_temporal.api.enums.v1 import EventType
from hotmesh_temporal.client import WorkflowExecutionStatus, WorkflowFailureError
from hotmesh_temporal.hotmesh import WorkerResult


async def wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def test_trigger_only_graph_returns_its_job_data(mesh):
    hm = await mesh(
        """
  graphs:
    - subscribes: t.only
      activities:
        t1:
          type: trigger
          job:
            maps:
              echoed: '{$self.output.data.a}'
              jid: '{$job.metadata.jid}'
"""
    )
    job = await hm.pubsub("t.only", {"a": "hello"}, job_id="only-1")
    assert job.data == {"echoed": "hello", "jid": "only-1"}
    assert job.metadata["jid"] == "only-1"
    assert job.metadata["vrs"] == "1"
    assert job.metadata["js"] == 0


async def test_worker_maps_input_and_output_and_runs_sync_or_async(mesh):
    seen: list[dict] = []

    def shout(data: dict) -> dict:
        seen.append(data)
        return {"y": data["x"].upper()}

    async def exclaim(data: dict) -> dict:
        return {"z": data["y"] + "!"}

    hm = await mesh(
        """
  graphs:
    - subscribes: w.run
      activities:
        t1:
          type: trigger
        a1:
          type: worker
          topic: w.shout
          input:
            maps:
              x: '{t1.output.data.a}'
        a2:
          type: worker
          topic: w.exclaim
          input:
            maps:
              y: '{a1.output.data.y}'
          job:
            maps:
              result: '{$self.output.data.z}'
              first_input: '{a1.input.data.x}'
      transitions:
        t1:
          - to: a1
        a1:
          - to: a2
""",
        {"w.shout": shout, "w.exclaim": exclaim},
    )
    job = await hm.pubsub("w.run", {"a": "hi"})
    assert job.data == {"result": "HI!", "first_input": "hi"}
    assert seen == [{"x": "hi"}]


async def test_worker_status_code_and_exhausted_retries_branch(mesh):
    attempts: list[int] = []

    def lookup(data: dict):
        if data["id"] == "missing":
            return WorkerResult(code=404, data={"why": "no such id"})
        return {"found": data["id"]}

    def flaky(data: dict) -> dict:
        attempts.append(1)
        raise RuntimeError("downstream is down")

    hm = await mesh(
        """
  graphs:
    - subscribes: w.codes
      activities:
        t1:
          type: trigger
        find:
          type: worker
          topic: w.lookup
          input:
            maps:
              id: '{t1.output.data.id}'
        found:
          type: activity
          job:
            maps:
              outcome: '{find.output.data.found}'
        notfound:
          type: activity
          job:
            maps:
              outcome: '{find.output.data.why}'
              code: '{find.output.metadata.code}'
        call:
          type: worker
          topic: w.flaky
          retry:
            maximum_attempts: 2
            initial_interval: 0.05
        gaveup:
          type: activity
          job:
            maps:
              error: '{call.output.data.message}'
      transitions:
        t1:
          - to: find
        find:
          - to: found
          - to: notfound
            conditions:
              code: 404
          - to: call
            conditions:
              code: [200, 404]
        call:
          - to: gaveup
            conditions:
              code: 500
""",
        {"w.lookup": lookup, "w.flaky": flaky},
    )
    ok = await hm.pubsub("w.codes", {"id": "k1"})
    assert ok.data["outcome"] == "k1"
    assert "downstream is down" in ok.data["error"]
    assert len(attempts) == 2  # retry.maximum_attempts

    missing = await hm.pubsub("w.codes", {"id": "missing"})
    assert missing.data["outcome"] == "no such id"
    assert missing.data["code"] == 404


async def test_unhandled_failure_status_fails_the_job(mesh):
    def broken(data: dict) -> dict:
        raise ValueError("bad input")

    hm = await mesh(
        """
  graphs:
    - subscribes: w.fail
      activities:
        t1:
          type: trigger
        a1:
          type: worker
          topic: w.broken
          retry:
            maximum_attempts: 1
      transitions:
        t1:
          - to: a1
""",
        {"w.broken": broken},
    )
    jid = await hm.pub("w.fail", {})
    with pytest.raises(WorkflowFailureError) as failure:
        await hm.result(jid, timeout=30)
    assert "status 500" in str(failure.value.cause)
    assert await hm.get_status(jid) == -1


async def test_await_runs_a_child_graph_and_fire_and_forget_does_not_wait(mesh):
    gate = asyncio.Event()

    async def slow(data: dict) -> dict:
        await gate.wait()
        return {"done": True}

    hm = await mesh(
        """
  graphs:
    - subscribes: p.parent
      activities:
        t1:
          type: trigger
        call:
          type: await
          topic: p.child
          input:
            maps:
              n: '{t1.output.data.n}'
          job:
            maps:
              doubled: '{$self.output.data.doubled}'
        launch:
          type: await
          topic: p.slow
          await: false
          job:
            maps:
              launched: '{$self.output.data.job_id}'
      transitions:
        t1:
          - to: call
          - to: launch
    - subscribes: p.child
      activities:
        t2:
          type: trigger
          job:
            maps:
              doubled:
                '@pipe':
                  - ['{$self.output.data.n}', 2]
                  - ['{@math.multiply}']
    - subscribes: p.slow
      activities:
        t3:
          type: trigger
        s1:
          type: worker
          topic: p.slow.work
      transitions:
        t3:
          - to: s1
""",
        {"p.slow.work": slow},
    )
    job = await hm.pubsub("p.parent", {"n": 21}, job_id="parent-1")
    assert job.data["doubled"] == 42
    child_id = job.data["launched"]
    assert child_id == "parent-1-launch-1"
    # the parent completed while the fire-and-forget child still runs
    assert await hm.get_status(child_id) > 0
    gate.set()
    child = await hm.result(child_id, timeout=30)
    assert child.metadata["pj"] == "parent-1"


async def test_hook_sleep_is_a_durable_timer(mesh, client):
    hm = await mesh(
        """
  graphs:
    - subscribes: h.sleep
      activities:
        t1:
          type: trigger
        nap:
          type: hook
          sleep:
            '@pipe':
              - ['{t1.output.data.seconds}', 2]
              - ['{@math.divide}']
          job:
            maps:
              woke: true
      transitions:
        t1:
          - to: nap
"""
    )
    job = await hm.pubsub("h.sleep", {"seconds": 0.4}, job_id="sleep-1")
    assert job.data == {"woke": True}
    history = await client.get_workflow_handle("sleep-1").fetch_history()
    kinds = [EventType.Name(e.event_type) for e in history.events]
    assert "EVENT_TYPE_TIMER_STARTED" in kinds and "EVENT_TYPE_TIMER_FIRED" in kinds


HOOK_GRAPH = """
  graphs:
    - subscribes: h.order
      activities:
        t1:
          type: trigger
        approval:
          type: hook
          job:
            maps:
              approved_by: '{$self.hook.data.by}'
      transitions:
        t1:
          - to: approval
      hooks:
        order.approved:
          - to: approval
            conditions:
              match:
                - expected: '{t1.output.data.order}'
                  actual: '{$self.hook.data.order}'
    - subscribes: h.approve
      activities:
        t9:
          type: trigger
        send:
          type: signal
          subtype: one
          topic: order.approved
          signal:
            maps:
              order: '{t9.output.data.order}'
              by: '{t9.output.data.by}'
      transitions:
        t9:
          - to: send
"""


async def test_hook_waits_for_the_signal_that_matches_its_job(mesh):
    hm = await mesh(HOOK_GRAPH)
    first = await hm.pub("h.order", {"order": "A-1"})
    second = await hm.pub("h.order", {"order": "B-2"})

    async def both_waiting() -> bool:
        return len(await hm._waiting_jobs("order.approved", {}, "A-1", first_only=False)) == 1 and (
            len(await hm._waiting_jobs("order.approved", {}, "B-2", first_only=False)) == 1
        )

    await wait_until(both_waiting)
    assert await hm.signal("order.approved", {"order": "nobody", "by": "x"}) is None
    assert await hm.signal("order.approved", {"order": "B-2", "by": "ann"}) == second
    assert (await hm.result(second, timeout=30)).data == {"approved_by": "ann"}
    assert await hm.get_status(first) > 0  # still waiting: the signal was not its own

    # The signal activity of another graph resumes the first job.
    sender = await hm.pubsub("h.approve", {"order": "A-1", "by": "bob"})
    assert sender.metadata["js"] == 0
    assert (await hm.result(first, timeout=30)).data == {"approved_by": "bob"}


async def test_signal_all_reaches_every_waiting_job(mesh):
    hm = await mesh(
        """
  graphs:
    - subscribes: h.wait
      activities:
        t1:
          type: trigger
        gate:
          type: hook
          job:
            maps:
              released: '{$self.hook.data.batch}'
      transitions:
        t1:
          - to: gate
      hooks:
        batch.release:
          - to: gate
            conditions:
              match:
                - expected: '{t1.output.data.batch}'
                  actual: '{$self.hook.data.batch}'
    - subscribes: h.release
      activities:
        r1:
          type: trigger
        all:
          type: signal
          subtype: all
          topic: batch.release
          key_value: '{r1.output.data.batch}'
          signal:
            maps:
              batch: '{r1.output.data.batch}'
          job:
            maps:
              signaled: '{$self.output.data.signaled}'
      transitions:
        r1:
          - to: all
"""
    )
    jobs = [await hm.pub("h.wait", {"batch": "b7"}) for _ in range(3)]
    other = await hm.pub("h.wait", {"batch": "b8"})

    async def all_waiting() -> bool:
        return len(await hm._waiting_jobs("batch.release", {}, "b7", first_only=False)) == 3

    await wait_until(all_waiting)
    release = await hm.pubsub("h.release", {"batch": "b7"})
    assert sorted(release.data["signaled"]) == sorted(jobs)
    for jid in jobs:
        assert (await hm.result(jid, timeout=30)).data == {"released": "b7"}
    assert await hm.get_status(other) > 0
    await hm.interrupt(other, "test over")


async def test_cycle_reenters_its_ancestor_until_the_condition_ends_it(mesh):
    calls: list[int] = []

    def count(data: dict) -> dict:
        calls.append(data["n"])
        return {"n": data["n"] + 1}

    hm = await mesh(
        """
  graphs:
    - subscribes: c.loop
      activities:
        t1:
          type: trigger
        top:
          type: hook
          cycle: true
        step:
          type: worker
          topic: c.count
          input:
            maps:
              n:
                '@pipe':
                  - ['{top.output.data.n}', '{t1.output.data.start}']
                  - ['{@conditional.nullish}']
          job:
            maps:
              n: '{$self.output.data.n}'
        again:
          type: cycle
          ancestor: top
          input:
            maps:
              n: '{step.output.data.n}'
      transitions:
        t1:
          - to: top
        top:
          - to: step
        step:
          - to: again
            conditions:
              match:
                - expected: true
                  actual:
                    '@pipe':
                      - ['{step.output.data.n}', 5]
                      - ['{@number.lt}']
""",
        {"c.count": count},
    )
    job = await hm.pubsub("c.loop", {"start": 1})
    assert calls == [1, 2, 3, 4]
    assert job.data == {"n": 5}


async def test_interrupt_self_throw_and_quiet_and_another_job(mesh):
    hm = await mesh(
        """
  graphs:
    - subscribes: i.self
      activities:
        t1:
          type: trigger
        stop:
          type: interrupt
          reason: '{t1.output.data.why}'
        never:
          type: activity
          job:
            maps:
              reached: true
      transitions:
        t1:
          - to: stop
        stop:
          - to: never
    - subscribes: i.quiet
      activities:
        q1:
          type: trigger
          job:
            maps:
              before: true
        halt:
          type: interrupt
          throw: false
        after:
          type: activity
          job:
            maps:
              reached: true
      transitions:
        q1:
          - to: halt
        halt:
          - to: after
    - subscribes: i.other
      activities:
        o1:
          type: trigger
        kill:
          type: interrupt
          target: '{o1.output.data.target}'
          reason: stopped by i.other
      transitions:
        o1:
          - to: kill
    - subscribes: i.victim
      activities:
        v1:
          type: trigger
        forever:
          type: hook
          sleep: 3600
      transitions:
        v1:
          - to: forever
"""
    )
    jid = await hm.pub("i.self", {"why": "customer cancelled"})
    with pytest.raises(WorkflowFailureError) as failure:
        await hm.result(jid, timeout=30)
    assert "customer cancelled" in str(failure.value.cause)

    quiet = await hm.pubsub("i.quiet", {})
    assert quiet.data == {"before": True}
    assert quiet.metadata["js"] == -1

    victim = await hm.pub("i.victim", {})
    await hm.pubsub("i.other", {"target": victim})
    description = await hm.client.get_workflow_handle(victim).describe()
    assert description.status == WorkflowExecutionStatus.TERMINATED


async def test_escalation_row_is_claimed_and_resolved_into_the_hook(mesh):
    hm = await mesh(
        """
  graphs:
    - subscribes: e.review
      activities:
        t1:
          type: trigger
        review:
          type: hook
          escalation:
            role: reviewer
            type: refund
            priority: 5
            description: 'Refund {t1.output.data.amount} for {t1.output.data.customer}'
            metadata:
              amount: '{t1.output.data.amount}'
          job:
            maps:
              decision: '{$self.hook.data.decision}'
      transitions:
        t1:
          - to: review
"""
    )
    jid = await hm.pub("e.review", {"amount": 40, "customer": "ada"})

    async def opened() -> bool:
        return bool(await hm.list_escalations(role="reviewer"))

    await wait_until(opened)
    [row] = await hm.list_escalations(role="reviewer", status="pending")
    assert row["job_id"] == jid
    assert row["description"] == "Refund 40 for ada"
    assert row["metadata"] == {"amount": 40}
    assert row["priority"] == 5
    claimed = await hm.claim_escalation(row["id"], "sam")
    assert claimed is not None and claimed["claimed_by"] == "sam"
    assert await hm.claim_escalation(row["id"], "kim") is None  # held by sam
    await asyncio.sleep(0.01)
    taken_over = await hm.claim_escalation(row["id"], "kim", expire_seconds=0.001)
    assert taken_over is not None and taken_over["claimed_by"] == "kim"  # sam's claim expired
    assert [r["id"] for r in await hm.list_escalations(status="claimed")] == [row["id"]]
    assert await hm.resolve_escalation(row["id"], {"decision": "approve"}) is True
    assert await hm.resolve_escalation(row["id"], {"decision": "again"}) is False
    assert (await hm.result(jid, timeout=30)).data == {"decision": "approve"}
    assert await hm.list_escalations(role="reviewer", status="pending") == []


async def test_a_mapping_that_fails_on_the_data_fails_the_job_with_a_clear_error(mesh):
    hm = await mesh(
        """
  graphs:
    - subscribes: m.bad
      activities:
        t1:
          type: trigger
          job:
            maps:
              first:
                '@pipe':
                  - ['{$self.output.data.items}', 0]
                  - ['{@array.get}']
"""
    )
    assert (await hm.pubsub("m.bad", {"items": ["a"]})).data == {"first": "a"}
    jid = await hm.pub("m.bad", {"items": "not a list"})
    with pytest.raises(WorkflowFailureError) as failure:
        await hm.result(jid, timeout=30)
    assert "activity 't1'" in str(failure.value.cause)
    assert "expected an array" in str(failure.value.cause)


async def test_workers_in_hotmesh_shape_and_bad_worker_lists(client, mesh):
    from hotmesh_temporal.hotmesh import HotMesh

    hm = await mesh(
        """
  graphs:
    - subscribes: k.shape
      activities:
        t1:
          type: trigger
        a1:
          type: worker
          topic: k.double
          input:
            maps:
              n: '{t1.output.data.n}'
          job:
            maps:
              n: '{$self.output.data.n}'
      transitions:
        t1:
          - to: a1
"""
    )
    worker = await HotMesh.init(
        app_id=hm.app_id,
        engine=client,
        engine_worker=False,
        workers=[{"topic": "k.double", "callback": lambda d: {"n": d["n"] * 2}}],
    )
    try:
        assert (await hm.pubsub("k.shape", {"n": 4})).data == {"n": 8}
    finally:
        await worker.stop()
    with pytest.raises(TypeError, match="a worker is a WorkerSpec"):
        await HotMesh.init(app_id=hm.app_id, engine=client, workers=[("k.double", print)])
    with pytest.raises(ValueError, match="more than one worker"):
        await HotMesh.init(
            app_id=hm.app_id,
            engine=client,
            workers=[{"topic": "x", "callback": print}, {"topic": "x", "callback": print}],
        )


async def test_hook_keys_with_quotes_and_backslashes_still_correlate(mesh):
    hm = await mesh(HOOK_GRAPH)
    awkward = 'O\'Brien \\ "7" | x'
    jid = await hm.pub("h.order", {"order": awkward})

    async def waiting() -> bool:
        return bool(await hm._waiting_jobs("order.approved", {}, awkward, first_only=True))

    await wait_until(waiting)
    assert await hm.signal("order.approved", {"order": awkward, "by": "zoe"}) == jid
    assert (await hm.result(jid, timeout=30)).data == {"approved_by": "zoe"}
