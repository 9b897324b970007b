"""WorkflowInstance behaviour, driven by hand-built activations (no database)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import timedelta

import pytest
from workflow_harness import (
    START,
    Driver,
    completed_result,
    decode,
    from_failure,
    only,
    payload,
    payloads,
    to_failure,
)

from hotmesh_temporal import workflow
from hotmesh_temporal._engine.runtime import activation as c
from hotmesh_temporal.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    RetryState,
)

TIMEOUT = timedelta(seconds=30)


def activity_failure(message: str, *, cancelled: bool = False) -> object:
    """A Failure as the engine delivers it: activity info wrapping the cause."""
    cause: BaseException = CancelledError(message) if cancelled else ApplicationError(message)
    err = ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="greet",
        activity_id="1",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    err.__cause__ = cause
    return to_failure(err)


# ------------------------------------------------------------------ activities


@workflow.defn
class GreetWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity("greet", name, start_to_close_timeout=TIMEOUT)


def test_activity_is_scheduled_then_its_result_completes_the_workflow() -> None:
    driver = Driver(GreetWorkflow)
    first = driver.start("Ada")
    (schedule,) = first.commands
    assert isinstance(schedule, c.ScheduleActivity)
    assert (schedule.seq, schedule.activity_id, schedule.activity_type) == (1, "1", "greet")
    assert schedule.task_queue == "tq"
    assert schedule.start_to_close_timeout == TIMEOUT
    assert [decode(p) for p in schedule.arguments] == ["Ada"]

    done = driver.activate(
        c.ResolveActivity(seq=1, completed=payload("Hello, Ada"), has_completed=True)
    )
    assert completed_result(done) == "Hello, Ada"


@workflow.defn
class CatchActivityErrorWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity("greet", start_to_close_timeout=TIMEOUT)
        except ActivityError as err:
            assert isinstance(err.cause, ApplicationError)
            return f"caught: {err.cause.message}"
        return "not raised"


def test_activity_failure_is_raised_as_activity_error_chain() -> None:
    driver = Driver(CatchActivityErrorWorkflow)
    driver.start()
    done = driver.activate(c.ResolveActivity(seq=1, failed=activity_failure("disk full")))
    assert completed_result(done) == "caught: disk full"


@workflow.defn
class GatherWorkflow:
    @workflow.run
    async def run(self) -> list[str]:
        return list(
            await asyncio.gather(
                workflow.execute_activity("a", start_to_close_timeout=TIMEOUT),
                workflow.execute_activity("b", start_to_close_timeout=TIMEOUT),
            )
        )


def test_gather_of_two_activities_schedules_both_and_keeps_argument_order() -> None:
    driver = Driver(GatherWorkflow)
    first = driver.start()
    assert [(cmd.seq, cmd.activity_type) for cmd in first.commands] == [(1, "a"), (2, "b")]
    # Resolved in the opposite order: results still follow the gather order.
    assert driver.activate(c.ResolveActivity(seq=2, completed=payload("B"))).commands == []
    done = driver.activate(c.ResolveActivity(seq=1, completed=payload("A")))
    assert completed_result(done) == ["A", "B"]


@workflow.defn
class NoTimeoutWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity("a")


def test_activity_without_timeouts_is_rejected_with_value_error() -> None:
    with pytest.raises(ValueError, match="start_to_close_timeout or schedule_to_close_timeout"):
        asyncio.run(_call_outside(lambda: workflow.start_activity("a")))
    completion = Driver(NoTimeoutWorkflow).start()
    assert isinstance(completion.failure, ValueError)  # a bug in code fails the task


async def _call_outside(fn):  # the validation happens before the runtime is needed
    return fn()


@workflow.defn
class LocalActivityWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_local_activity(
            "add", args=[1, 2], start_to_close_timeout=TIMEOUT
        )


def test_local_activity_is_scheduled_with_is_local_and_resolved_by_the_engine() -> None:
    driver = Driver(LocalActivityWorkflow)
    (schedule,) = driver.start().commands
    assert schedule.is_local and schedule.activity_type == "add"
    done = driver.activate(c.ResolveActivity(seq=1, completed=payload(3), is_local=True))
    assert completed_result(done) == 3


@workflow.defn
class CancelActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        handle = workflow.start_activity("slow", start_to_close_timeout=TIMEOUT)
        await asyncio.sleep(1)
        handle.cancel()
        try:
            await handle
        except ActivityError as err:
            return type(err.cause).__name__
        return "finished"


def test_cancelling_an_activity_handle_requests_cancel_and_raises_cancelled_cause() -> None:
    driver = Driver(CancelActivityWorkflow)
    driver.start()
    done = driver.activate(c.FireTimer(seq=1), advance=timedelta(seconds=1))
    assert only(done.commands, c.RequestCancelActivity) == [c.RequestCancelActivity(seq=1)]
    assert completed_result(done) == "CancelledError"


# ---------------------------------------------------------------------- timers


@workflow.defn
class SleepWorkflow:
    @workflow.run
    async def run(self, use_workflow_sleep: bool) -> float:
        if use_workflow_sleep:
            await workflow.sleep(timedelta(minutes=5))
        else:
            await asyncio.sleep(300)
        return workflow.time() - workflow.info().start_time.timestamp()


@pytest.mark.parametrize("use_workflow_sleep", [True, False])
def test_sleep_is_a_durable_timer_and_time_moves_with_activations(use_workflow_sleep: bool) -> None:
    driver = Driver(SleepWorkflow)
    first = driver.start(use_workflow_sleep)
    assert first.commands == [c.StartTimer(seq=1, duration=timedelta(minutes=5))]
    done = driver.activate(c.FireTimer(seq=1), advance=timedelta(minutes=5))
    assert completed_result(done) == 300.0


@workflow.defn
class WaitForWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await asyncio.wait_for(
                workflow.execute_activity("slow", start_to_close_timeout=TIMEOUT), timeout=10
            )
        except ActivityError as err:
            # As with Temporal: the timeout cancels the activity, whose cancellation
            # (TRY_CANCEL) surfaces as an ActivityError caused by CancelledError.
            return f"activity {type(err.cause).__name__}"
        return "done"


def test_wait_for_timeout_fires_timer_and_cancels_activity() -> None:
    driver = Driver(WaitForWorkflow)
    first = driver.start()
    assert [type(cmd) for cmd in first.commands] == [c.StartTimer, c.ScheduleActivity]
    done = driver.activate(c.FireTimer(seq=1), advance=timedelta(seconds=10))
    assert only(done.commands, c.RequestCancelActivity) == [c.RequestCancelActivity(seq=1)]
    assert completed_result(done) == "activity CancelledError"


@workflow.defn
class WaitForTimerWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await asyncio.wait_for(asyncio.sleep(60), timeout=10)
        except asyncio.TimeoutError:
            return "timed out"
        return "slept"


def test_wait_for_timeout_raises_asyncio_timeout_error_and_cancels_inner_timer() -> None:
    driver = Driver(WaitForTimerWorkflow)
    first = driver.start()
    assert [cmd.duration.total_seconds() for cmd in first.commands] == [10, 60]
    done = driver.activate(c.FireTimer(seq=1), advance=timedelta(seconds=10))
    assert only(done.commands, c.CancelTimer) == [c.CancelTimer(seq=2)]
    assert completed_result(done) == "timed out"


# ------------------------------------------------------------- wait_condition


@workflow.defn
class ApprovalWorkflow:
    def __init__(self) -> None:
        self.approved = False

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: self.approved, timeout=timedelta(hours=1))
        except asyncio.TimeoutError:
            return "expired"
        return "approved"

    @workflow.signal
    def approve(self) -> None:
        self.approved = True


def test_wait_condition_is_resolved_by_a_signal_and_cancels_its_timer() -> None:
    driver = Driver(ApprovalWorkflow)
    assert driver.start().commands == [c.StartTimer(seq=1, duration=timedelta(hours=1))]
    done = driver.activate(c.SignalWorkflow(signal_name="approve"))
    assert completed_result(done) == "approved"
    assert only(done.commands, c.CancelTimer) == [c.CancelTimer(seq=1)]


def test_wait_condition_times_out_with_asyncio_timeout_error() -> None:
    driver = Driver(ApprovalWorkflow)
    driver.start()
    done = driver.activate(c.FireTimer(seq=1), advance=timedelta(hours=1))
    assert completed_result(done) == "expired"


def test_wait_condition_already_true_issues_no_timer() -> None:
    driver = Driver(ApprovalWorkflow)
    done = driver.start(extra_jobs=[c.SignalWorkflow(signal_name="approve")])
    assert completed_result(done) == "approved"
    assert only(done.commands, c.StartTimer) == []


# --------------------------------------------------------------------- signals


@workflow.defn
class LateHandlerWorkflow:
    def __init__(self) -> None:
        self.received: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await asyncio.sleep(1)
        workflow.set_signal_handler("note", self.received.append)
        await workflow.wait_condition(lambda: len(self.received) == 3)
        return self.received


def test_signals_arriving_before_their_handler_are_buffered_and_delivered_in_order() -> None:
    driver = Driver(LateHandlerWorkflow)
    driver.start(extra_jobs=[c.SignalWorkflow("note", payloads("one"))])
    driver.activate(c.SignalWorkflow("note", payloads("two")))
    done = driver.activate(
        c.SignalWorkflow("note", payloads("three")),
        c.FireTimer(seq=1),
        advance=timedelta(seconds=1),
    )
    assert completed_result(done) == ["one", "two", "three"]


@workflow.defn
class InitSignalWorkflow:
    @workflow.init
    def __init__(self, greeting: str) -> None:
        self.greeting = greeting
        self.names: list[str] = []

    @workflow.run
    async def run(self, greeting: str) -> list[str]:
        return [f"{self.greeting} {name}" for name in self.names]

    @workflow.signal
    async def add(self, name: str) -> None:
        self.names.append(name)


def test_signal_in_first_activation_runs_after_init_and_before_run_method() -> None:
    done = Driver(InitSignalWorkflow).start(
        "Hi", extra_jobs=[c.SignalWorkflow("add", payloads("Bo"))]
    )
    assert completed_result(done) == ["Hi Bo"]


# --------------------------------------------------------------------- queries


@workflow.defn
class CounterWorkflow:
    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    def bump(self, by: int) -> None:
        self.count += by

    @workflow.query
    def current(self, plus: int) -> int:
        return self.count + plus

    @workflow.query
    def sneaky(self) -> None:
        workflow.start_activity("a", start_to_close_timeout=TIMEOUT)


def test_query_reads_state_without_commands() -> None:
    driver = Driver(CounterWorkflow)
    driver.start(extra_jobs=[c.SignalWorkflow("bump", payloads(4))])
    assert decode(driver.instance.query("current", payloads(1))) == 5


def test_query_issuing_a_command_raises_read_only_error_and_changes_nothing() -> None:
    driver = Driver(CounterWorkflow)
    driver.start()
    with pytest.raises(workflow.ReadOnlyContextError):
        driver.instance.query("sneaky", [])
    # temporalio's message: every known query, built-in ones included, space-separated.
    known = "__enhanced_stack_trace __stack_trace __temporal_workflow_metadata current sneaky"
    with pytest.raises(KeyError, match=f"known queries: \\[{known}\\]"):
        driver.instance.query("missing", [])
    # The failed query did not consume a sequence number.
    assert driver.activate(c.SignalWorkflow("bump", payloads(1))).commands == []


# --------------------------------------------------------------------- updates


@workflow.defn
class UpdateWorkflow:
    def __init__(self) -> None:
        self.total = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.total >= 10)
        return self.total

    @workflow.update
    async def add(self, amount: int) -> int:
        assert workflow.current_update_info().name == "add"
        self.total += amount
        return self.total

    @add.validator
    def check_add(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError("amount must be positive")


def test_update_validator_rejection_and_accepted_update_result() -> None:
    driver = Driver(UpdateWorkflow)
    driver.start()
    rejected = driver.activate(
        c.DoUpdate(id="u1", protocol_instance_id="p1", name="add", input=payloads(-1))
    )
    (response,) = rejected.commands
    assert response.protocol_instance_id == "p1" and not response.accepted
    assert "amount must be positive" in str(from_failure(response.rejected))

    done = driver.activate(
        c.DoUpdate(id="u2", protocol_instance_id="p2", name="add", input=payloads(10))
    )
    accepted, completed = only(done.commands, c.UpdateResponse)
    assert accepted.accepted and completed.has_completed
    assert decode(completed.completed) == 10
    assert completed_result(done) == 10


def test_unknown_update_is_rejected() -> None:
    driver = Driver(UpdateWorkflow)
    driver.start()
    (response,) = driver.activate(
        c.DoUpdate(id="u", protocol_instance_id="p", name="nope")
    ).commands
    assert "known updates: [add]" in str(from_failure(response.rejected))


@workflow.defn
class LockedUpdatesWorkflow:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update
    async def book(self, who: str) -> str:
        async with self.lock:
            return await workflow.execute_activity("reserve", who, start_to_close_timeout=TIMEOUT)


def kinds(commands: list[c.Command]) -> list[str]:
    described = []
    for command in commands:
        if isinstance(command, c.UpdateResponse):
            state = (
                "accepted"
                if command.accepted
                else "completed"
                if command.has_completed
                else "other"
            )
            described.append(f"{state} {command.protocol_instance_id}")
        else:
            described.append(f"{type(command).__name__} {getattr(command, 'seq', '')}".strip())
    return described


def test_update_commands_follow_their_handlers_as_in_temporal() -> None:
    """Each update is accepted when its task first runs (after the handlers before it
    have run up to their first wait) and answered in the step its handler returns, so
    the commands come in the order temporalio's replayer expects."""
    driver = Driver(LockedUpdatesWorkflow)
    driver.start()
    jobs = [c.DoUpdate(id=p, protocol_instance_id=p, name="book", input=payloads(p)) for p in "abc"]
    first = driver.activate(*jobs)
    assert kinds(first.commands) == ["accepted a", "ScheduleActivity 1", "accepted b", "accepted c"]
    # a answers before b, woken by the lock a released, schedules its activity.
    second = driver.activate(c.ResolveActivity(seq=1, completed=payload("A"), has_completed=True))
    assert kinds(second.commands) == ["completed a", "ScheduleActivity 2"]


# ---------------------------------------------------------------- cancellation


@workflow.defn
class CancellableWorkflow:
    @workflow.run
    async def run(self) -> str:
        await workflow.execute_activity("long", start_to_close_timeout=TIMEOUT)
        return "finished"


def test_cancel_request_cancels_activity_and_workflow_ends_cancelled() -> None:
    driver = Driver(CancellableWorkflow)
    driver.start()
    done = driver.activate(c.CancelWorkflow(reason="user asked"))
    assert done.failure is None
    assert done.commands == [c.RequestCancelActivity(seq=1), c.CancelWorkflowExecution()]


@workflow.defn
class CleanupOnCancelWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return f"cleaned up: {workflow.cancellation_reason()}"
        return "slept"


def test_workflow_may_catch_cancellation_and_complete() -> None:
    driver = Driver(CleanupOnCancelWorkflow)
    driver.start()
    done = driver.activate(c.CancelWorkflow(reason="stop"))
    # The timer was already sent in the first activation, so it is cancelled.
    assert only(done.commands, c.CancelTimer) == [c.CancelTimer(seq=1)]
    assert completed_result(done) == "cleaned up: stop"


# ------------------------------------------------------------- continue-as-new


@workflow.defn
class LoopingWorkflow:
    @workflow.run
    async def run(self, iteration: int) -> None:
        workflow.continue_as_new(iteration + 1)


def test_continue_as_new_produces_a_continue_as_new_command() -> None:
    completion = Driver(LoopingWorkflow).start(1)
    (command,) = completion.commands
    assert isinstance(command, c.ContinueAsNew)
    assert command.workflow_type == "LoopingWorkflow" and command.task_queue == "tq"
    assert [decode(p) for p in command.arguments] == [2]


# --------------------------------------------------------------------- failures


class NotAFailureError(Exception):
    pass


@workflow.defn
class RaisingWorkflow:
    @workflow.run
    async def run(self, kind: str) -> None:
        if kind == "application":
            raise ApplicationError("bad input", type="Validation", non_retryable=True)
        raise NotAFailureError("bug")


def test_application_error_fails_the_workflow() -> None:
    completion = Driver(RaisingWorkflow).start("application")
    assert completion.failure is None
    (fail,) = completion.commands
    assert isinstance(fail, c.FailWorkflow)
    err = from_failure(fail.failure)
    assert isinstance(err, ApplicationError) and err.type == "Validation" and err.non_retryable


def test_unexpected_exception_fails_the_task_not_the_workflow() -> None:
    completion = Driver(RaisingWorkflow).start("bug")
    assert completion.commands == []
    assert isinstance(completion.failure, NotAFailureError)


def test_worker_failure_exception_types_make_an_exception_fail_the_workflow() -> None:
    completion = Driver(RaisingWorkflow, failure_types=[NotAFailureError]).start("bug")
    (fail,) = completion.commands
    assert isinstance(fail, c.FailWorkflow) and "bug" in str(from_failure(fail.failure))


@workflow.defn(failure_exception_types=[NotAFailureError])
class DeclaredFailureWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise NotAFailureError("declared")


def test_workflow_failure_exception_types_make_an_exception_fail_the_workflow() -> None:
    (fail,) = Driver(DeclaredFailureWorkflow).start().commands
    assert isinstance(fail, c.FailWorkflow)


# ------------------------------------------------------------------ determinism


@workflow.defn
class RandomWorkflow:
    @workflow.run
    async def run(self) -> list[str]:
        return [
            str(workflow.uuid4()),
            str(workflow.random().randint(0, 10**9)),
            str(uuid.uuid4()),  # guarded: follows the workflow's seeded random
            str(random.random()),
            str(time.time()),  # guarded: workflow time
            workflow.now().isoformat(),
        ]


def test_random_and_uuid_are_identical_across_two_runs_with_the_same_seed() -> None:
    first = completed_result(Driver(RandomWorkflow).start(seed=42))
    second = completed_result(Driver(RandomWorkflow).start(seed=42))
    other = completed_result(Driver(RandomWorkflow).start(seed=43))
    assert first == second
    assert first[:4] != other[:4]
    assert uuid.UUID(first[0]).version == 4
    assert float(first[4]) == START.timestamp()
    assert first[5] == START.isoformat()


def test_guard_leaves_code_outside_workflows_alone() -> None:
    Driver(RandomWorkflow)  # installs the guard
    assert abs(time.time() - __import__("datetime").datetime.now().timestamp()) < 5
    assert uuid.uuid4() != uuid.uuid4()


# ---------------------------------------------------------------------- patches


@workflow.defn
class PatchedWorkflow:
    @workflow.run
    async def run(self) -> str:
        first = workflow.patched("new-greeting")
        assert workflow.patched("new-greeting") == first  # memoised
        return "new" if first else "old"


def test_patched_is_true_and_records_a_marker_on_first_execution() -> None:
    done = Driver(PatchedWorkflow).start()
    assert only(done.commands, c.SetPatchMarker) == [c.SetPatchMarker("new-greeting")]
    assert completed_result(done) == "new"


def test_patched_on_replay_follows_the_recorded_marker() -> None:
    with_marker = Driver(PatchedWorkflow).start(
        replaying=True, extra_jobs=[c.NotifyHasPatch("new-greeting")]
    )
    assert completed_result(with_marker) == "new"
    without_marker = Driver(PatchedWorkflow).start(replaying=True)
    assert completed_result(without_marker) == "old"
    assert only(without_marker.commands, c.SetPatchMarker) == []


@workflow.defn
class DeprecatedPatchWorkflow:
    @workflow.run
    async def run(self) -> None:
        workflow.deprecate_patch("old-fix")


def test_deprecate_patch_records_a_deprecated_marker() -> None:
    done = Driver(DeprecatedPatchWorkflow).start()
    assert only(done.commands, c.SetPatchMarker) == [c.SetPatchMarker("old-fix", deprecated=True)]


# ------------------------------------------------------------------------ loop


@workflow.defn
class ExecutorWorkflow:
    @workflow.run
    async def run(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, print, "hi")


def test_run_in_executor_fails_the_task_with_a_clear_error() -> None:
    completion = Driver(ExecutorWorkflow).start()
    assert isinstance(completion.failure, RuntimeError)
    assert "run_in_executor() is not allowed in a workflow" in str(completion.failure)


@workflow.defn
class InfoWorkflow:
    @workflow.run
    async def run(self) -> list[str]:
        info = workflow.info()
        return [
            info.workflow_id,
            info.workflow_type,
            str(workflow.in_workflow()),
            str(workflow.unsafe.is_replaying()),
            str(info.get_current_history_length()),
        ]


def test_info_and_in_workflow_inside_a_run() -> None:
    assert completed_result(Driver(InfoWorkflow).start()) == [
        "wf-1",
        "InfoWorkflow",
        "True",
        "False",
        "3",
    ]
    assert not workflow.in_workflow()
    with pytest.raises(RuntimeError, match="Not in workflow event loop"):
        workflow.info()


# ------------------------------------------------------------- child workflows


@workflow.defn
class ParentWorkflow:
    @workflow.run
    async def run(self) -> str:
        handle = await workflow.start_child_workflow(GreetWorkflow.run, "kid", id="child-1")
        await handle.signal("poke")
        return f"{handle.first_execution_run_id}: {await handle}"


def test_child_workflow_start_signal_and_result() -> None:
    driver = Driver(ParentWorkflow)
    (start,) = driver.start().commands
    assert isinstance(start, c.StartChildWorkflow)
    assert (start.seq, start.workflow_id, start.workflow_type) == (1, "child-1", "GreetWorkflow")
    (signal,) = driver.activate(c.ResolveChildWorkflowStart(seq=1, run_id="child-run")).commands
    assert isinstance(signal, c.SignalExternalWorkflow) and signal.child_workflow_only
    assert driver.activate(c.ResolveSignalExternalWorkflow(seq=1)).commands == []
    done = driver.activate(
        c.ResolveChildWorkflow(seq=1, completed=payload("hi"), has_completed=True)
    )
    assert completed_result(done) == "child-run: hi"


@workflow.defn
class LeavesHandlesBehind:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        workflow.start_activity("greet", start_to_close_timeout=TIMEOUT)
        await workflow.start_child_workflow(GreetWorkflow.run, "kid", id="child-1")
        await workflow.wait_condition(lambda: self.go, timeout=timedelta(hours=1))
        return "done"

    @workflow.signal
    def release(self) -> None:
        self.go = True


def test_a_finished_run_drops_its_pending_handles_without_asyncio_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import gc

    driver = Driver(LeavesHandlesBehind)
    driver.start()
    driver.activate(c.ResolveChildWorkflowStart(seq=1, run_id="child-run"))
    done = driver.activate(c.SignalWorkflow(signal_name="release", input=[]))
    assert completed_result(done) == "done"
    # The run is over with an activity and a child still pending: dropping the run
    # (as a worker evicts it) must not report "Task was destroyed but it is pending!".
    with caplog.at_level("ERROR"):
        del driver, done
        gc.collect()
    assert [r.getMessage() for r in caplog.records] == []


# --------------------------------------------------------------------- logging


@workflow.defn
class LoggingWorkflow:
    @workflow.run
    async def run(self) -> None:
        workflow.logger.info("hello %s", "there")


def test_logger_adds_workflow_details_and_is_silent_during_replay(caplog) -> None:
    caplog.set_level("INFO", logger="hotmesh_temporal.workflow")
    Driver(LoggingWorkflow).start(replaying=True)
    assert caplog.records == []
    Driver(LoggingWorkflow).start()
    (record,) = caplog.records
    assert record.getMessage().startswith("hello there ({'attempt': 1, 'namespace': 'default'")
    assert record.temporal_workflow["workflow_type"] == "LoggingWorkflow"


def test_stack_trace_query_shows_where_the_run_waits() -> None:
    driver = Driver(SleepWorkflow)
    driver.start(True)
    trace = decode(driver.instance.query("__stack_trace", []))
    assert "workflow run" in trace and "in run" in trace
