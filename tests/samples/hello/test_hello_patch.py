import uuid

from hotmesh_temporal.client import Client
from samples.hello.hello_patch import run_patch_demo


async def test_old_workflows_keep_the_old_branch(client: Client):
    results = await run_patch_demo(client, task_queue=str(uuid.uuid4()))
    assert results == {
        "started on V1": "tea served, water boiled in a pan",
        "started on V2": "tea served, water boiled in a kettle",
        "started on V3": "tea served, water boiled in a kettle",
    }
