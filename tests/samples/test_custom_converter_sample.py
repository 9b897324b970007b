import uuid
from decimal import Decimal

from hotmesh_temporal.client import Client
from hotmesh_temporal.worker import Worker
from samples.custom_converter.money import MONEY_ENCODING, Money, money_data_converter
from samples.custom_converter.workflows import InvoiceWorkflow


async def test_money_travels_with_its_own_encoding(client: Client):
    # Same connection, the sample's data converter.
    config = client.config()
    config["data_converter"] = money_data_converter
    money_client = Client(**config)
    task_queue = str(uuid.uuid4())
    async with Worker(money_client, task_queue=task_queue, workflows=[InvoiceWorkflow]):
        handle = await money_client.start_workflow(
            InvoiceWorkflow.run,
            Money(Decimal("10.00"), "GBP"),
            id=str(uuid.uuid4()),
            task_queue=task_queue,
        )
        # The default JSON converter cannot encode Money at all.
        assert await handle.result() == Money(Decimal("12.00"), "GBP")


def test_money_is_encoded_as_text():
    converter = money_data_converter.payload_converter
    payload = converter.to_payload(Money(Decimal("10.00"), "GBP"))
    assert payload.metadata["encoding"] == MONEY_ENCODING.encode()
    assert payload.data == b"10.00 GBP"
    assert converter.from_payload(payload) == Money(Decimal("10.00"), "GBP")


def test_other_values_are_still_json():
    converter = money_data_converter.payload_converter
    payload = converter.to_payload({"a": 1})
    assert payload.metadata["encoding"] == b"json/plain"
    assert converter.from_payload(payload) == {"a": 1}
