"""The workflow sandbox's refusals, against temporalio 1.35's default restrictions.

Each case of sandbox_cases.py is called from workflow code in temporalio's own
sandboxed workflow instance (its SandboxedWorkflowRunner, fed activations) and in a
hotmesh_temporal workflow on a worker and Postgres (default runner). What is refused
must be refused with the same error and text, and what temporalio lets through must
work here too. The clock, random and uuid4 calls that hotmesh_temporal answers from
the workflow instead of refusing are listed apart (docs/determinism.md).
"""

from __future__ import annotations

import logging
import sys
import uuid
import warnings

import pytest
import temporalio.converter
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner as TemporalioSandbox

from hotmesh_temporal.worker import Worker
from tests.compat import sandbox_workflow_ours, sandbox_workflow_temporalio
from tests.compat.sandbox_cases import CASE_NAMES
from tests.compat.temporalio_run import TemporalioRun

# Refused by temporalio, answered deterministically here (docs/determinism.md: the
# guard *follows* workflow time and randomness for these).
FOLLOWED = {"case_time_time", "case_random_randint", "case_uuid4"}

# Attribute reads and uses of os.environ (not calls) temporalio refuses, and the
# ones its proxies let through.
READS_REFUSED = {
    "case_os_name",
    "case_os_path_join",
    "case_os_environ_item",
    "case_os_environ_get",
    "case_os_environ_copy",
    "case_os_environ_pop",
}
READS_PASSED = {
    "case_os_sep",
    "case_os_environ_contains",
    "case_os_environ_len_and_iteration",
    "case_os_environ_repr",
    "case_os_environ_set_and_delete",
    "case_os_environb_bytes_item",
}

_PAYLOADS = temporalio.converter.DataConverter.default.payload_converter


def temporalio_outcome(name: str) -> list:
    run = TemporalioRun(sandbox_workflow_temporalio.SandboxCase, runner=TemporalioSandbox())
    completion = run.start(name)
    assert not completion.HasField("failed"), completion.failed.failure.message
    [command] = completion.successful.commands
    return _PAYLOADS.from_payload(command.complete_workflow_execution.result)


@pytest.fixture(scope="module")
async def temporalio_outcomes() -> dict[str, list]:
    return {name: temporalio_outcome(name) for name in CASE_NAMES}


async def test_refusals_match_temporalio(client, task_queue, temporalio_outcomes):
    ours: dict[str, list] = {}
    cls = sandbox_workflow_ours.SandboxCase
    async with Worker(client, task_queue=task_queue, workflows=[cls]):
        for name in CASE_NAMES:
            ours[name] = await client.execute_workflow(
                cls.run, name, id=f"sandbox-{uuid.uuid4()}", task_queue=task_queue
            )
    refused = {n for n, o in temporalio_outcomes.items() if o[0] != "ok"}
    assert FOLLOWED <= refused
    assert READS_REFUSED <= refused and not READS_PASSED & refused
    assert len(refused) > 10 and "case_json_dumps" not in refused
    for name in CASE_NAMES:
        theirs = temporalio_outcomes[name]
        if name in FOLLOWED:
            assert ours[name][0] == "ok", (name, ours[name])
        elif theirs[0] == "ok":
            assert ours[name][0] == "ok", (name, ours[name])
        else:
            assert ours[name] == theirs, name


async def test_refusals_are_logged_as_temporalio_logs_them(client, task_queue, caplog):
    cls = sandbox_workflow_ours.SandboxCase
    async with Worker(client, task_queue=task_queue, workflows=[cls]):
        with caplog.at_level(logging.WARNING):
            await client.execute_workflow(
                cls.run, "case_os_getcwd", id=f"sandbox-{uuid.uuid4()}", task_queue=task_queue
            )
    assert (
        "hotmesh_temporal.worker.workflow_sandbox._restrictions",
        "__call__ on os.getcwd restricted",
    ) in [(r.name, r.getMessage()) for r in caplog.records]


async def test_asyncio_wait_warns_as_temporalio(client, task_queue):
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        assert temporalio_outcome("asyncio_wait") == ["ok", "1"]
    expected = [(w.category, str(w.message)) for w in theirs if w.category is UserWarning]
    assert expected == [
        (UserWarning, "asyncio.wait() is non-deterministic, use workflow.wait() instead")
    ]
    cls = sandbox_workflow_ours.SandboxCase
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        async with Worker(client, task_queue=task_queue, workflows=[cls]):
            result = await client.execute_workflow(
                cls.run, "asyncio_wait", id=f"sandbox-{uuid.uuid4()}", task_queue=task_queue
            )
    assert result == ["ok", "1"]
    assert [(w.category, str(w.message)) for w in ours if w.category is UserWarning] == expected


async def test_a_passed_through_module_is_not_refused(client, task_queue, temporalio_outcomes):
    assert temporalio_outcome("passed_through") == ["ok", "True"]
    assert temporalio_outcomes["case_os_getcwd"][0] == "RestrictedWorkflowAccessError"
    cls = sandbox_workflow_ours.SandboxCase
    async with Worker(client, task_queue=task_queue, workflows=[cls]):
        result = await client.execute_workflow(
            cls.run, "passed_through", id=f"sandbox-{uuid.uuid4()}", task_queue=task_queue
        )
    assert result == ["ok", "True"]


def _dynamic_import_warnings(caught: list) -> list[tuple[type, str]]:
    return [
        (w.category, str(w.message)) for w in caught if "initial workflow load" in str(w.message)
    ]


async def test_a_module_first_imported_by_workflow_code_warns_as_temporalio(client, task_queue):
    sys.modules.pop("tests.compat.sandbox_dynamic_module", None)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        assert temporalio_outcome("dynamic_import") == ["ok", "loaded"]
    expected = _dynamic_import_warnings(theirs)
    assert expected == [
        (
            UserWarning,
            "Module tests.compat.sandbox_dynamic_module was imported after initial workflow load.",
        )
    ]
    sys.modules.pop("tests.compat.sandbox_dynamic_module", None)
    cls = sandbox_workflow_ours.SandboxCase
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        async with Worker(client, task_queue=task_queue, workflows=[cls]):
            result = await client.execute_workflow(
                cls.run, "dynamic_import", id=f"sandbox-{uuid.uuid4()}", task_queue=task_queue
            )
    assert result == ["ok", "loaded"]
    assert _dynamic_import_warnings(ours) == expected


async def test_refused_reads_are_logged_as_temporalio_logs_them(client, task_queue, caplog):
    cls = sandbox_workflow_ours.SandboxCase
    async with Worker(client, task_queue=task_queue, workflows=[cls]):
        with caplog.at_level(logging.WARNING):
            for case in ("case_os_name", "case_os_environ_get"):
                await client.execute_workflow(
                    cls.run, case, id=f"sandbox-{uuid.uuid4()}", task_queue=task_queue
                )
    logged = [(r.name, r.getMessage()) for r in caplog.records]
    logger = "hotmesh_temporal.worker.workflow_sandbox._restrictions"
    assert (logger, "name on os restricted") in logged
    assert (logger, "get on os.environ restricted") in logged
