"""Every converter kind through a real workflow and activity: a custom
EncodingPayloadConverter first in a composite, the default JSON converter's types,
pydantic models in and out, and failures with encoded attributes."""

from __future__ import annotations

import dataclasses
import ipaddress
import uuid
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

import pydantic
import pytest

from hotmesh_temporal import activity, workflow
from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.client import Client, WorkflowFailureError
from hotmesh_temporal.common import RetryPolicy
from hotmesh_temporal.contrib.pydantic import pydantic_data_converter
from hotmesh_temporal.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
)
from hotmesh_temporal.exceptions import ActivityError, ApplicationError
from hotmesh_temporal.worker import Worker


def wf_id() -> str:
    return f"conv-{uuid.uuid4()}"


async def started_input(client: Client, workflow_id: str) -> list[Payload]:
    store = (await client._engine()).store
    row = await store.fetchrow("find_run", client.namespace, workflow_id, None)
    events = await store.fetchval("events_after", row["run_id"], 0)
    attrs = events[0]["attrs"]
    return [Payload.from_json_dict(p) for p in attrs["input"]["payloads"]]


# ------------------------------------------------ custom encoding converter


@dataclasses.dataclass(frozen=True)
class Money:
    cents: int
    currency: str


class MoneyConverter(EncodingPayloadConverter):
    """Money as "1234 EUR" text under its own encoding."""

    @property
    def encoding(self) -> str:
        return "text/money"

    def to_payload(self, value: Any) -> Payload | None:
        if not isinstance(value, Money):
            return None
        return Payload(
            metadata={"encoding": self.encoding.encode()},
            data=f"{value.cents} {value.currency}".encode(),
        )

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        cents, currency = payload.data.decode().split()
        return Money(int(cents), currency)


class MoneyFirstConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            MoneyConverter(), *DefaultPayloadConverter.default_encoding_payload_converters
        )


@activity.defn
async def add_tax(price: Money) -> Money:
    assert isinstance(price, Money)
    return Money(price.cents * 120 // 100, price.currency)


@workflow.defn
class PricingWorkflow:
    @workflow.run
    async def run(self, price: Money, label: str) -> tuple[Money, str]:
        taxed = await workflow.execute_activity(
            add_tax, price, start_to_close_timeout=timedelta(seconds=10)
        )
        return taxed, label


async def test_custom_encoding_converter_first_in_composite(client: Client, task_queue: str):
    money_client = Client(
        **{
            **client.config(),
            "data_converter": DataConverter(payload_converter_class=MoneyFirstConverter),
        }
    )
    workflow_id = wf_id()
    async with Worker(
        money_client, task_queue=task_queue, workflows=[PricingWorkflow], activities=[add_tax]
    ):
        taxed, label = await money_client.execute_workflow(
            PricingWorkflow.run,
            args=[Money(1000, "EUR"), "plain"],
            id=workflow_id,
            task_queue=task_queue,
        )
    assert (taxed, label) == (Money(1200, "EUR"), "plain")
    price, text = await started_input(client, workflow_id)
    assert price.metadata["encoding"] == b"text/money" and price.data == b"1000 EUR"
    assert text.metadata["encoding"] == b"json/plain"  # others fall through to the defaults


# ----------------------------------------------------- default JSON types


class Color(str, Enum):  # plain Enums are not JSON-serializable, in temporalio either
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Order:
    id: uuid.UUID
    placed: datetime
    colors: list[Color]
    notes: dict[str, int]


@activity.defn
async def repaint(order: Order) -> Order:
    assert isinstance(order.placed, datetime) and isinstance(order.colors[0], Color)
    return dataclasses.replace(order, colors=[Color.BLUE for _ in order.colors])


@workflow.defn
class OrderWorkflow:
    @workflow.run
    async def run(self, order: Order) -> Order:
        assert isinstance(order.id, uuid.UUID)
        return await workflow.execute_activity(
            repaint, order, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_default_json_types_round_trip(client: Client, task_queue: str):
    order = Order(
        id=uuid.uuid4(),
        placed=datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc),
        colors=[Color.RED, Color.RED],
        notes={"a": 1},
    )
    async with Worker(
        client, task_queue=task_queue, workflows=[OrderWorkflow], activities=[repaint]
    ):
        result = await client.execute_workflow(
            OrderWorkflow.run, order, id=wf_id(), task_queue=task_queue
        )
    assert result == dataclasses.replace(order, colors=[Color.BLUE, Color.BLUE])


async def test_binary_and_null_payloads_round_trip(client: Client, task_queue: str):
    async with Worker(client, task_queue=task_queue, workflows=[EchoWorkflow], activities=[echo]):
        assert (
            await client.execute_workflow(
                EchoWorkflow.run, b"\x00\x01bytes", id=wf_id(), task_queue=task_queue
            )
            == b"\x00\x01bytes"
        )
        assert (
            await client.execute_workflow(EchoWorkflow.run, None, id=wf_id(), task_queue=task_queue)
            is None
        )


@activity.defn
async def echo(value: Any) -> Any:
    return value


@workflow.defn
class EchoWorkflow:
    @workflow.run
    async def run(self, value: Any) -> Any:
        return await workflow.execute_activity(
            echo, value, start_to_close_timeout=timedelta(seconds=10)
        )


# ---------------------------------------------------------------- pydantic


class Address(pydantic.BaseModel):
    street: str
    ip: ipaddress.IPv4Address


class Customer(pydantic.BaseModel):
    name: str
    since: datetime
    addresses: list[Address]


class Receipt(pydantic.BaseModel):
    customer: Customer
    total: float


@activity.defn
async def bill(customer: Customer) -> Receipt:
    assert isinstance(customer.addresses[0].ip, ipaddress.IPv4Address)
    return Receipt(customer=customer, total=9.5)


@workflow.defn
class BillingWorkflow:
    @workflow.run
    async def run(self, customer: Customer) -> Receipt:
        assert isinstance(customer.since, datetime)
        return await workflow.execute_activity(
            bill, customer, start_to_close_timeout=timedelta(seconds=10)
        )


async def test_pydantic_models_in_and_out(client: Client, task_queue: str):
    pyd_client = Client(**{**client.config(), "data_converter": pydantic_data_converter})
    customer = Customer(
        name="Ada",
        since=datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        addresses=[Address(street="Main", ip=ipaddress.IPv4Address("10.0.0.1"))],
    )
    async with Worker(
        pyd_client, task_queue=task_queue, workflows=[BillingWorkflow], activities=[bill]
    ):
        receipt = await pyd_client.execute_workflow(
            BillingWorkflow.run, customer, id=wf_id(), task_queue=task_queue
        )
    assert receipt == Receipt(customer=customer, total=9.5)


# ------------------------------------------------ encoded failure attributes


@activity.defn
async def refuse(reason: str) -> None:
    raise ApplicationError(
        f"refused: {reason}", {"reason": reason}, type="Refusal", non_retryable=True
    )


@workflow.defn
class RefusingWorkflow:
    @workflow.run
    async def run(self, reason: str) -> None:
        try:
            await workflow.execute_activity(
                refuse,
                reason,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            # The workflow sees the decoded message and details.
            raise ApplicationError(
                f"workflow saw {cause.message}", *cause.details, type=cause.type
            ) from err


async def test_failures_with_encoded_attributes(client: Client, task_queue: str):
    converter = dataclasses.replace(
        DataConverter.default, failure_converter_class=DefaultFailureConverterWithEncodedAttributes
    )
    enc_client = Client(**{**client.config(), "data_converter": converter})
    workflow_id = wf_id()
    async with Worker(
        enc_client, task_queue=task_queue, workflows=[RefusingWorkflow], activities=[refuse]
    ):
        with pytest.raises(WorkflowFailureError) as caught:
            await enc_client.execute_workflow(
                RefusingWorkflow.run, "no stock", id=workflow_id, task_queue=task_queue
            )
    error = caught.value.cause
    assert isinstance(error, ApplicationError)
    assert error.message == "workflow saw refused: no stock"
    assert error.type == "Refusal"
    assert list(error.details) == [{"reason": "no stock"}]
    # At rest the messages are replaced, as Temporal does with encoded attributes.
    store = (await client._engine()).store
    row = await store.fetchrow("find_run", client.namespace, workflow_id, None)
    events = await store.fetchval("events_after", row["run_id"], 0)
    failures = [e["attrs"]["failure"] for e in events if "failure" in e["attrs"]]
    assert failures and all(f["message"] == "Encoded failure" for f in failures)
    assert all("encodedAttributes" in f for f in failures)
