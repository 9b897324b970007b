"""Every sample's workflows, run here, replay in temporalio's own Replayer.

A sample is meant to run on a Temporal server once its ``hotmesh_temporal`` imports
say ``temporalio``. Each sample here runs on Postgres as its test runs it (its own
activities, or its test's mocks); every history it made is fetched (children, and
each run of a continue-as-new chain), exported as Temporal JSON and replayed by
temporalio's ``Replayer`` holding the sample's workflow classes loaded from the same
files with only the imports swapped (``tests/compat/twin_samples.py``).
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from temporalio import worker as t_worker
from temporalio import workflow as t_workflow
from temporalio.client import WorkflowHistory as TWorkflowHistory
from temporalio.converter import DataConverter as TDataConverter
from temporalio.worker import Replayer as TReplayer

from hotmesh_temporal import activity
from hotmesh_temporal.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from hotmesh_temporal.worker import Worker
from tests.compat import twin_samples

twin_samples.install()


class Check(NamedTuple):
    """Replay the histories of ``handle`` with these workflow classes of the twin."""

    handle: WorkflowHandle
    workflows: tuple[str, ...]
    nondeterministic: bool = False  # the sample says this code must not replay it


Drive = Callable[[Client, str, ModuleType], Awaitable[Sequence[Any]]]


@dataclass
class Sample:
    module: str  # the module that defines the sample's workflow classes
    workflows: tuple[str, ...]  # the twin's classes a plain handle is replayed with
    drive: Drive  # runs the sample here; returns handles (or Checks) of what it started
    replayer: Callable[[ModuleType], dict]  # more Replayer options, built from the twin

    @property
    def id(self) -> str:
        return self.module.removeprefix("samples.")


SAMPLES: list[Sample] = []


def sample(module: str, *workflows: str, replayer: Callable[[ModuleType], dict] | None = None):
    """Register the decorated coroutine as the way to run the sample in ``module``."""

    def register(drive: Drive) -> Drive:
        SAMPLES.append(Sample(module, workflows, drive, replayer or (lambda twin: {})))
        return drive

    return register


def twin_of(module: str) -> ModuleType:
    """The temporalio twin of a sample module."""
    return importlib.import_module(twin_samples.twin_name(module))


def new_id() -> str:
    return f"replay-{uuid.uuid4()}"


@asynccontextmanager
async def worker(client: Client, task_queue: str, *workflows, activities=(), threads=False):
    """A worker for the sample; synchronous activities on a thread pool when ``threads``."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=list(workflows),
            activities=list(activities),
            activity_executor=pool if threads else None,
        ) as running:
            yield running


async def finish(
    client: Client, task_queue: str, run: Any, *args: Any, fails: bool = False, **options: Any
) -> WorkflowHandle:
    """Start a workflow and wait until it has closed (failed, if ``fails``)."""
    handle = await client.start_workflow(run, *args, id=new_id(), task_queue=task_queue, **options)
    if fails:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    else:
        await handle.result()
    return handle


def with_options(client: Client, **changes: Any) -> Client:
    """The same connection with another data converter or interceptors, as the tests do."""
    config = client.config()
    config.update(changes)
    return Client(**config)


def once(module: str, *workflows: str, args=lambda mod: [], activities=lambda mod: [], **kw):
    """Register a sample that runs its first workflow once: ``args(mod)`` on a worker
    with ``workflows`` and ``activities(mod)`` (``threads=True``: sync ones on threads)."""

    async def drive(client: Client, task_queue: str, mod: ModuleType) -> list:
        classes = [getattr(mod, name) for name in workflows]
        async with worker(client, task_queue, *classes, activities=activities(mod), **kw):
            return [await finish(client, task_queue, classes[0].run, *args(mod))]

    sample(module, *workflows)(drive)


# ------------------------------------------------------------------------ samples/


once(
    "samples.demo",
    "OrderWorkflow",
    args=lambda mod: [mod.Order(new_id(), "test widget", 3, 4200, "test@example.com")],
    activities=lambda mod: mod.ACTIVITIES,
)
once(
    "samples.batch_sliding_window.workflows",
    "BatchWorkflow",
    args=lambda mod: [mod.BatchInput(total_records=7, page_size=3, window_size=2)],  # 3 runs
    activities=lambda mod: [mod.fetch_page, mod.process_record],
)
once(
    "samples.custom_metric.workflows",
    "PackingWorkflow",
    args=lambda mod: [2],
    activities=lambda mod: [mod.pack_parcel],
)
once(
    "samples.polling.frequent.workflows",
    "ReportWorkflow",
    args=lambda mod: [mod.PollRequest(report_id=new_id(), interval_seconds=0.05)],
    activities=lambda mod: [mod.poll_for_report],
)


@sample(
    "samples.context_propagation.workflows",
    "AuditedWorkflow",
    replayer=lambda twin: {
        "interceptors": [
            twin_of("samples.context_propagation.interceptor").ContextPropagationInterceptor()
        ]
    },
)
async def _context_propagation(client, task_queue, mod):
    from samples.context_propagation.interceptor import ContextPropagationInterceptor, user_id

    client = with_options(client, interceptors=[ContextPropagationInterceptor()])
    async with worker(client, task_queue, mod.AuditedWorkflow, activities=[mod.audit]):
        token = user_id.set("grace@example.com")
        try:
            return [await finish(client, task_queue, mod.AuditedWorkflow.run, "publish")]
        finally:
            user_id.reset(token)


@sample(
    "samples.custom_converter.workflows",
    "InvoiceWorkflow",
    replayer=lambda twin: {
        "data_converter": twin_of("samples.custom_converter.money").money_data_converter
    },
)
async def _custom_converter(client, task_queue, mod):
    from samples.custom_converter.money import money_data_converter

    client = with_options(client, data_converter=money_data_converter)
    net = mod.Money(Decimal("10.00"), "GBP")
    async with worker(client, task_queue, mod.InvoiceWorkflow):
        return [await finish(client, task_queue, mod.InvoiceWorkflow.run, net)]


def _pydantic_converter(twin: ModuleType) -> dict:
    from temporalio.contrib.pydantic import pydantic_data_converter

    return {"data_converter": pydantic_data_converter}


@sample("samples.pydantic_converter.workflows", "PurchaseWorkflow", replayer=_pydantic_converter)
async def _pydantic(client, task_queue, mod):
    from hotmesh_temporal.contrib.pydantic import pydantic_data_converter

    client = with_options(client, data_converter=pydantic_data_converter)
    item = mod.LineItem(sku="tape", quantity=2, unit_price=Decimal("1.25"))
    order = mod.PurchaseOrder(number="PO-7", ordered_on="2024-05-01", items=[item])
    async with worker(client, task_queue, mod.PurchaseWorkflow, activities=[mod.issue_receipt]):
        return [await finish(client, task_queue, mod.PurchaseWorkflow.run, order)]


@sample("samples.replay.workflows", "OnboardingV1", "OnboardingV2")
async def _replay(client, task_queue, mod):
    from samples.replay.__main__ import record_history

    v1 = client.get_workflow_handle(new_id())
    await record_history(client, task_queue, v1.id)
    activities = [mod.create_account, mod.send_welcome_email]
    async with worker(client, task_queue, mod.OnboardingV2, activities=activities):
        v2 = await finish(client, task_queue, mod.OnboardingV2.run, "ada")
    return [
        Check(v1, ("OnboardingV1",)),
        Check(v2, ("OnboardingV2",)),
        # The sample's point: V2 reorders the activities, and temporalio says so too.
        Check(v1, ("OnboardingV2",), nondeterministic=True),
    ]


@sample("samples.schedules.workflows", "StatusReportWorkflow")
async def _schedules(client, task_queue, mod):
    from samples.schedules.__main__ import create_report_schedule, wait_for_actions

    workflow = mod.StatusReportWorkflow
    async with worker(client, task_queue, workflow, activities=[mod.compile_report]):
        schedule = await create_report_schedule(client, new_id(), task_queue, timedelta(seconds=1))
        try:
            await schedule.trigger()  # one run now, one when the interval comes round
            await asyncio.wait_for(wait_for_actions(schedule, 2), timeout=10)
            await schedule.pause()
            actions = (await schedule.describe()).info.recent_actions
        finally:
            await schedule.delete()
        handles = [client.get_workflow_handle(a.action.workflow_id) for a in actions]
        for handle in handles:
            await handle.result()
    return handles


@sample("samples.sleep_for_days.workflows", "MonthlyReminderWorkflow")
async def _sleep_for_days(client, task_queue, mod):
    sent: list = []

    @activity.defn(name="send_reminder")  # the test's mock
    async def send_reminder(email: str, number: int) -> None:
        sent.append(number)

    request = mod.ReminderInput(email="bob@example.com", period_seconds=0.1)
    async with worker(client, task_queue, mod.MonthlyReminderWorkflow, activities=[send_reminder]):
        handle = await client.start_workflow(
            mod.MonthlyReminderWorkflow.run, request, id=new_id(), task_queue=task_queue
        )
        while await handle.query(mod.MonthlyReminderWorkflow.reminders_sent) < 3:
            await asyncio.sleep(0.05)
        await handle.signal(mod.MonthlyReminderWorkflow.stop)
        assert await handle.result() >= 3
    return [handle]


@sample("samples.worker_multiprocessing.workflows", "JobWorkflow")
async def _worker_multiprocessing(client, task_queue, mod):
    # In-process workers: which process runs the job changes nothing in its history.
    from samples.worker_multiprocessing.__main__ import run_jobs

    prefix = new_id()
    async with worker(client, task_queue, mod.JobWorkflow, activities=[mod.whoami]):
        await run_jobs(client, task_queue, 2, prefix)
    return [client.get_workflow_handle(f"{prefix}-{job}") for job in range(2)]


@sample("samples.worker_specific_task_queues.workflows", "FileProcessingWorkflow")
async def _worker_specific_task_queues(client, task_queue, mod):
    from samples.worker_specific_task_queues.activities import host_activities

    own_queue = f"{task_queue}-host"
    get_queue, *on_host = host_activities(own_queue)
    workflow = mod.FileProcessingWorkflow
    async with (
        worker(client, task_queue, workflow, activities=[get_queue]),
        worker(client, own_queue, activities=on_host),
    ):
        return [await finish(client, task_queue, workflow.run, "https://example.com/a.txt")]


# ------------------------------------------------------------------ samples/hello/


once(
    "samples.hello.hello_activity",
    "GreetingWorkflow",
    args=lambda mod: ["World"],
    activities=lambda mod: [mod.build_greeting],
)
once(
    "samples.hello.hello_activity_choice",
    "FruitBasketWorkflow",
    args=lambda mod: [[mod.BasketItem(mod.Fruit.PLUM, 1), mod.BasketItem(mod.Fruit.APPLE, 2)]],
    activities=lambda mod: mod.ACTIVITIES,
    threads=True,
)
once(
    "samples.hello.hello_activity_method",
    "ReserveWorkflow",
    args=lambda mod: ["kettle"],
    activities=lambda mod: [mod.Inventory({"kettle": 2}).reserve],
)
once(  # a thread pool, not the process pool: where it runs is not in the history
    "samples.hello.hello_activity_multiprocess",
    "SquaresWorkflow",
    args=lambda mod: [10],
    activities=lambda mod: [mod.sum_of_squares],
    threads=True,
)
once(
    "samples.hello.hello_activity_retry",
    "RetryingGreetingWorkflow",
    args=lambda mod: ["World"],
    activities=lambda mod: [mod.flaky_greeting],
)
once(
    "samples.hello.hello_activity_threaded",
    "WordCountWorkflow",
    args=lambda mod: ["one two three"],
    activities=lambda mod: [mod.count_words_slowly],
    threads=True,
)
once(
    "samples.hello.hello_async_activity_completion",
    "ExpenseWorkflow",
    args=lambda mod: ["taxi"],
    activities=lambda mod: [mod.request_approval],
)
once("samples.hello.hello_change_log_level", "ChattyWorkflow")
once(
    "samples.hello.hello_child_workflow",
    "NameBadgesWorkflow",
    "InitialsWorkflow",
    args=lambda mod: [["grace brewster hopper", "ken thompson"]],
)
once("samples.hello.hello_continue_as_new", "CountdownWorkflow", args=lambda mod: [mod.Tally(3)])
once(
    "samples.hello.hello_local_activity",
    "ShoutWorkflow",
    args=lambda mod: ["hi there"],
    activities=lambda mod: [mod.shout],
)


@sample("samples.hello.hello_cancellation", "KitchenWorkflow")
async def _hello_cancellation(client, task_queue, mod):
    activities = [mod.watch_the_kettle, mod.turn_off_the_stove]
    async with worker(client, task_queue, mod.KitchenWorkflow, activities=activities):
        handle = await client.start_workflow(
            mod.KitchenWorkflow.run, id=new_id(), task_queue=task_queue
        )
        await asyncio.sleep(0.3)  # the kettle is being watched
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    return [handle]


@sample("samples.hello.hello_exception", "AddressWorkflow")
async def _hello_exception(client, task_queue, mod):
    workflow = mod.AddressWorkflow
    async with worker(client, task_queue, workflow, activities=[mod.validate_postcode]):
        return [
            await finish(client, task_queue, workflow.run, "SW1A", fails=True),
            await finish(client, task_queue, workflow.run, "75001"),
        ]


@sample("samples.hello.hello_patch", "BrewingV1", "BrewingV2", "BrewingV3")
async def _hello_patch(client, task_queue, mod):
    await mod.run_patch_demo(client, task_queue)
    v1, v2, v3 = (client.get_workflow_handle(f"brew-{v}-{task_queue}") for v in ("v1", "v2", "v3"))
    # Each history replays on the code that finished it and on the code it was started on.
    return [
        Check(v1, ("BrewingV1",)),
        Check(v1, ("BrewingV2",)),
        Check(v2, ("BrewingV2",)),
        Check(v2, ("BrewingV3",)),
        Check(v3, ("BrewingV3",)),
    ]


@sample("samples.hello.hello_query", "TrafficLightWorkflow")
async def _hello_query(client, task_queue, mod):
    workflow = mod.TrafficLightWorkflow
    async with worker(client, task_queue, workflow):
        handle = await client.start_workflow(workflow.run, 0.2, id=new_id(), task_queue=task_queue)
        assert await handle.query(workflow.colour) == "red"
        await handle.result()
        assert await handle.query(workflow.colour) == "green"
    return [handle]


@sample("samples.hello.hello_search_attributes", "TicketWorkflow")
async def _hello_search_attributes(client, task_queue, mod):
    from hotmesh_temporal.common import SearchAttributePair, TypedSearchAttributes

    attributes = TypedSearchAttributes(
        [SearchAttributePair(mod.CUSTOMER, "acme"), SearchAttributePair(mod.PRIORITY, 5)]
    )
    async with worker(client, task_queue, mod.TicketWorkflow):
        run = mod.TicketWorkflow.run
        return [await finish(client, task_queue, run, search_attributes=attributes)]


@sample("samples.hello.hello_signal", "GuestBookWorkflow")
async def _hello_signal(client, task_queue, mod):
    workflow = mod.GuestBookWorkflow
    async with worker(client, task_queue, workflow):
        handle = await client.start_workflow(workflow.run, id=new_id(), task_queue=task_queue)
        await handle.signal(workflow.sign, "Barbara")
        await handle.signal(workflow.sign, "Ken")
        await handle.signal(workflow.close_book)
        await handle.result()
    return [handle]


@sample("samples.hello.hello_update", "MultilingualGreetingWorkflow")
async def _hello_update(client, task_queue, mod):
    workflow = mod.MultilingualGreetingWorkflow
    async with worker(client, task_queue, workflow):
        handle = await client.start_workflow(workflow.run, id=new_id(), task_queue=task_queue)
        assert await handle.execute_update(workflow.set_language, "french") == "english"
        with pytest.raises(WorkflowUpdateFailedError):  # rejected by the validator
            await handle.execute_update(workflow.set_language, "klingon")
        await handle.signal(workflow.finish)
        await handle.result()
    return [handle]


# -------------------------------------------------------- samples/message_passing/


@sample("samples.message_passing.safe_message_handlers.workflows", "VenueWorkflow")
async def _safe_message_handlers(client, task_queue, mod):
    workflow = mod.VenueWorkflow
    async with worker(client, task_queue, workflow, activities=mod.ACTIVITIES):
        handle = await client.start_workflow(workflow.run, 5, id=new_id(), task_queue=task_queue)
        requests = [mod.BookingRequest(name, 2) for name in ("a", "b", "c")]
        outcomes = await asyncio.gather(
            *(handle.execute_update(workflow.book, r) for r in requests), return_exceptions=True
        )
        assert sum(isinstance(o, WorkflowUpdateFailedError) for o in outcomes) == 1
        assert await handle.execute_update(workflow.cancel_booking, "a") in (0, 2)
        with pytest.raises(WorkflowUpdateFailedError):  # rejected by the validator
            await handle.execute_update(workflow.book, mod.BookingRequest("d", 0))
        await handle.signal(workflow.close)
        await handle.result()
    return [handle]


@sample("samples.message_passing.update_with_start_lazy_initialization.workflows", "CartWorkflow")
async def _update_with_start(client, task_queue, mod):
    from samples.message_passing.update_with_start_lazy_initialization.__main__ import (
        add_to_cart,
    )

    cart_id = new_id()
    async with worker(client, task_queue, mod.CartWorkflow, activities=[mod.price_of]):
        await add_to_cart(client, cart_id, task_queue, mod.CartItem("tea", 2))
        await add_to_cart(client, cart_id, task_queue, mod.CartItem("jam", 1))
        cart = client.get_workflow_handle_for(mod.CartWorkflow.run, cart_id)
        await cart.signal(mod.CartWorkflow.checkout)
        await cart.result()
    return [cart]


@sample("samples.message_passing.waiting_for_handlers_and_compensation.workflows", "OrderWorkflow")
async def _waiting_for_handlers(client, task_queue, mod):
    from samples.message_passing.waiting_for_handlers_and_compensation.__main__ import (
        order_with_extras,
    )

    ids = [new_id(), new_id()]
    async with worker(client, task_queue, mod.OrderWorkflow, activities=[mod.charge, mod.refund]):
        for workflow_id, cancel in zip(ids, (False, True), strict=True):
            await order_with_extras(client, task_queue, workflow_id, cancel)
    return [client.get_workflow_handle(workflow_id) for workflow_id in ids]


# ----------------------------------------------------------------------- the checks


async def chain_and_children(client: Client, handle: WorkflowHandle) -> list:
    """Every history of the workflow: each run of its continue-as-new chain, from the
    first, and those of every child it started (recursively)."""
    run_id = handle.first_execution_run_id or handle.run_id
    if run_id is None:
        run_id = (await handle.describe()).run_id
    first = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
    previous = first.events[0].workflow_execution_started_event_attributes
    while previous.continued_execution_run_id:  # back to the chain's first run
        run_id = previous.continued_execution_run_id
        first = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        previous = first.events[0].workflow_execution_started_event_attributes
    histories = []
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        run_id = None
        for event in history.events:
            kind = event.WhichOneof("attributes")
            if kind == "child_workflow_execution_started_event_attributes":
                child = event.child_workflow_execution_started_event_attributes
                execution = child.workflow_execution
                child_handle = client.get_workflow_handle(
                    execution.workflow_id, first_execution_run_id=execution.run_id
                )
                histories += await chain_and_children(client, child_handle)
            elif kind == "workflow_execution_continued_as_new_event_attributes":
                continued = event.workflow_execution_continued_as_new_event_attributes
                run_id = continued.new_execution_run_id
    return histories


def workflow_type(history) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


class Results(t_worker.Interceptor):
    """Keeps what the replayed run method returned (temporalio side)."""

    def __init__(self) -> None:
        self.returned: list = []

    def workflow_interceptor_class(self, input: Any) -> type:
        returned = self.returned

        class Keep(t_worker.WorkflowInboundInterceptor):
            async def execute_workflow(self, input: Any) -> Any:
                result = await super().execute_workflow(input)
                returned.append(result)
                return result

        return Keep


def completed_result(history) -> Any:
    """The result payload of a completed run, else None."""
    last = history.events[-1]
    if last.WhichOneof("attributes") != "workflow_execution_completed_event_attributes":
        return None
    (payload,) = last.workflow_execution_completed_event_attributes.result.payloads
    return payload


@pytest.mark.parametrize("case", SAMPLES, ids=lambda s: s.id)
async def test_sample_histories_replay_in_temporalio(client, task_queue, case: Sample):
    """Each history replays without nondeterminism, and the temporalio code, fed our
    history, returns what our run returned (same payload)."""
    ours = importlib.import_module(case.module)
    twin = twin_of(case.module)
    started = await case.drive(client, task_queue, ours)
    options = case.replayer(twin)
    converter = options.get("data_converter", TDataConverter.default).payload_converter
    results = Results()
    options["interceptors"] = [*options.get("interceptors", []), results]
    replayed: set = set()
    for check in started:
        if not isinstance(check, Check):
            check = Check(check, case.workflows)
        workflows = [getattr(twin, name) for name in check.workflows]
        replayer = TReplayer(workflows=workflows, **options)
        for history in await chain_and_children(client, check.handle):
            theirs = TWorkflowHistory.from_json(history.workflow_id, history.to_json())
            assert len(theirs.events) == len(history.events)
            results.returned.clear()
            result = await replayer.replay_workflow(theirs, raise_on_replay_failure=False)
            if check.nondeterministic:
                assert isinstance(result.replay_failure, t_workflow.NondeterminismError)
                continue
            assert result.replay_failure is None, (
                f"{workflow_type(history)} {history.workflow_id}: {result.replay_failure}\n"
                f"{history.to_json()}"
            )
            expected = completed_result(history)
            if expected is not None:
                (returned,) = results.returned
                payload = converter.to_payload(returned)
                assert (dict(payload.metadata), payload.data) == (
                    dict(expected.metadata),
                    expected.data,
                ), f"{workflow_type(history)}: temporalio's replay returned {returned!r}"
            replayed.update(
                name
                for name, cls in zip(check.workflows, workflows, strict=True)
                if t_workflow._Definition.from_class(cls).name == workflow_type(history)
            )
    assert replayed >= set(case.workflows), "a workflow of the sample made no history"


def workflow_classes(module: ModuleType) -> set:
    return {
        name
        for name, value in vars(module).items()
        if isinstance(value, type)
        and value.__module__ == module.__name__
        and "__temporal_workflow_definition" in value.__dict__
    }


def test_every_sample_workflow_is_replayed():
    """Each workflow class of each sample module is in a case above (so it replayed)."""
    defined = {}
    for path in sorted(twin_samples.SAMPLES.rglob("*.py")):
        parts = path.relative_to(twin_samples.SAMPLES.parent).with_suffix("").parts
        if parts[-1] in ("__init__", "__main__"):
            continue
        module = importlib.import_module(".".join(parts))
        if classes := workflow_classes(module):
            defined[module.__name__] = classes
    covered = {case.module: set(case.workflows) for case in SAMPLES}
    assert covered == defined
    assert len(defined) >= 30
