"""The YAML front end next to the code front end: one 3-step workflow both ways.

    python -m bench.yaml_bench                 # throwaway cluster, default sizes
    python -m bench.yaml_bench --quick         # small sizes
    python -m bench.yaml_bench --dsn postgresql://user@host/db

The code workflow runs three activities in sequence; the YAML graph is trigger ->
three worker activities with the same callbacks, its input mapped from the previous
step's output. Variants:

- ``code``: the activities on the workflow's worker (its task queue);
- ``yaml``: the default, worker topics on their own task queues, served by the
  HotMesh that runs the graphs (its one Worker serves them all);
- ``yaml colocated``: ``colocated=True`` (the callbacks on the app's queue);
- ``code remote``: the activities on another task queue, served by another Worker;
- ``yaml remote``: the topics served only by another HotMesh (``engine_worker=False``),
  so each step is claimed there, as with worker processes apart from the engine's.

Latency: sequential runs (start to result) after a warm-up, median and p95.
Throughput: ``--jobs`` runs started at once, completed runs per second. The variants
take turns in four rounds. CPU: of this process (client and workers) per sequential
run. Prints the YAML/code ratios (yaml and yaml colocated against code, yaml remote
against code remote; the target is YAML within 1.5x of code); never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

if __package__ in (None, ""):
    from pgcluster import TempCluster  # type: ignore[import-not-found]
    from stats import percentile  # type: ignore[import-not-found]
else:
    from bench.pgcluster import TempCluster
    from bench.stats import percentile

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.client import Client
from hotmesh_temporal.hotmesh import HotMesh, WorkerSpec
from hotmesh_temporal.worker import Worker


def step(data: dict) -> dict:
    return {"n": data["n"] + 1}


async def step_async(data: dict) -> dict:
    return step(data)


@activity.defn(name="bench.step")
async def step_activity(n: int) -> int:
    return n + 1


@workflow.defn
class ThreeSteps:
    @workflow.run
    async def run(self, n: int, activity_queue: str | None = None) -> int:
        for _ in range(3):
            n = await workflow.execute_activity(
                step_activity,
                n,
                task_queue=activity_queue,
                start_to_close_timeout=timedelta(seconds=30),
            )
        return n


GRAPH = """
app:
  id: {app}
  version: '1'
  graphs:
    - subscribes: bench.three
      activities:
        t1:
          type: trigger
        s1:
          type: worker
          topic: bench.s1
          input:
            maps:
              n: '{{t1.output.data.n}}'
        s2:
          type: worker
          topic: bench.s2
          input:
            maps:
              n: '{{s1.output.data.n}}'
        s3:
          type: worker
          topic: bench.s3
          input:
            maps:
              n: '{{s2.output.data.n}}'
          job:
            maps:
              n: '{{$self.output.data.n}}'
      transitions:
        t1:
          - to: s1
        s1:
          - to: s2
        s2:
          - to: s3
"""


ROUNDS = 4  # the three variants take turns, so a noisy shared host hits them alike


async def measure(
    runners: dict[str, Callable[[int], Awaitable[int]]], args: argparse.Namespace
) -> dict:
    figures = {name: {"samples": [], "cpu": 0.0, "elapsed": 0.0} for name in runners}
    for run_one in runners.values():
        for i in range(args.warmup):
            assert await run_one(i) == i + 3
    per_round = max(args.runs // ROUNDS, 1)
    jobs_per_round = max(args.jobs // ROUNDS, 1)
    for _ in range(ROUNDS):
        for name, run_one in runners.items():
            cpu0 = time.process_time()
            for i in range(per_round):
                t0 = time.perf_counter()
                assert await run_one(i) == i + 3
                figures[name]["samples"].append((time.perf_counter() - t0) * 1000)
            figures[name]["cpu"] += time.process_time() - cpu0
            t0 = time.perf_counter()
            results = await asyncio.gather(*(run_one(i) for i in range(jobs_per_round)))
            figures[name]["elapsed"] += time.perf_counter() - t0
            assert results == [i + 3 for i in range(jobs_per_round)]
    return {
        name: {
            "median": percentile(f["samples"], 50),
            "p95": percentile(f["samples"], 95),
            "cpu": f["cpu"] * 1000 / (per_round * ROUNDS),
            "throughput": jobs_per_round * ROUNDS / f["elapsed"],
        }
        for name, f in figures.items()
    }


# Which YAML variant is held against which code variant.
PAIRS = (("yaml", "code"), ("yaml colocated", "code"), ("yaml remote", "code remote"))


async def bench(dsn: str, args: argparse.Namespace) -> None:
    client = await Client.connect(dsn)
    queue = f"bench-code-{uuid.uuid4().hex[:6]}"
    remote_queue = f"{queue}-remote"
    workers = [WorkerSpec(f"bench.s{i}", step_async) for i in (1, 2, 3)]
    meshes: list[HotMesh] = []
    async with (
        Worker(client, task_queue=queue, workflows=[ThreeSteps], activities=[step_activity]),
        Worker(client, task_queue=remote_queue, activities=[step_activity]),
    ):
        try:
            runners: dict[str, Callable[[int], Awaitable[int]]] = {
                "code": _code_runner(client, queue, None),
                "code remote": _code_runner(client, queue, remote_queue),
            }
            for label, colocated in (("yaml", False), ("yaml colocated", True)):
                app = f"bench{secrets.token_hex(3)}"
                mesh = await HotMesh.init(
                    app_id=app, engine=client, workers=workers, colocated=colocated
                )
                meshes.append(mesh)
                runners[label] = await _deployed_runner(mesh)
            app = f"bench{secrets.token_hex(3)}"
            engine_only = await HotMesh.init(app_id=app, engine=client)
            meshes.append(engine_only)
            meshes.append(
                await HotMesh.init(app_id=app, engine=client, workers=workers, engine_worker=False)
            )
            runners["yaml remote"] = await _deployed_runner(engine_only)
            results = await measure(runners, args)
        finally:
            for mesh in meshes:
                await mesh.stop()

    print(f"{'':16}{'median ms':>12}{'p95 ms':>10}{'CPU ms/run':>12}{'runs/s':>10}")
    for name, figures in results.items():
        print(
            f"{name:16}{figures['median']:>12.2f}{figures['p95']:>10.2f}{figures['cpu']:>12.2f}"
            f"{figures['throughput']:>10.1f}"
        )
    for name, against in PAIRS:
        code = results[against]
        latency_ratio = results[name]["median"] / code["median"]
        throughput_ratio = code["throughput"] / results[name]["throughput"]
        verdict = "MET" if max(latency_ratio, throughput_ratio) <= 1.5 else "NOT MET"
        print(
            f"{name}/{against}: latency {latency_ratio:.2f}x, throughput {throughput_ratio:.2f}x "
            f"slower, CPU {results[name]['cpu'] / code['cpu']:.2f}x (target <= 1.5x: {verdict})"
        )


def _code_runner(
    client: Client, queue: str, activity_queue: str | None
) -> Callable[[int], Awaitable[int]]:
    async def code_run(i: int) -> int:
        return await client.execute_workflow(
            ThreeSteps.run,
            args=[i, activity_queue],
            id=f"code-{uuid.uuid4().hex}",
            task_queue=queue,
        )

    return code_run


async def _deployed_runner(mesh: HotMesh) -> Callable[[int], Awaitable[int]]:
    await mesh.deploy(GRAPH.format(app=mesh.app_id))
    await mesh.activate("1")
    return _yaml_runner(mesh)


async def bench_in_scratch_schema(dsn: str, args: argparse.Namespace) -> None:
    """Run in a fresh schema of an existing database, dropped afterwards."""
    import asyncpg

    from hotmesh_temporal._engine.store.dsn import quote_ident, with_schema

    schema = f"hm_bench_{secrets.token_hex(4)}"
    try:
        await bench(with_schema(dsn, schema), args)
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        finally:
            await conn.close()


def _yaml_runner(mesh: HotMesh) -> Callable[[int], Awaitable[int]]:
    async def yaml_run(i: int) -> int:
        return (await mesh.pubsub("bench.three", {"n": i}, timeout=120)).data["n"]

    return yaml_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", help="an existing database (default: a throwaway cluster)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=200, help="runs started at once")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.warmup, args.jobs = 20, 5, 20
    if args.dsn:
        asyncio.run(bench_in_scratch_schema(args.dsn, args))
        return 0
    cluster = TempCluster()
    try:
        cluster.start()
        asyncio.run(bench(cluster.dsn, args))
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
