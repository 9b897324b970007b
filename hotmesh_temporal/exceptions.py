"""Error types raised by workflows, activities and clients.

The hierarchy, constructor signatures, properties and enum values are those
of ``temporalio.exceptions``, so ``except`` clauses written for Temporal keep
catching the same errors.
"""

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from enum import IntEnum
from typing import Any

import hotmesh_temporal.api.failure.v1


class TemporalError(Exception):
    """Root of every error this SDK defines."""

    @property
    def cause(self) -> BaseException | None:
        """The error that led to this one (same as ``__cause__``)."""
        return self.__cause__


class FailureError(TemporalError):
    """An error that has (or can be turned into) a serialized ``Failure``."""

    def __init__(
        self,
        message: str,
        *,
        failure: hotmesh_temporal.api.failure.v1.Failure | None = None,
        exc_args: tuple | None = None,
    ) -> None:
        """Create a failure error.

        Args:
            message: Human-readable description.
            failure: The serialized failure this error was decoded from, if any.
            exc_args: Values for ``Exception.args`` (defaults to ``(message,)``).
        """
        super().__init__(*(exc_args if exc_args is not None else (message,)))
        self._message = message
        self._failure = failure

    @property
    def message(self) -> str:
        """The message, without any type prefix."""
        return self._message

    @property
    def failure(self) -> hotmesh_temporal.api.failure.v1.Failure | None:
        """The raw failure this error was decoded from, or ``None``."""
        return self._failure


class WorkflowAlreadyStartedError(FailureError):
    """A workflow with this ID is already running (or the reuse policy forbids a new run).

    Attributes:
        workflow_id: ID of the existing workflow.
        workflow_type: Workflow type of the existing workflow.
        run_id: Run ID of the existing workflow, when the client raised this.
        first_run_id: First run ID of the existing chain, when known.
    """

    def __init__(
        self,
        workflow_id: str,
        workflow_type: str,
        *,
        run_id: str | None = None,
        first_run_id: str | None = None,
    ) -> None:
        """Create the error for the given existing workflow."""
        super().__init__("Workflow execution already started")
        self.workflow_id = workflow_id
        self.workflow_type = workflow_type
        self.run_id = run_id
        self.first_run_id = first_run_id


class InvalidVersioningOverrideError(FailureError):
    """A child workflow could not start because its versioning override is invalid."""

    def __init__(self) -> None:
        """Create the error."""
        super().__init__("Invalid versioning override")


class ActivityAlreadyStartedError(FailureError):
    """A standalone activity with this ID has already been started.

    Attributes:
        activity_id: ID of the existing activity.
        activity_type: Activity type of the existing activity.
        run_id: Run ID of the existing activity, when known.
    """

    def __init__(self, activity_id: str, activity_type: str, *, run_id: str | None = None) -> None:
        """Create the error for the given existing activity."""
        super().__init__("Activity execution already started")
        self.activity_id = activity_id
        self.activity_type = activity_type
        self.run_id = run_id


class NexusOperationAlreadyStartedError(FailureError):
    """A Nexus operation with this ID has already been started.

    Attributes:
        operation_id: ID of the existing operation.
        run_id: Run ID of the existing operation, when known.
    """

    def __init__(self, operation_id: str, *, run_id: str | None = None) -> None:
        """Create the error for the given existing operation."""
        super().__init__("Nexus operation execution already started")
        self.operation_id = operation_id
        self.run_id = run_id


class ApplicationErrorCategory(IntEnum):
    """How an application error should be treated by logging and metrics."""

    UNSPECIFIED = 0
    """No particular category: an ordinary error."""

    BENIGN = 1
    """An expected error: logged at a lower level and not counted as a failure metric."""


class ApplicationError(FailureError):
    """An error raised on purpose by user code, with an optional type and details.

    Any other exception leaving a workflow or activity is converted into one of
    these, with the exception's class name as ``type``.
    """

    def __init__(
        self,
        message: str,
        *details: Any,
        type: str | None = None,
        non_retryable: bool = False,
        next_retry_delay: timedelta | None = None,
        category: ApplicationErrorCategory = ApplicationErrorCategory.UNSPECIFIED,
    ) -> None:
        """Create an application error.

        Args:
            message: Human-readable description.
            details: Values serialized alongside the error.
            type: A name used to match ``non_retryable_error_types`` in retry
                policies (defaults to none).
            non_retryable: If true the activity is not retried whatever the
                retry policy says.
            next_retry_delay: Overrides the retry policy's delay before the
                next attempt.
            category: Logging/metrics treatment of the error.
        """
        # str() of the error shows the type in front of the message.
        shown = f"{type}: {message}" if type else message
        super().__init__(message, exc_args=(shown,))
        self._details = details
        self._type = type
        self._non_retryable = non_retryable
        self._next_retry_delay = next_retry_delay
        self._category = category

    @property
    def details(self) -> Sequence[Any]:
        """The detail values given when the error was created."""
        return self._details

    @property
    def type(self) -> str | None:
        """The error type name, if any."""
        return self._type

    @property
    def non_retryable(self) -> bool:
        """Whether the raiser marked this error as never to be retried.

        An error can also stop retries through the retry policy's
        ``non_retryable_error_types``; that is not reflected here.
        """
        return self._non_retryable

    @property
    def next_retry_delay(self) -> timedelta | None:
        """Delay requested before the next retry attempt, if any."""
        return self._next_retry_delay

    @property
    def category(self) -> ApplicationErrorCategory:
        """Logging/metrics category of the error."""
        return self._category


class CancelledError(FailureError):
    """Work was cancelled."""

    def __init__(self, message: str = "Cancelled", *details: Any) -> None:
        """Create a cancellation error with optional detail values."""
        super().__init__(message)
        self._details = details

    @property
    def details(self) -> Sequence[Any]:
        """The detail values attached to the cancellation."""
        return self._details


class TerminatedError(FailureError):
    """A workflow was terminated."""

    def __init__(self, message: str, *details: Any) -> None:
        """Create a termination error with optional detail values."""
        super().__init__(message)
        self._details = details

    @property
    def details(self) -> Sequence[Any]:
        """The detail values attached to the termination."""
        return self._details


class TimeoutType(IntEnum):
    """Which timeout fired."""

    START_TO_CLOSE = 1
    SCHEDULE_TO_START = 2
    SCHEDULE_TO_CLOSE = 3
    HEARTBEAT = 4


class TimeoutError(FailureError):
    """A timeout fired."""

    def __init__(
        self,
        message: str,
        *,
        type: TimeoutType | None,
        last_heartbeat_details: Sequence[Any],
    ) -> None:
        """Create a timeout error.

        Args:
            message: Human-readable description.
            type: Which timeout fired, if known.
            last_heartbeat_details: Details of the last heartbeat before it fired.
        """
        super().__init__(message)
        self._type = type
        self._last_heartbeat_details = last_heartbeat_details

    @property
    def type(self) -> TimeoutType | None:
        """Which timeout fired, if known."""
        return self._type

    @property
    def last_heartbeat_details(self) -> Sequence[Any]:
        """Details recorded by the last heartbeat."""
        return self._last_heartbeat_details


class ServerError(FailureError):
    """An error reported by the workflow service (here: the engine)."""

    def __init__(self, message: str, *, non_retryable: bool = False) -> None:
        """Create a server error."""
        super().__init__(message)
        self._non_retryable = non_retryable

    @property
    def non_retryable(self) -> bool:
        """Whether retrying cannot help."""
        return self._non_retryable


class RetryState(IntEnum):
    """Why an activity or child workflow stopped being retried."""

    IN_PROGRESS = 1
    NON_RETRYABLE_FAILURE = 2
    TIMEOUT = 3
    MAXIMUM_ATTEMPTS_REACHED = 4
    RETRY_POLICY_NOT_SET = 5
    INTERNAL_SERVER_ERROR = 6
    CANCEL_REQUESTED = 7


class ActivityError(FailureError):
    """Raised in a workflow when an activity it ran failed; ``cause`` says why."""

    def __init__(
        self,
        message: str,
        *,
        scheduled_event_id: int,
        started_event_id: int,
        identity: str,
        activity_type: str,
        activity_id: str,
        retry_state: RetryState | None,
    ) -> None:
        """Create an activity error (normally done by the SDK, not users)."""
        super().__init__(message)
        self._scheduled_event_id = scheduled_event_id
        self._started_event_id = started_event_id
        self._identity = identity
        self._activity_type = activity_type
        self._activity_id = activity_id
        self._retry_state = retry_state

    @property
    def scheduled_event_id(self) -> int:
        """History event ID of the activity's scheduling."""
        return self._scheduled_event_id

    @property
    def started_event_id(self) -> int:
        """History event ID of the activity's last start."""
        return self._started_event_id

    @property
    def identity(self) -> str:
        """Identity of the worker that last ran the activity."""
        return self._identity

    @property
    def activity_type(self) -> str:
        """Activity type name."""
        return self._activity_type

    @property
    def activity_id(self) -> str:
        """Activity ID."""
        return self._activity_id

    @property
    def retry_state(self) -> RetryState | None:
        """Why retries stopped, if known."""
        return self._retry_state


class ChildWorkflowError(FailureError):
    """Raised in a workflow when a child workflow failed; ``cause`` says why."""

    def __init__(
        self,
        message: str,
        *,
        namespace: str,
        workflow_id: str,
        run_id: str,
        workflow_type: str,
        initiated_event_id: int,
        started_event_id: int,
        retry_state: RetryState | None,
    ) -> None:
        """Create a child workflow error (normally done by the SDK, not users)."""
        super().__init__(message)
        self._namespace = namespace
        self._workflow_id = workflow_id
        self._run_id = run_id
        self._workflow_type = workflow_type
        self._initiated_event_id = initiated_event_id
        self._started_event_id = started_event_id
        self._retry_state = retry_state

    @property
    def namespace(self) -> str:
        """Namespace of the child."""
        return self._namespace

    @property
    def workflow_id(self) -> str:
        """Workflow ID of the child."""
        return self._workflow_id

    @property
    def run_id(self) -> str:
        """Run ID of the child."""
        return self._run_id

    @property
    def workflow_type(self) -> str:
        """Workflow type name of the child."""
        return self._workflow_type

    @property
    def initiated_event_id(self) -> int:
        """History event ID of the child's initiation in the parent."""
        return self._initiated_event_id

    @property
    def started_event_id(self) -> int:
        """History event ID of the child's start in the parent."""
        return self._started_event_id

    @property
    def retry_state(self) -> RetryState | None:
        """Why retries stopped, if known."""
        return self._retry_state


class NexusOperationError(FailureError):
    """Raised in a workflow when a Nexus operation failed; ``cause`` says why."""

    def __init__(
        self,
        message: str,
        *,
        scheduled_event_id: int,
        endpoint: str,
        service: str,
        operation: str,
        operation_token: str,
    ):
        """Create a Nexus operation error.

        Args:
            message: Human-readable description.
            scheduled_event_id: History event ID of the operation's scheduling.
            endpoint: Endpoint name.
            service: Service name.
            operation: Operation name.
            operation_token: Token the operation returned when it started.
        """
        super().__init__(message)
        self._scheduled_event_id = scheduled_event_id
        self._endpoint = endpoint
        self._service = service
        self._operation = operation
        self._operation_token = operation_token

    @property
    def scheduled_event_id(self) -> int:
        """History event ID of the operation's scheduling."""
        return self._scheduled_event_id

    @property
    def endpoint(self) -> str:
        """Endpoint name."""
        return self._endpoint

    @property
    def service(self) -> str:
        """Service name."""
        return self._service

    @property
    def operation(self) -> str:
        """Operation name."""
        return self._operation

    @property
    def operation_token(self) -> str:
        """Operation token."""
        return self._operation_token


def is_cancelled_exception(exception: BaseException) -> bool:
    """Tell whether an exception means "this was cancelled".

    True for :py:class:`asyncio.CancelledError`, :py:class:`CancelledError`, and
    for activity, child workflow and Nexus operation errors whose cause is a
    :py:class:`CancelledError`. Handy in ``except`` blocks of workflows.
    """
    if isinstance(exception, (asyncio.CancelledError, CancelledError)):
        return True
    wrappers = (ActivityError, ChildWorkflowError, NexusOperationError)
    return isinstance(exception, wrappers) and isinstance(exception.cause, CancelledError)
