"""``hotmesh-temporal operator namespace ...`` through client.workflow_service."""

from __future__ import annotations

import uuid


async def test_namespace_create_describe_update_and_list(cli):
    name = f"cli-ns-{uuid.uuid4().hex[:8]}"
    created = await cli(
        "operator", "namespace", "create", name, "--retention", "72h", "--description", "shop",
        "--email", "ops@example.com", "--data", "team=payments",
    )  # fmt: skip
    assert (created.exit_code, created.stdout.strip()) == (
        0,
        f"Namespace {name} successfully registered.",
    )
    described = (await cli("operator", "namespace", "describe", name, "-o", "json")).json()
    assert described == {
        "namespaceInfo": {
            "name": name,
            "state": "Registered",
            "description": "shop",
            "ownerEmail": "ops@example.com",
            "data": {"team": "payments"},
        },
        "config": {"workflowExecutionRetentionTtl": f"{72 * 3600}s"},
    }

    updated = await cli("operator", "namespace", "update", "-n", name, "--retention", "30d")
    assert updated.exit_code == 0, updated.stderr
    table = await cli("operator", "namespace", "describe", "-n", name)
    card = [line.split(None, 1) for line in table.stdout.splitlines()]
    assert ["Config.WorkflowExecutionRetentionTtl", "720h0m0s"] in card
    assert ["NamespaceInfo.Description", "shop"] in card

    too_short = await cli("operator", "namespace", "update", name, "--retention", "1h")
    assert too_short.exit_code == 1 and too_short.stderr.startswith("Error: ")
    still = (await cli("operator", "namespace", "describe", name, "-o", "json")).json()
    assert still["config"]["workflowExecutionRetentionTtl"] == f"{30 * 86400}s"

    again = await cli("operator", "namespace", "create", name)
    assert again.exit_code == 1 and "already exists" in again.stderr

    listed = (await cli("operator", "namespace", "list", "-o", "json")).json()
    assert name in [n["namespaceInfo"]["name"] for n in listed]
