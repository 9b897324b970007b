"""The web UI as an operator uses it, in headless Chromium: the runs list and its
filter, a run's page (history, timeline, input and result, query, stack trace), a
signal and a termination with their results read back through the Client, schedules,
read-only mode and the bearer token."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from hotmesh_temporal.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    WorkflowExecutionStatus,
)
from tests.cli.workflows import GuestBook, Order, PackOrder
from tests.ui.conftest import start_ui, stop_ui


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_runs_list_filter_and_run_page(
    ui, page, client, ui_worker, ui_task_queue, screenshots
):
    tag = uuid.uuid4().hex[:6]
    packed = [new_id(f"ui-pack-{tag}") for _ in range(3)]
    for wid in packed:
        await client.execute_workflow(
            PackOrder.run, Order("tea", 2), id=wid, task_queue=ui_task_queue
        )
    guest = new_id(f"ui-guest-{tag}")
    await client.start_workflow(GuestBook.run, "Hi", id=guest, task_queue=ui_task_queue)

    await page.goto(ui.base_url + "/")
    assert await page.title() == "Workflows · hotmesh_temporal"
    await page.fill("#query", f"WorkflowId STARTS_WITH 'ui-pack-{tag}'")
    await page.click("form.filter button")
    await page.wait_for_load_state()
    assert "query=" in page.url  # the filter is kept in the URL
    rows = page.locator("#runs tbody tr")
    assert await rows.count() == 3
    assert sorted(await page.locator("#runs a.wid").all_inner_texts()) == sorted(packed)
    assert await page.locator("#total").inner_text() == "3"
    assert await page.locator('.counts a[data-status="Completed"] b').inner_text() == "3"
    await page.screenshot(path=str(screenshots / "runs-list.png"), full_page=True)

    # A malformed filter is one clear line, not a crash.
    await page.fill("#query", "WorkflowId = = 'x'")
    await page.click("form.filter button")
    assert await page.locator(".error").count() == 1

    await page.goto(ui.base_url + f"/namespaces/default/workflows?query=WorkflowId='{packed[0]}'")
    await page.click(f"text={packed[0]}")
    await page.wait_for_selector("#history")
    assert await page.locator("#run-status").inner_text() == "Completed"
    types = await page.locator("#history tr.event td:nth-child(3)").all_inner_texts()
    assert types[0] == "WorkflowExecutionStarted" and types[-1] == "WorkflowExecutionCompleted"
    assert "ActivityTaskScheduled" in types and "TimerStarted" in types
    assert '"item": "tea"' in await page.locator("#input").inner_text()
    assert await page.locator("#result").inner_text() == '"packed 2 x tea"'
    bars = page.locator("#timeline .bar")
    assert await bars.count() == 2  # the activity and the timer
    kinds = await bars.evaluate_all("els => els.map(e => e.className)")
    assert any("k-activity" in k and "o-completed" in k for k in kinds)
    assert any("k-timer" in k and "o-fired" in k for k in kinds)
    await page.screenshot(path=str(screenshots / "run-completed.png"), full_page=True)

    await client.get_workflow_handle(guest).signal(GuestBook.close)


async def test_signal_query_stack_and_terminate(
    ui, page, client, ui_worker, ui_task_queue, screenshots
):
    wid = new_id("ui-guest")
    handle = await client.start_workflow(GuestBook.run, "Hello", id=wid, task_queue=ui_task_queue)
    await page.goto(ui.base_url + f"/namespaces/default/workflow?id={wid}")
    assert await page.locator("#run-status").inner_text() == "Running"

    form = page.locator("#signal-form")
    await form.locator("input[name=name]").fill("sign")
    await form.locator("textarea[name=input]").fill('"ada"')
    await form.locator("button").click()  # not confirmed: the browser refuses the form
    assert await page.locator(".flash").count() == 0
    await form.locator("input[name=confirm]").check()
    await form.locator("button").click()
    await page.wait_for_selector(".flash")
    assert await page.locator(".flash").inner_text() == "Signal sign sent"
    assert await handle.query(GuestBook.signed) == ["ada"]

    await page.fill("input[name=query_name]", "signed")
    await page.click("#query-form button")
    await page.wait_for_selector("#query-answer")
    assert "ada" in await page.locator("#query-answer").inner_text()

    await page.click("#stack-button")
    await page.wait_for_selector("#stack")
    assert (
        "GuestBook" in await page.locator("#stack").inner_text()
        or "wait_condition" in await page.locator("#stack").inner_text()
    )
    await page.screenshot(path=str(screenshots / "run-running.png"), full_page=True)

    terminate = page.locator("#terminate-form")
    await terminate.locator("input[name=reason]").fill("stuck order")
    await terminate.locator("input[name=confirm]").check()
    await terminate.locator("button").click()
    await page.wait_for_selector(".flash")
    assert await page.locator("#run-status").inner_text() == "Terminated"
    assert "terminated: stuck order" in await page.locator("#failure").inner_text()
    described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.TERMINATED
    history = await handle.fetch_history()
    assert history.events[-1].workflow_execution_terminated_event_attributes.reason == (
        "stuck order"
    )
    assert await page.locator("#actions").count() == 0  # nothing to act on once closed


async def test_live_refresh_of_a_running_run(ui, page, client, ui_worker, ui_task_queue):
    wid = new_id("ui-live")
    handle = await client.start_workflow(GuestBook.run, "Hey", id=wid, task_queue=ui_task_queue)
    await page.goto(ui.base_url + f"/namespaces/default/workflow?id={wid}")
    assert await page.locator("#run-status").inner_text() == "Running"
    await handle.signal(GuestBook.sign, "lin")
    await handle.signal(GuestBook.close)
    await handle.result()
    # No reload: the page's live fragment catches up by itself.
    await page.wait_for_function(
        "document.getElementById('run-status').textContent.trim() === 'Completed'",
        timeout=15000,
    )
    assert await page.locator("#result").inner_text() == '"Hey, lin"'
    assert await page.locator("#actions").count() == 0


async def test_paging_keeps_state_in_the_url(ui, page, client, ui_worker, ui_task_queue):
    tag = uuid.uuid4().hex[:6]
    for i in range(55):
        await client.start_workflow(
            GuestBook.run, "x", id=f"ui-page-{tag}-{i:02}", task_queue=ui_task_queue
        )
    query = f"WorkflowId STARTS_WITH 'ui-page-{tag}'"
    await page.goto(ui.base_url + "/namespaces/default/workflows?query=" + query)
    assert await page.locator("#runs tbody tr").count() == 50
    first = set(await page.locator("#runs a.wid").all_inner_texts())
    await page.click("#next")
    await page.wait_for_load_state()
    assert "page=" in page.url and "query=" in page.url
    second = set(await page.locator("#runs a.wid").all_inner_texts())
    assert len(second) == 5 and not first & second
    assert await page.locator("#next").count() == 0
    await page.reload()  # the URL alone brings the same page back
    assert set(await page.locator("#runs a.wid").all_inner_texts()) == second
    for i in range(55):
        await client.get_workflow_handle(f"ui-page-{tag}-{i:02}").terminate(reason="cleanup")


async def test_schedules_pages(ui, page, client, ui_worker, ui_task_queue, screenshots):
    sid = new_id("ui-sched")
    await client.create_schedule(
        sid,
        Schedule(
            action=ScheduleActionStartWorkflow(
                PackOrder.run, Order("jam", 1), id=f"{sid}-run", task_queue=ui_task_queue
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        ),
    )
    await client.get_schedule_handle(sid).trigger()
    await page.goto(ui.base_url + "/namespaces/default/schedules")
    assert sid in await page.locator("#schedules").inner_text()
    await page.screenshot(path=str(screenshots / "schedules.png"), full_page=True)
    await page.click(f"text={sid}")
    await page.wait_for_selector("#schedule-summary")
    summary = await page.locator("#schedule-summary").inner_text()
    assert "PackOrder" in summary and "Active" in summary
    for _ in range(100):
        if (await client.get_schedule_handle(sid).describe()).info.recent_actions:
            break
        await asyncio.sleep(0.05)
    await page.reload()
    assert f"{sid}-run" in await page.locator("#recent").inner_text()
    await page.screenshot(path=str(screenshots / "schedule.png"), full_page=True)
    await client.get_schedule_handle(sid).delete()


async def test_unknown_run_is_a_404_page(ui, page):
    response = await page.goto(ui.base_url + "/namespaces/default/workflow?id=no-such-run")
    assert response.status == 404
    assert "no-such-run" in await page.locator(".error").inner_text()


async def test_read_only_and_token(migrated_dsn, browser, client, ui_worker, ui_task_queue):
    wid = new_id("ui-ro")
    handle = await client.start_workflow(GuestBook.run, "x", id=wid, task_queue=ui_task_queue)
    server = await start_ui(migrated_dsn, "--read-only", "--token", "s3cret")
    try:
        with_header = Request(
            server.base_url + "/namespaces/default/workflows",
            headers={"Authorization": "Bearer s3cret"},
        )
        assert (await asyncio.to_thread(urlopen, with_header)).status == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            try:
                await asyncio.to_thread(urlopen, Request(server.base_url + "/", headers=headers))
                raise AssertionError("served without the token")
            except HTTPError as err:
                assert err.code == 401
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(server.base_url + f"/namespaces/default/workflow?id={wid}&token=s3cret")
        assert await page.locator("#run-status").inner_text() == "Running"
        assert await page.locator("#actions").count() == 0  # read-only: no action forms
        status = await page.evaluate(
            """async (wid) => (await fetch('/namespaces/default/workflow/terminate', {
                method: 'POST', body: new URLSearchParams({workflow_id: wid, confirm: 'yes'})
            })).status""",
            wid,
        )
        assert status == 403
        await context.close()
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        await stop_ui(server)
        await handle.terminate(reason="cleanup")


async def test_binding_beyond_loopback_needs_a_flag(migrated_dsn):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotmesh_temporal",
        "ui",
        "--dsn",
        migrated_dsn,
        "--ip",
        "0.0.0.0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 1
    assert err.decode().startswith("Error: refusing to bind 0.0.0.0")


async def test_long_history_is_paged(ui, page, client, ui_worker, ui_task_queue):
    wid = new_id("ui-long")
    handle = await client.start_workflow(GuestBook.run, "x", id=wid, task_queue=ui_task_queue)
    for i in range(300):
        await handle.signal(GuestBook.sign, f"guest-{i}")
    await handle.signal(GuestBook.close)
    await handle.result()
    length = (await handle.describe()).history_length
    assert length > 300

    await page.goto(ui.base_url + f"/namespaces/default/workflow?id={wid}")
    ids = await page.locator("#history tr.event td:first-child").all_inner_texts()
    assert ids[0] == "1" and len(ids) == 250
    assert (
        f"History ({length} events; showing 1–250)"
        in await page.locator("#history h2").inner_text()
    )
    assert await page.locator("#result").count() == 1  # the outcome, though not on this page
    await page.click("#next-events")
    await page.wait_for_load_state()
    ids = [int(i) for i in await page.locator("#history tr.event td:first-child").all_inner_texts()]
    assert ids[0] == 251 and ids == list(range(251, 251 + len(ids)))
    assert '"x"' in await page.locator("#input").inner_text()  # from the first event


async def test_pending_activity_is_shown(ui, page, client, ui_worker, ui_task_queue):
    wid = new_id("ui-delivery")
    handle = await client.start_workflow("Delivery", "o-7", id=wid, task_queue=ui_task_queue)
    for _ in range(200):
        if (await handle.describe()).raw_description.pending_activities:
            break
        await asyncio.sleep(0.05)
    await page.goto(ui.base_url + f"/namespaces/default/workflow?id={wid}")
    assert await page.locator("#pending h2").inner_text() == "Pending activities (1)"
    cells = await page.locator("#pending tbody tr td").all_inner_texts()
    assert cells[:4] == ["courier", "wait_for_courier", "Started", "1"]
    bar = page.locator("#timeline .bar.k-activity")
    assert "o-running" in (await bar.get_attribute("class") or "")
    await client.get_async_activity_handle(workflow_id=wid, activity_id="courier").complete("dora")
    assert await handle.result() == "o-7 delivered by dora"
    await page.wait_for_function(
        "document.getElementById('run-status').textContent.trim() === 'Completed'",
        timeout=15000,
    )
    assert await page.locator("#pending h2").inner_text() == "Pending activities (0)"
