"""Deploy/activate: several versions deployed, one active for the whole fleet at once;
runs in flight finish on the version they started with."""

from __future__ import annotations

import asyncio

import pytest

from hotmesh_temporal.hotmesh import HotMesh, HotMeshError


def version_body(label: str, extra_step: bool) -> str:
    step = (
        """
        enrich:
          type: worker
          topic: ver.enrich
          job:
            maps:
              enriched: '{$self.output.data.tag}'"""
        if extra_step
        else ""
    )
    edge = (
        """
        approve:
          - to: enrich"""
        if extra_step
        else ""
    )
    return f"""
  graphs:
    - subscribes: ver.run
      activities:
        t1:
          type: trigger
        approve:
          type: hook
          job:
            maps:
              label: {label}
              approved: '{{$self.hook.data.ok}}'{step}
      transitions:
        t1:
          - to: approve{edge}
      hooks:
        ver.approve:
          - to: approve
            conditions:
              match:
                - expected: '{{$job.metadata.jid}}'
                  actual: '{{$self.hook.data.jid}}'
"""


async def waiting(hm: HotMesh, jid: str) -> None:
    for _ in range(600):
        if await hm._waiting_jobs("ver.approve", {}, jid, first_only=True):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{jid} never waited on its hook")


async def test_activation_switches_new_runs_while_runs_in_flight_keep_their_version(
    mesh, client, manifest
):
    hm = await mesh(version_body("v1", extra_step=False), {"ver.enrich": lambda d: {"tag": "new"}})
    # A second member of the fleet: no engine worker of its own, reads the same rows.
    other = await HotMesh.init(app_id=hm.app_id, engine=client, engine_worker=False)
    try:
        old_job = await hm.pub("ver.run", {})
        await waiting(hm, old_job)

        await hm.deploy(manifest(hm.app_id, version_body("v2", extra_step=True), version="2"))
        assert await other.active_version() == "1"  # deployed is not active
        await hm.activate("2")
        assert await other.active_version() == "2"

        new_job = await other.pub("ver.run", {})  # the other member starts v2 at once
        await waiting(hm, new_job)

        assert await hm.signal("ver.approve", {"jid": old_job, "ok": True}) == old_job
        assert await hm.signal("ver.approve", {"jid": new_job, "ok": True}) == new_job
        old = await hm.result(old_job, timeout=30)
        new = await hm.result(new_job, timeout=30)
        assert old.metadata["vrs"] == "1" and old.data == {"label": "v1", "approved": True}
        assert new.metadata["vrs"] == "2"
        assert new.data == {"label": "v2", "approved": True, "enriched": "new"}

        # Back to v1: a rollback is an activation too.
        await hm.activate("1")
        rolled = await hm.pub("ver.run", {})
        await waiting(hm, rolled)
        await hm.signal("ver.approve", {"jid": rolled, "ok": False})
        assert (await hm.result(rolled, timeout=30)).data == {"label": "v1", "approved": False}

        with pytest.raises(HotMeshError, match="not deployed"):
            await hm.activate("9")
        assert await hm.active_version() == "1"
    finally:
        await other.stop()


async def test_pub_without_an_active_version_or_graph_is_refused(mesh):
    hm = await mesh(version_body("v1", extra_step=False), activate=False)
    with pytest.raises(HotMeshError, match="no active version"):
        await hm.pub("ver.run", {})
    await hm.activate("1")
    with pytest.raises(HotMeshError, match="subscribes to 'ver.nothing'"):
        await hm.pub("ver.nothing", {})
