"""``hotmesh-temporal schedule ...`` and ``operator ...`` against real schedules."""

from __future__ import annotations

import uuid

from hotmesh_temporal.client import WorkflowExecutionStatus


async def test_schedule_lifecycle(cli, client, cli_worker, cli_task_queue):
    sid = f"sched-{uuid.uuid4().hex[:8]}"
    created = await cli(
        "schedule",
        "create",
        "-s",
        sid,
        "--interval",
        "1h",
        "--type",
        "PackOrder",
        "-t",
        cli_task_queue,
        "-w",
        f"{sid}-run",
        "-i",
        '{"item": "jam", "quantity": 1}',
    )
    assert (created.exit_code, created.stdout.strip()) == (0, "Schedule created"), created.stderr
    assert (await client.get_schedule_handle(sid).describe()).schedule.state.paused is False

    listed = await cli("schedule", "list")
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ScheduleId", "Action", "Paused", "NextRunTime", "LastRunTime"]
    mine = [r for r in rows if r.split()[0] == sid]
    assert mine and mine[0].split()[1:3] == ['{"Workflow":"PackOrder"}', "false"]
    docs = (await cli("schedule", "list", "-o", "json")).json()
    assert any(
        d["scheduleId"] == sid and d["info"]["workflowType"]["name"] == "PackOrder" for d in docs
    )

    paused = await cli("schedule", "toggle", "-s", sid, "--pause", "--reason", "holiday")
    assert paused.stdout.strip() == "Schedule paused"
    state = (await client.get_schedule_handle(sid).describe()).schedule.state
    assert (state.paused, state.note) == (True, "holiday")
    described = await cli("schedule", "describe", "-s", sid)
    card = {
        line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1]
        for line in described.stdout.splitlines()
        if len(line.split(maxsplit=1)) == 2
    }
    assert card["ScheduleId"] == sid and card["Paused"] == "true" and card["Notes"] == "holiday"
    assert card["Spec"] == '[{"every":"3600s"}]'
    await cli("schedule", "toggle", "-s", sid, "--unpause")
    assert (await client.get_schedule_handle(sid).describe()).schedule.state.paused is False

    triggered = await cli("schedule", "trigger", "-s", sid)
    assert triggered.stdout.strip() == "Trigger request sent"
    runs = [e async for e in client.list_workflows(f"WorkflowId STARTS_WITH '{sid}-run'")]
    assert len(runs) == 1

    backfilled = await cli(
        "schedule",
        "backfill",
        "-s",
        sid,
        "--overlap-policy",
        "AllowAll",
        "--start-time",
        "2026-01-01T00:00:00Z",
        "--end-time",
        "2026-01-01T03:00:00Z",
    )
    assert backfilled.exit_code == 0, backfilled.stderr
    runs = [e async for e in client.list_workflows(f"WorkflowId STARTS_WITH '{sid}-run'")]
    assert len(runs) == 4  # the trigger's run and one per backfilled hour (01:00..03:00)

    updated = await cli(
        "schedule",
        "update",
        "-s",
        sid,
        "--cron",
        "0 12 * * *",
        "--type",
        "PackOrder",
        "-t",
        cli_task_queue,
        "-w",
        f"{sid}-run",
        "-i",
        '{"item": "jam", "quantity": 5}',
    )
    assert updated.exit_code == 0, updated.stderr
    spec = (await client.get_schedule_handle(sid).describe()).schedule.spec
    assert not spec.intervals and spec.calendars

    bad = await cli(
        "schedule",
        "backfill",
        "-s",
        sid,
        "--start-time",
        "2026-01-02T00:00:00Z",
        "--end-time",
        "2026-01-01T00:00:00Z",
    )
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: --end-time")

    deleted = await cli("schedule", "delete", "-s", sid)
    assert deleted.stdout.strip() == "Schedule deleted"
    gone = await cli("schedule", "describe", "-s", sid)
    assert gone.exit_code == 1 and gone.stderr.startswith("Error: ")
    for run in runs:
        await client.get_workflow_handle(run.id, run_id=run.run_id).result()
    statuses = {
        (await client.get_workflow_handle(r.id, run_id=r.run_id).describe()).status for r in runs
    }
    assert statuses == {WorkflowExecutionStatus.COMPLETED}


async def test_operator_commands(cli):
    created = await cli(
        "operator", "search-attribute", "create", "--name", "CustomerId", "--type", "Keyword"
    )
    assert created.exit_code == 0 and "need no registration" in created.stderr
    for argv in (
        ["operator", "search-attribute", "list"],
        ["operator", "namespace", "list"],
        ["operator", "namespace", "describe", "default"],
    ):
        refused = await cli(*argv)
        assert refused.exit_code == 1
        assert refused.stderr.startswith("Error: ") and "not supported" in refused.stderr
