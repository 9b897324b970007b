"""Workers run workflows and activities (``temporalio.worker``'s names)."""

from hotmesh_temporal.worker._interceptor import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from hotmesh_temporal.worker._worker import Worker

__all__ = [
    "ActivityInboundInterceptor",
    "ActivityOutboundInterceptor",
    "Interceptor",
    "Worker",
    "WorkflowInboundInterceptor",
    "WorkflowInterceptorClassInput",
    "WorkflowOutboundInterceptor",
]
