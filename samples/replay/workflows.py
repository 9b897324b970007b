"""One workflow type, ``Onboarding``, in two versions.

``OnboardingV2`` sends the welcome email before creating the account: the same workflow
type with its commands in another order. Replaying a V1 history on V2 code fails with a
``NondeterminismError``, before any worker runs V2 against real workflows.
"""

from datetime import timedelta

from hotmesh_temporal import activity, workflow

STEP = dict(start_to_close_timeout=timedelta(seconds=5))


@activity.defn
async def create_account(user: str) -> str:
    return f"account for {user}"


@activity.defn
async def send_welcome_email(user: str) -> str:
    return f"welcome email to {user}"


@workflow.defn(name="Onboarding")
class OnboardingV1:
    @workflow.run
    async def run(self, user: str) -> list:
        account = await workflow.execute_activity(create_account, user, **STEP)
        await workflow.sleep(timedelta(milliseconds=100))
        email = await workflow.execute_activity(send_welcome_email, user, **STEP)
        return [account, email]


@workflow.defn(name="Onboarding")
class OnboardingV2:
    @workflow.run
    async def run(self, user: str) -> list:
        email = await workflow.execute_activity(send_welcome_email, user, **STEP)
        account = await workflow.execute_activity(create_account, user, **STEP)
        return [account, email]
