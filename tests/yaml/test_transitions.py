"""Transition forms on the engine: unconditional, fan-out (parallel), fan-in (a node
with several parents waits for all of them), ``match`` conditions with ``and``/``or``
gates, status ``code`` conditions, and converging conditional branches (a join whose
untaken parents are skipped rather than waited for)."""

from __future__ import annotations

import asyncio


async def test_fan_out_runs_in_parallel_and_fan_in_waits_for_every_parent(mesh):
    started: list[str] = []
    both_started = asyncio.Event()

    async def branch(data: dict) -> dict:
        started.append(data["name"])
        if len(started) == 2:
            both_started.set()
        # each branch finishes only once the other has started: they run side by side
        await asyncio.wait_for(both_started.wait(), 20)
        return {"value": data["name"].upper()}

    joined: list[dict] = []

    def join(data: dict) -> dict:
        joined.append(data)
        return {"joined": f"{data['left']}+{data['right']}"}

    hm = await mesh(
        """
  graphs:
    - subscribes: f.fan
      activities:
        t1:
          type: trigger
        left:
          type: worker
          topic: f.branch
          input:
            maps:
              name: left
        right:
          type: worker
          topic: f.branch
          input:
            maps:
              name: right
        join:
          type: worker
          topic: f.join
          input:
            maps:
              left: '{left.output.data.value}'
              right: '{right.output.data.value}'
          job:
            maps:
              result: '{$self.output.data.joined}'
      transitions:
        t1:
          - to: left
          - to: right
        left:
          - to: join
        right:
          - to: join
""",
        {"f.branch": branch, "f.join": join},
    )
    job = await hm.pubsub("f.fan", {})
    assert sorted(started) == ["left", "right"]
    assert joined == [{"left": "LEFT", "right": "RIGHT"}]  # ran once, after both
    assert job.data == {"result": "LEFT+RIGHT"}


GATES = """
  graphs:
    - subscribes: g.gates
      activities:
        t1:
          type: trigger
        both:
          type: activity
          job:
            maps:
              both: true
        either:
          type: activity
          job:
            maps:
              either: true
        plain:
          type: activity
          job:
            maps:
              plain: true
      transitions:
        t1:
          - to: both
            conditions:
              match:
                - expected: '{t1.output.data.a}'
                  actual: 'y'
                - expected: '{t1.output.data.b}'
                  actual: 'y'
          - to: either
            conditions:
              gate: or
              match:
                - expected: '{t1.output.data.a}'
                  actual: 'y'
                - expected: '{t1.output.data.b}'
                  actual: 'y'
          - to: plain
"""


async def test_and_or_gates(mesh):
    hm = await mesh(GATES)
    expectations = {
        ("y", "y"): {"both": True, "either": True, "plain": True},
        ("y", "n"): {"either": True, "plain": True},
        ("n", "y"): {"either": True, "plain": True},
        ("n", "n"): {"plain": True},
    }
    for (a, b), expected in expectations.items():
        job = await hm.pubsub("g.gates", {"a": a, "b": b})
        assert job.data == expected, (a, b)


async def test_converging_branches_join_after_the_taken_branch_only(mesh):
    hm = await mesh(
        """
  graphs:
    - subscribes: g.converge
      activities:
        t1:
          type: trigger
        big:
          type: activity
          job:
            maps:
              size: big
        small:
          type: activity
          job:
            maps:
              size: small
        done:
          type: activity
          job:
            maps:
              done: '{$job.data.size}'
      transitions:
        t1:
          - to: big
            conditions:
              match:
                - expected: true
                  actual:
                    '@pipe':
                      - ['{t1.output.data.n}', 10]
                      - ['{@number.gt}']
          - to: small
            conditions:
              match:
                - expected: false
                  actual:
                    '@pipe':
                      - ['{t1.output.data.n}', 10]
                      - ['{@number.gt}']
        big:
          - to: done
        small:
          - to: done
"""
    )
    assert (await hm.pubsub("g.converge", {"n": 50})).data == {"size": "big", "done": "big"}
    assert (await hm.pubsub("g.converge", {"n": 5})).data == {"size": "small", "done": "small"}


async def test_an_untaken_transition_skips_the_whole_branch(mesh):
    ran: list[str] = []

    def record(data: dict) -> dict:
        ran.append(data["step"])
        return {}

    hm = await mesh(
        """
  graphs:
    - subscribes: g.skip
      activities:
        t1:
          type: trigger
        a:
          type: worker
          topic: g.record
          input:
            maps:
              step: a
        b:
          type: worker
          topic: g.record
          input:
            maps:
              step: b
      transitions:
        t1:
          - to: a
            conditions:
              match:
                - expected: go
                  actual: '{t1.output.data.mode}'
        a:
          - to: b
""",
        {"g.record": record},
    )
    stopped = await hm.pubsub("g.skip", {"mode": "stop"})
    assert stopped.metadata["js"] == 0  # completed: nothing left to run
    assert ran == []
    await hm.pubsub("g.skip", {"mode": "go"})
    assert ran == ["a", "b"]
