"""A minimal HTTP/1.1 client on asyncio protocols, for the API server load generator.

aiohttp costs the client ~100 us of Python per request and more per watch event; on a 2-core
machine shared with the server that would measure the client. Here a keep-alive connection
writes prebuilt request bytes and parses only what it needs (status, Content-Length or
chunked framing), and a watch stream hands each arriving block of bytes, with its arrival
time, to a callback from `data_received` (no per-event coroutine switch).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlsplit


def request_bytes(
    method: str, path: str, host: str, headers: dict[str, str], body: bytes | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _chunked_end(buf: bytearray, start: int) -> tuple[int, bytes] | None:
    """(end offset, body) of a complete chunked body starting at `start`, or None."""
    pos, parts = start, []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
        if len(buf) < eol + 2 + size + 2:
            return None
        parts.append(bytes(buf[eol + 2 : eol + 2 + size]))
        pos = eol + 2 + size + 2
        if size == 0:
            return pos, b"".join(parts)


def parse_response(buf: bytearray) -> tuple[int, bytes, int] | None:
    """(status, body, bytes consumed) of the first complete response in `buf`, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).lower()
    status = int(head[9:12])
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        eol = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : eol if eol >= 0 else len(head)])
        if len(buf) < end + 4 + length:
            return None
        return status, bytes(buf[end + 4 : end + 4 + length]), end + 4 + length
    if b"transfer-encoding: chunked" in head:
        done = _chunked_end(buf, end + 4)
        return None if done is None else (status, done[1], done[0])
    return status, b"", end + 4


class Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None or self.waiter.done():
            return
        parsed = parse_response(self.buf)
        if parsed is not None:
            del self.buf[: parsed[2]]
            self.waiter.set_result((parsed[0], parsed[1]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("connection closed"))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Stream(asyncio.Protocol):
    """A streaming response (watch): `on_data(block, arrival_ns)` gets the body's bytes up to
    the last newline of what has arrived; `status` is set once the head has been read."""

    def __init__(self, on_data: Callable[[bytes, int], None]) -> None:
        self.on_data = on_data
        self.status = 0
        self.head = asyncio.get_running_loop().create_future()
        self.pending = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        data = self.pending + data
        if not self.status:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.pending = data
                return
            self.status = int(data[9:12])
            self.head.set_result(self.status)
            data = data[end + 4 :]
        cut = data.rfind(b"\n") + 1
        self.pending = data[cut:]
        if cut:
            self.on_data(data[:cut], now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(exc or ConnectionError("connection closed"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def host_port(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        raise ValueError(f"the raw client speaks plain http://HOST:PORT only, not {base_url}")
    return parts.hostname, parts.port


async def connect(base_url: str) -> Connection:
    host, port = host_port(base_url)
    _, proto = await asyncio.get_running_loop().create_connection(Connection, host, port)
    return proto


async def open_stream(base_url: str, raw: bytes, on_data: Callable[[bytes, int], None]) -> Stream:
    host, port = host_port(base_url)
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(lambda: Stream(on_data), host, port)
    assert proto.transport is not None
    proto.transport.write(raw)
    return proto
