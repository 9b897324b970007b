"""``hotmesh-temporal workflow ...`` against real runs: table and JSON outputs, exit
codes and error lines."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

from hotmesh_temporal.client import Client, WorkflowExecutionStatus
from hotmesh_temporal.converter import DataConverter
from hotmesh_temporal.worker import Worker
from tests.cli.codec import Base64Codec
from tests.cli.workflows import ACTIVITIES, WORKFLOWS, GuestBook


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def wait_status(client, workflow_id: str, status: WorkflowExecutionStatus) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(200):
        if (await handle.describe()).status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never reached {status.name}")


async def test_start_execute_and_result(cli, client, cli_worker, cli_task_queue):
    wid = new_id("pack")
    started = await cli(
        "workflow",
        "start",
        "--type",
        "PackOrder",
        "-t",
        cli_task_queue,
        "-w",
        wid,
        "-i",
        '{"item": "tea", "quantity": 2}',
    )
    assert started.exit_code == 0, started.stderr
    lines = started.stdout.splitlines()
    assert lines[0] == "Running execution:"
    assert lines[1].split() == ["WorkflowId", wid]
    assert lines[3].split() == ["Type", "PackOrder"]
    assert await client.get_workflow_handle(wid).result() == "packed 2 x tea"

    result = await cli("workflow", "result", "-w", wid)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Results:",
        "  Status  Completed",
        '  Result  "packed 2 x tea"',
    ]
    as_json = await cli("workflow", "result", "-w", wid, "-o", "json")
    assert as_json.json() == {"status": "Completed", "result": "packed 2 x tea", "failure": None}

    executed = await cli(
        "workflow",
        "execute",
        "--type",
        "PackOrder",
        "-t",
        cli_task_queue,
        "-i",
        '{"item": "cup", "quantity": 1}',
        "-o",
        "jsonl",
    )
    assert executed.exit_code == 0, executed.stderr
    start_doc, result_doc = executed.jsonl()
    assert start_doc["type"] == "PackOrder" and start_doc["taskQueue"] == cli_task_queue
    assert result_doc["result"] == "packed 1 x cup"


async def test_list_and_count(cli, client, cli_worker, cli_task_queue):
    wid = new_id("guest")
    await client.start_workflow(GuestBook.run, "Hi", id=wid, task_queue=cli_task_queue)
    listed = await cli("workflow", "list", "-q", f"WorkflowId = '{wid}'")
    assert listed.exit_code == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["Status", "WorkflowId", "Type", "StartTime"]
    assert row.split()[:3] == ["Running", wid, "GuestBook"]

    docs = (await cli("workflow", "list", "-q", f"WorkflowId = '{wid}'", "-o", "json")).json()
    assert len(docs) == 1
    assert docs[0]["execution"]["workflowId"] == wid
    assert docs[0]["type"] == {"name": "GuestBook"}
    assert docs[0]["status"] == "WORKFLOW_EXECUTION_STATUS_RUNNING"
    assert docs[0]["taskQueue"] == cli_task_queue

    lines = (await cli("workflow", "list", "--limit", "2", "-o", "jsonl")).jsonl()
    assert len(lines) == 2

    count = await cli("workflow", "count", "-q", f"WorkflowId = '{wid}'")
    assert count.stdout.strip() == "Total: 1"
    grouped = await cli(
        "workflow", "count", "-q", f"WorkflowId = '{wid}' GROUP BY ExecutionStatus", "-o", "json"
    )
    assert grouped.json()["count"] == "1"
    assert grouped.json()["groups"][0]["count"] == "1"


async def test_bad_filter_is_one_error_line(cli):
    bad = await cli("workflow", "list", "-q", "WorkflowId = = 'x'")
    assert bad.exit_code == 1
    assert bad.stdout == ""
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")


async def test_unknown_workflow_id(cli):
    missing = await cli("workflow", "describe", "-w", "no-such-workflow")
    assert missing.exit_code == 1
    assert missing.stderr.strip().splitlines() == [missing.stderr.strip()]
    assert "no-such-workflow" in missing.stderr and missing.stderr.startswith("Error: ")


async def test_no_database_is_one_error_line(cli):
    down = await cli(
        "workflow", "list", "--dsn", "postgresql://postgres@127.0.0.1:1/none", dsn=False
    )
    assert down.exit_code == 1
    assert len(down.stderr.strip().splitlines()) == 1 and down.stderr.startswith("Error: ")


async def test_usage_errors_exit_2(cli):
    assert (await cli("workflow", "list", "-o", "yaml")).exit_code == 2
    bad_input = await cli("workflow", "start", "--type", "X", "-t", "q", "-i", "{nope")
    assert bad_input.exit_code == 2
    assert bad_input.stderr.startswith("Error: --input")


async def test_signal_query_update_stack_describe(cli, client, cli_worker, cli_task_queue):
    wid = new_id("guest")
    await client.start_workflow(GuestBook.run, "Hello", id=wid, task_queue=cli_task_queue)
    signaled = await cli("workflow", "signal", "-w", wid, "--name", "sign", "-i", '"ada"')
    assert (signaled.exit_code, signaled.stdout.strip()) == (0, "Signal workflow succeeded")

    query = await cli("workflow", "query", "-w", wid, "--name", "signed", "-o", "json")
    assert query.exit_code == 0, query.stderr
    assert query.json() == {"queryResult": ["ada"]}

    update = await cli(
        "workflow",
        "update",
        "execute",
        "-w",
        wid,
        "--name",
        "rename",
        "-i",
        '"ada"',
        "-i",
        '"grace"',
        "--update-id",
        "u1",
        "-o",
        "json",
    )
    assert update.exit_code == 0, update.stderr
    assert update.json() == {"name": "rename", "updateId": "u1", "result": ["grace"]}
    again = await cli("workflow", "update", "result", "-w", wid, "--update-id", "u1")
    assert 'Result    ["grace"]' in again.stdout
    rejected = await cli(
        "workflow",
        "update",
        "execute",
        "-w",
        wid,
        "--name",
        "rename",
        "-i",
        '"nobody"',
        "-i",
        '"x"',
    )
    assert rejected.exit_code == 1 and "no guest named nobody" in rejected.stderr

    stack = await cli("workflow", "stack", "-w", wid)
    assert stack.exit_code == 0, stack.stderr
    assert "wait_condition" in stack.stdout or "run" in stack.stdout

    described = await cli("workflow", "describe", "-w", wid)
    assert described.exit_code == 0
    text = described.stdout
    card = {
        line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1:]
        for line in text.splitlines()
        if line.startswith("  ")
    }
    assert text.startswith("Execution Info:")
    assert card["WorkflowId"] == [wid] and card["Type"] == ["GuestBook"]
    assert card["Status"] == ["Running"]
    assert card["Input"] == ['["Hello"]']
    as_json = (await cli("workflow", "describe", "-w", wid, "-o", "json")).json()
    assert as_json["workflowExecutionInfo"]["execution"]["workflowId"] == wid
    assert as_json["input"] == ["Hello"] and as_json["result"] is None

    await cli("workflow", "signal", "-w", wid, "--name", "close")
    assert await client.get_workflow_handle(wid).result() == "Hello, grace"


async def test_show_and_follow(cli, client, cli_worker, cli_task_queue):
    wid = new_id("guest")
    await client.start_workflow(GuestBook.run, "Hey", id=wid, task_queue=cli_task_queue)
    await wait_status(client, wid, WorkflowExecutionStatus.RUNNING)
    follow = asyncio.ensure_future(cli("workflow", "show", "-w", wid, "--follow"))
    await asyncio.sleep(1.5)
    assert not follow.done()  # still following the open run
    await client.get_workflow_handle(wid).signal(GuestBook.close)
    followed = await follow
    assert followed.exit_code == 0, followed.stderr
    lines = followed.stdout.splitlines()
    assert lines[0] == "Progress:"
    types = [
        line.split()[-1]
        for line in lines[2:]
        if line.strip() and line.startswith("  ") and line.split()[0].isdigit()
    ]
    assert types[0] == "WorkflowExecutionStarted"
    assert "WorkflowExecutionSignaled" in types
    assert types[-1] == "WorkflowExecutionCompleted"
    assert lines[-1].split() == ["Status", "Completed"]

    history = (await cli("workflow", "show", "-w", wid, "-o", "json")).json()
    assert history["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    assert history["events"][-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"


async def test_cancel_terminate_and_failed_result(cli, client, cli_worker, cli_task_queue):
    wid = new_id("guest")
    await client.start_workflow(GuestBook.run, "Yo", id=wid, task_queue=cli_task_queue)
    done = await cli("workflow", "terminate", "-w", wid, "--reason", "operator said so")
    assert (done.exit_code, done.stdout.strip()) == (0, "Workflow terminated")
    assert (await client.get_workflow_handle(wid).describe()).status == (
        WorkflowExecutionStatus.TERMINATED
    )
    result = await cli("workflow", "result", "-w", wid)
    assert result.exit_code == 1
    assert "operator said so" in result.stderr

    wid2 = new_id("guest")
    await client.start_workflow(GuestBook.run, "Yo", id=wid2, task_queue=cli_task_queue)
    canceled = await cli("workflow", "cancel", "-w", wid2, "-o", "json")
    assert canceled.json() == {"message": "Canceled workflow"}
    await wait_status(client, wid2, WorkflowExecutionStatus.CANCELED)

    wid3 = new_id("fail")
    failed = await cli(
        "workflow",
        "execute",
        "--type",
        "Failing",
        "-t",
        cli_task_queue,
        "-w",
        wid3,
        "-i",
        '"out of stock"',
    )
    assert failed.exit_code == 1
    assert "Failure  ApplicationError: out of stock" in failed.stdout
    assert failed.stderr.strip() == "Error: workflow failed: ApplicationError: out of stock"

    delete = await cli("workflow", "delete", "-w", wid3)
    assert delete.exit_code == 1 and "not supported" in delete.stderr


async def test_activity_complete_and_fail(cli, client, cli_worker, cli_task_queue):
    wid = new_id("delivery")
    handle = await client.start_workflow("Delivery", "o-1", id=wid, task_queue=cli_task_queue)
    for _ in range(200):
        described = await handle.describe()
        if described.raw_description.pending_activities:
            break
        await asyncio.sleep(0.05)
    shown = await cli("workflow", "describe", "-w", wid)
    assert "Pending Activities: 1" in shown.stdout and "courier" in shown.stdout
    done = await cli("activity", "complete", "-w", wid, "-a", "courier", "--result", '"bob"')
    assert done.exit_code == 0, done.stderr
    assert await handle.result() == "o-1 delivered by bob"
    again = await cli("activity", "complete", "-w", wid, "-a", "courier", "--result", '"x"')
    assert again.exit_code == 1 and again.stderr.startswith("Error: ")


async def test_codec_flag_decodes_payloads(cli, client):
    bad = await cli("workflow", "list", "--codec", "no_such_module:Codec")
    assert bad.exit_code == 2 and "no_such_module" in bad.stderr
    converter = dataclasses.replace(DataConverter.default, payload_codec=Base64Codec())
    codec_client = Client(**{**client.config(), "data_converter": converter})
    queue = new_id("codec")
    wid = new_id("pack")
    async with Worker(codec_client, task_queue=queue, workflows=WORKFLOWS, activities=ACTIVITIES):
        run = await cli(
            "workflow",
            "execute",
            "--type",
            "PackOrder",
            "-t",
            queue,
            "-w",
            wid,
            "-i",
            '{"item": "pen", "quantity": 3}',
            "--codec",
            "tests.cli.codec:Base64Codec",
        )
    assert run.exit_code == 0, run.stderr
    # Stored encoded: without the codec the payload is not readable as the value.
    plain = (await cli("workflow", "describe", "-w", wid, "-o", "json")).json()
    assert plain["result"] != "packed 3 x pen"
    decoded = await cli(
        "workflow", "describe", "-w", wid, "-o", "json", "--codec", "tests.cli.codec:Base64Codec"
    )
    assert decoded.json()["result"] == "packed 3 x pen"


async def test_version_and_help(cli):
    version = await cli("--version", dsn=False)
    assert version.exit_code == 0 and version.stdout.startswith("hotmesh-temporal ")
    for command in (
        ["workflow", "list"],
        ["schedule", "create"],
        ["activity", "fail"],
        ["operator", "search-attribute", "list"],
        ["ui"],
    ):
        shown = await cli(*command, "--help", dsn=False)
        assert shown.exit_code == 0 and "usage: hotmesh-temporal" in shown.stdout
