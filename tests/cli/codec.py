"""A payload codec the ``--codec`` tests name as ``tests.cli.codec:Base64Codec``."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from hotmesh_temporal.api.common.v1 import Payload
from hotmesh_temporal.converter import PayloadCodec


class Base64Codec(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": b"binary/b64"}, data=base64.b64encode(p.SerializeToString())
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") == b"binary/b64":
                out.append(Payload.FromString(base64.b64decode(p.data)))
            else:
                out.append(p)
        return out
