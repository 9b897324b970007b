"""A HotMesh worker process for the YAML crash test.

Run as: python crash_worker.py DSN APP_ID [hang]. Serves the app's graphs (engine
worker) and the topics crash.s1..s3; every callback records (job, step, pid) in the
table yaml_crash_runs before returning. With ``hang``, step 2 records itself and then
never returns (the test kills the process there).
"""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg

from hotmesh_temporal.client import Client
from hotmesh_temporal.hotmesh import HotMesh, WorkerSpec

TABLE = "yaml_crash_runs"


def recorder(step: int, hang: bool):
    async def run(data: dict) -> dict:
        conn = await asyncpg.connect(os.environ["CRASH_BASE_DSN"])
        try:
            await conn.execute(
                f"INSERT INTO {os.environ['CRASH_SCHEMA']}.{TABLE} (jid, step, pid) "
                "VALUES ($1, $2, $3)",
                data["jid"],
                step,
                os.getpid(),
            )
        finally:
            await conn.close()
        if hang:
            await asyncio.Event().wait()
        return {"step": step, "total": data.get("total", 0) + step}

    return run


async def main(dsn: str, app_id: str, hang: bool) -> None:
    client = await Client.connect(dsn)
    workers = [
        WorkerSpec("crash.s1", recorder(1, False)),
        WorkerSpec("crash.s2", recorder(2, hang)),
        WorkerSpec("crash.s3", recorder(3, False)),
    ]
    mesh = await HotMesh.init(app_id=app_id, engine=client, workers=workers)
    print("worker ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await mesh.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], len(sys.argv) > 3 and sys.argv[3] == "hang"))
