import uuid

import pytest

from hotmesh_temporal import workflow
from hotmesh_temporal.client import Client, WorkflowHistory
from hotmesh_temporal.worker import Replayer
from samples.replay.__main__ import check_code, record_history
from samples.replay.workflows import OnboardingV1, OnboardingV2


async def test_v1_history_replays_on_v1_only(client: Client):
    task_queue = str(uuid.uuid4())
    history = await record_history(client, task_queue, str(uuid.uuid4()))
    history = WorkflowHistory.from_json(history.workflow_id, history.to_json())

    await Replayer(workflows=[OnboardingV1]).replay_workflow(history)
    with pytest.raises(workflow.NondeterminismError):
        await Replayer(workflows=[OnboardingV2]).replay_workflow(history)
    assert await check_code(history, OnboardingV1) == "OnboardingV1 replays the history"
    assert (await check_code(history, OnboardingV2)).startswith("OnboardingV2 does not replay")
