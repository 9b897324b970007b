"""Worker interceptor base classes (filled out with every *Input of temporalio)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Type


@dataclass(frozen=True)
class WorkflowInterceptorClassInput:
    """What ``Interceptor.workflow_interceptor_class`` receives."""

    unsafe_extern_functions: Mapping[str, Callable] = field(default_factory=dict)


class ActivityInboundInterceptor:
    def __init__(self, next: "ActivityInboundInterceptor") -> None:
        self.next = next


class ActivityOutboundInterceptor:
    def __init__(self, next: "ActivityOutboundInterceptor") -> None:
        self.next = next


class WorkflowInboundInterceptor:
    def __init__(self, next: "WorkflowInboundInterceptor") -> None:
        self.next = next


class WorkflowOutboundInterceptor:
    def __init__(self, next: "WorkflowOutboundInterceptor") -> None:
        self.next = next


class Interceptor:
    """Base worker interceptor: override what you need."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return next

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> Optional[Type[WorkflowInboundInterceptor]]:
        return None
