"""The workflow- and operator-service messages are byte-compatible with temporalio's
(test-only import of temporalio): what one side serializes the other parses."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytest.importorskip("temporalio")

from temporalio.api.operatorservice import v1 as their_ops  # noqa: E402
from temporalio.api.workflowservice import v1 as their_wfs  # noqa: E402

from hotmesh_temporal.api.common.v1 import WorkflowExecution  # noqa: E402
from hotmesh_temporal.api.operatorservice import v1 as ops  # noqa: E402
from hotmesh_temporal.api.workflowservice import v1 as wfs  # noqa: E402


def test_register_namespace_request_round_trips() -> None:
    ours = wfs.RegisterNamespaceRequest(
        namespace="orders", description="d", owner_email="o@x", data={"k": "v"}
    )
    ours.workflow_execution_retention_period.FromTimedelta(timedelta(days=3))
    theirs = their_wfs.RegisterNamespaceRequest.FromString(ours.SerializeToString())
    assert theirs.namespace == "orders" and dict(theirs.data) == {"k": "v"}
    assert theirs.workflow_execution_retention_period.ToTimedelta() == timedelta(days=3)
    back = wfs.RegisterNamespaceRequest.FromString(theirs.SerializeToString())
    assert back == ours


def test_update_and_describe_namespace_messages_round_trip() -> None:
    theirs = their_wfs.UpdateNamespaceRequest(namespace="orders")
    theirs.update_info.description = "new"
    theirs.config.workflow_execution_retention_ttl.FromTimedelta(timedelta(days=10))
    ours = wfs.UpdateNamespaceRequest.FromString(theirs.SerializeToString())
    assert ours.update_info.description == "new"
    assert ours.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=10)

    described = wfs.DescribeNamespaceResponse()
    described.namespace_info.name = "orders"
    described.namespace_info.state = 1
    described.config.workflow_execution_retention_ttl.FromTimedelta(timedelta(hours=72))
    parsed = their_wfs.DescribeNamespaceResponse.FromString(described.SerializeToString())
    assert parsed.namespace_info.name == "orders" and parsed.namespace_info.state == 1
    assert parsed.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(hours=72)


def test_delete_and_search_attribute_requests_round_trip() -> None:
    ours = wfs.DeleteWorkflowExecutionRequest(
        namespace="n", workflow_execution=WorkflowExecution(workflow_id="w", run_id="r")
    )
    theirs = their_wfs.DeleteWorkflowExecutionRequest.FromString(ours.SerializeToString())
    assert (theirs.workflow_execution.workflow_id, theirs.workflow_execution.run_id) == ("w", "r")

    add = ops.AddSearchAttributesRequest(namespace="n", search_attributes={"CustomerId": 2})
    parsed = their_ops.AddSearchAttributesRequest.FromString(add.SerializeToString())
    assert dict(parsed.search_attributes) == {"CustomerId": 2}
    remove = ops.RemoveSearchAttributesRequest(namespace="n", search_attributes=["A", "B"])
    assert list(
        their_ops.RemoveSearchAttributesRequest.FromString(
            remove.SerializeToString()
        ).search_attributes
    ) == ["A", "B"]
