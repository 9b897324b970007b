"""Apply the user's payload codec (encryption, compression...) at the edge of workflow
code: payloads are decoded on their way into an activation and encoded on their way
out, so workflow code only ever sees the payload converter, and every payload at rest
in Postgres is encoded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from hotmesh_temporal._engine.runtime import activation as c

# The payload-carrying fields of each job and command: (field, kind) where kind is
# "list" (sequence of payloads), "one" (optional payload), "map" (str -> payload) or
# "failure".
_JOB_FIELDS = {
    c.InitializeWorkflow: (
        ("arguments", "list"),
        ("last_completion_result", "list"),
        ("continued_failure", "failure"),
        ("memo", "map"),
    ),
    c.ResolveActivity: (("completed", "one"), ("failed", "failure"), ("cancelled", "failure")),
    c.SignalWorkflow: (("input", "list"),),
    c.DoUpdate: (("input", "list"),),
    c.ResolveChildWorkflow: (("completed", "one"), ("failed", "failure"), ("cancelled", "failure")),
    c.ResolveChildWorkflowStart: (("cancelled", "failure"),),
    c.ResolveSignalExternalWorkflow: (("failure", "failure"),),
    c.ResolveRequestCancelExternalWorkflow: (("failure", "failure"),),
}

_COMMAND_FIELDS = {
    c.ScheduleActivity: (("arguments", "list"), ("user_metadata", "map")),
    c.StartTimer: (("user_metadata", "map"),),
    c.CompleteWorkflow: (("result", "one"),),
    c.FailWorkflow: (("failure", "failure"),),
    c.ContinueAsNew: (("arguments", "list"), ("memo", "map")),
    c.StartChildWorkflow: (("arguments", "list"), ("memo", "map"), ("user_metadata", "map")),
    c.SignalExternalWorkflow: (("arguments", "list"),),
    c.ModifyWorkflowProperties: (("upserted_memo", "map"),),
    c.UpdateResponse: (("rejected", "failure"), ("completed", "one"), ("failed", "failure")),
}


# Jobs and commands with a ``headers`` map (through the codec only when the client's
# header_codec_behavior says so).
_HEADER_FIELD = (("headers", "map"),)
_HEADERED = (
    c.InitializeWorkflow,
    c.SignalWorkflow,
    c.DoUpdate,
    c.ScheduleActivity,
    c.StartChildWorkflow,
    c.SignalExternalWorkflow,
    c.ContinueAsNew,
)


class PayloadCodecs:
    """Encode/decode the payloads of jobs and commands with an optional codec;
    ``headers`` says whether header payloads go through it too."""

    def __init__(self, codec: Any, *, headers: bool = False) -> None:
        self.codec = codec
        self.headers = headers

    async def decode_job(self, job: Any) -> Any:
        return await self._transform(job, self._fields(_JOB_FIELDS, job), encode=False)

    async def encode_command(self, cmd: Any) -> Any:
        return await self._transform(cmd, self._fields(_COMMAND_FIELDS, cmd), encode=True)

    async def decode_headers(self, headers: Any) -> Any:
        if not self.headers or not headers:
            return headers
        return await self._convert(headers, "map", encode=False)

    def _fields(self, table: Any, obj: Any) -> tuple:
        fields = table.get(type(obj), ())
        if self.headers and isinstance(obj, _HEADERED):
            fields = fields + _HEADER_FIELD
        return fields

    async def encode_payloads(self, payloads: Sequence[Any]) -> list[Any]:
        if self.codec is None or not payloads:
            return list(payloads)
        return list(await self.codec.encode(list(payloads)))

    async def decode_payloads(self, payloads: Sequence[Any]) -> list[Any]:
        if self.codec is None or not payloads:
            return list(payloads)
        return list(await self.codec.decode(list(payloads)))

    async def encode_failure(self, failure: Any) -> None:
        if self.codec is not None and failure is not None:
            await self.codec.encode_failure(failure)

    async def decode_failure(self, failure: Any) -> None:
        if self.codec is not None and failure is not None:
            await self.codec.decode_failure(failure)

    async def _transform(self, obj: Any, fields: Sequence[tuple], *, encode: bool) -> Any:
        if self.codec is None or not fields:
            return obj
        changes = {}
        for name, kind in fields:
            value = getattr(obj, name)
            if value is None or (kind != "one" and not value):
                continue
            changes[name] = await self._convert(value, kind, encode)
        return dataclasses.replace(obj, **changes) if changes else obj

    async def _convert(self, value: Any, kind: str, encode: bool) -> Any:
        if kind == "list":
            return await (self.encode_payloads(value) if encode else self.decode_payloads(value))
        if kind == "one":
            converted = await (
                self.encode_payloads([value]) if encode else self.decode_payloads([value])
            )
            return converted[0]
        if kind == "map":
            keys = list(value.keys())
            items = [value[k] for k in keys]
            converted = await (
                self.encode_payloads(items) if encode else self.decode_payloads(items)
            )
            return dict(zip(keys, converted, strict=False))
        # failure: codecs transform failures in place
        await (self.encode_failure(value) if encode else self.decode_failure(value))
        return value
