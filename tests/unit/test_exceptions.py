"""Error types: hierarchy, messages, properties, cancellation detection."""

import asyncio
from datetime import timedelta

import pytest

from hotmesh_temporal import exceptions as exc


def test_hierarchy():
    for cls in (
        exc.ApplicationError,
        exc.CancelledError,
        exc.TerminatedError,
        exc.TimeoutError,
        exc.ServerError,
        exc.ActivityError,
        exc.ChildWorkflowError,
        exc.NexusOperationError,
        exc.WorkflowAlreadyStartedError,
    ):
        assert issubclass(cls, exc.FailureError)
    assert issubclass(exc.FailureError, exc.TemporalError)
    assert issubclass(exc.TemporalError, Exception)


def test_application_error_str_and_properties():
    err = exc.ApplicationError(
        "boom", 1, "two", type="MyErr", non_retryable=True, next_retry_delay=timedelta(seconds=3)
    )
    assert str(err) == "MyErr: boom"
    assert err.message == "boom"
    assert err.details == (1, "two")
    assert err.non_retryable and err.type == "MyErr"
    assert err.next_retry_delay == timedelta(seconds=3)
    assert err.category is exc.ApplicationErrorCategory.UNSPECIFIED
    assert err.failure is None
    assert str(exc.ApplicationError("plain")) == "plain"


def test_defaults():
    assert exc.CancelledError().message == "Cancelled"
    assert exc.ServerError("s").non_retryable is False
    started = exc.WorkflowAlreadyStartedError("id", "Type", run_id="r")
    assert started.message == "Workflow execution already started"
    assert (started.workflow_id, started.workflow_type, started.run_id, started.first_run_id) == (
        "id",
        "Type",
        "r",
        None,
    )


def test_enum_values_match_temporal_api():
    assert exc.TimeoutType.START_TO_CLOSE == 1 and exc.TimeoutType.HEARTBEAT == 4
    assert exc.RetryState.MAXIMUM_ATTEMPTS_REACHED == 4
    assert exc.RetryState.CANCEL_REQUESTED == 7
    assert exc.ApplicationErrorCategory.BENIGN == 1


def test_cause_property():
    try:
        try:
            raise ValueError("x")
        except ValueError as e:
            raise exc.ApplicationError("wrapped") from e
    except exc.ApplicationError as err:
        assert isinstance(err.cause, ValueError)


def _activity_error(cause):
    err = exc.ActivityError(
        "a",
        scheduled_event_id=1,
        started_event_id=2,
        identity="i",
        activity_type="t",
        activity_id="1",
        retry_state=None,
    )
    err.__cause__ = cause
    return err


@pytest.mark.parametrize(
    "error, expected",
    [
        (asyncio.CancelledError(), True),
        (exc.CancelledError(), True),
        (_activity_error(exc.CancelledError()), True),
        (_activity_error(exc.ApplicationError("x")), False),
        (ValueError(), False),
    ],
)
def test_is_cancelled_exception(error, expected):
    assert exc.is_cancelled_exception(error) is expected
