"""``Money`` is neither a dataclass nor JSON: the ``MoneyPayloadConverter`` encodes it as text.

The converter is added in front of the default ones, so every other value is still JSON.
Client and worker must share the data converter: the worker takes the client's.
"""

import dataclasses
from decimal import Decimal
from typing import Any

from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
)

MONEY_ENCODING = "text/x-money"


class Money:
    """An exact amount in one currency."""

    def __init__(self, amount: Decimal, currency: str) -> None:
        self.amount = amount
        self.currency = currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.amount, self.currency) == (
            other.amount,
            other.currency,
        )

    def __repr__(self) -> str:
        return f"Money({self.amount} {self.currency})"


class MoneyPayloadConverter(EncodingPayloadConverter):
    @property
    def encoding(self) -> str:
        return MONEY_ENCODING

    def to_payload(self, value: Any) -> Payload | None:
        if not isinstance(value, Money):
            return None  # not ours: the next converter tries
        return Payload(
            metadata={"encoding": self.encoding.encode()},
            data=f"{value.amount} {value.currency}".encode(),
        )

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        amount, currency = payload.data.decode().split(" ")
        return Money(Decimal(amount), currency)


class MoneyAwarePayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            MoneyPayloadConverter(), *DefaultPayloadConverter.default_encoding_payload_converters
        )


money_data_converter = dataclasses.replace(
    DataConverter.default, payload_converter_class=MoneyAwarePayloadConverter
)
