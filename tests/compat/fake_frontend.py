"""A stand-in Temporal frontend that lets temporalio's Rust client connect.

temporalio's ``Worker.__init__`` needs a connected (not lazy) client, and its Rust core
validates the worker options when the worker is built, before any task is polled. To
compare our option checks with that validation the tests only need a client to connect:
this server speaks just enough HTTP/2 (h2c, prior knowledge) to answer every gRPC call
with an empty message and status OK (an empty ``GetSystemInfoResponse``, and so on).
Nothing is ever polled.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA, _HEADERS, _SETTINGS, _PING, _GOAWAY = 0x0, 0x1, 0x4, 0x6, 0x7
_END_STREAM, _ACK, _END_HEADERS = 0x1, 0x1, 0x4


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    head = struct.pack(">I", len(payload))[1:] + bytes([kind, flags])
    return head + struct.pack(">I", stream & 0x7FFFFFFF) + payload


def _literal(name: bytes, value: bytes) -> bytes:
    """An HPACK literal header field without indexing, new name, no Huffman coding
    (names and values here are shorter than 127 bytes)."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


# ":status: 200" is entry 8 of HPACK's static table.
_RESPONSE_HEADERS = b"\x88" + _literal(b"content-type", b"application/grpc")
_TRAILERS = _literal(b"grpc-status", b"0")
_EMPTY_MESSAGE = b"\x00\x00\x00\x00\x00"  # not compressed, length 0


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        if await reader.readexactly(len(_PREFACE)) != _PREFACE:
            return
        writer.write(_frame(_SETTINGS, 0, 0))
        while True:
            head = await reader.readexactly(9)
            length = int.from_bytes(head[:3], "big")
            kind, flags = head[3], head[4]
            stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
            payload = await reader.readexactly(length)
            if kind == _SETTINGS and not flags & _ACK:
                writer.write(_frame(_SETTINGS, _ACK, 0))
            elif kind == _PING and not flags & _ACK:
                writer.write(_frame(_PING, _ACK, 0, payload))
            elif kind == _GOAWAY:
                return
            elif kind in (_HEADERS, _DATA) and flags & _END_STREAM:
                # The request is complete: answer it with an empty message.
                writer.write(_frame(_HEADERS, _END_HEADERS, stream, _RESPONSE_HEADERS))
                writer.write(_frame(_DATA, 0, stream, _EMPTY_MESSAGE))
                writer.write(_frame(_HEADERS, _END_HEADERS | _END_STREAM, stream, _TRAILERS))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        return
    finally:
        writer.close()


@asynccontextmanager
async def fake_frontend() -> AsyncIterator[str]:
    """Serve on a free loopback port; yields ``host:port``."""
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.close()
