"""The lean HTTP/1.1 pool against a real loopback server that answers with scripted bytes:
framing (Content-Length, chunked, to end of stream), keep-alive and its limits, gzip, and
each way an exchange can fail."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest

from kcore.client import h1
from kcore.client.rest import request_target

Script = Callable[[bytes], bytes | None]


@dataclass
class Server:
    """Answers each request with script(request bytes); None closes the connection unanswered,
    b"" keeps it open and silent; an HTTP/1.0 or `Connection: close` answer closes it."""

    script: Script
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.script(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if answer.startswith(b"HTTP/1.0") or b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Start = Callable[[Script], Awaitable[Server]]


@pytest.fixture
async def serve() -> AsyncIterator[Start]:
    """Starts scripted servers on loopback; closes them after the test."""
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> Server:
        state = Server(script)
        srv = await asyncio.start_server(state.handle, "127.0.0.1", 0)
        servers.append(srv)
        state.port = srv.sockets[0].getsockname()[1]
        return state

    yield start
    for srv in servers:
        srv.close()
        await srv.wait_closed()


def pool_for(state: Server) -> h1.H1Pool:
    return h1.H1Pool(f"http://127.0.0.1:{state.port}", None, limit=4, user_agent="t")


def ok(body: bytes, *extra: str) -> bytes:
    headers = "".join(f"{h}\r\n" for h in extra)
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n{headers}\r\n"
    ).encode() + body


async def test_a_request_goes_out_whole_and_the_connection_is_kept(serve: Start) -> None:
    state = await serve(lambda req: ok(b'{"a":1}'))
    pool = pool_for(state)
    try:
        answer = await pool.request(
            "POST", "/api/v1/x?limit=1", {"Accept": "application/json"}, b"{}", 5
        )
        again = await pool.request("GET", "/api/v1/y", {}, None, 5)
    finally:
        await pool.close()
    assert (answer.status, answer.content_type, answer.body) == (
        200,
        "application/json",
        b'{"a":1}',
    )
    assert again.body == b'{"a":1}'
    assert state.connections == 1  # kept alive and reused
    first = state.requests[0]
    assert first.startswith(b"POST /api/v1/x?limit=1 HTTP/1.1\r\n")
    assert b"\r\nAccept: application/json\r\n" in first
    assert b"\r\nContent-Length: 2\r\n" in first
    assert b"\r\nUser-Agent: t\r\n" in first
    assert first.endswith(b"\r\n\r\n{}")
    assert b"Content-Length" not in state.requests[1]  # a GET without a body


async def test_a_chunked_body_is_joined(serve: Start) -> None:
    body = b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    state = await serve(lambda req: head + body)
    pool = pool_for(state)
    try:
        first = await pool.request("GET", "/", {}, None, 5)
        second = await pool.request("GET", "/", {}, None, 5)
    finally:
        await pool.close()
    assert first.body == second.body == b"hello world"
    assert state.connections == 1


async def test_connection_close_is_honoured(serve: Start) -> None:
    state = await serve(lambda req: ok(b"x", "Connection: close"))
    pool = pool_for(state)
    try:
        for _ in range(3):
            assert (await pool.request("GET", "/", {}, None, 5)).body == b"x"
    finally:
        await pool.close()
    assert state.connections == 3


async def test_an_idle_connection_is_not_reused_after_its_time(
    serve: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(h1, "IDLE_REUSE", 0.0)
    state = await serve(lambda req: ok(b"x"))
    pool = pool_for(state)
    try:
        await pool.request("GET", "/", {}, None, 5)
        await pool.request("GET", "/", {}, None, 5)
    finally:
        await pool.close()
    assert state.connections == 2


async def test_a_gzip_body_is_decoded(serve: Start) -> None:
    packed = gzip.compress(b'{"big":true}')
    state = await serve(lambda req: ok(packed, "Content-Encoding: gzip"))
    pool = pool_for(state)
    try:
        assert (await pool.request("GET", "/", {}, None, 5)).body == b'{"big":true}'
    finally:
        await pool.close()


async def test_retry_after_and_error_statuses_come_back(serve: Start) -> None:
    answer = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n"
    state = await serve(lambda req: answer)
    pool = pool_for(state)
    try:
        got = await pool.request("GET", "/", {}, None, 5)
    finally:
        await pool.close()
    assert (got.status, got.retry_after, got.body, got.content_type) == (429, "3", b"", "")


async def test_a_body_running_to_the_end_of_the_stream(serve: Start) -> None:
    state = await serve(lambda req: b"HTTP/1.0 200 OK\r\n\r\nall of it")
    pool = pool_for(state)
    try:
        got = await pool.request("GET", "/", {}, None, 5)
        assert got.body == b"all of it"
        await pool.request("GET", "/", {}, None, 5)
    finally:
        await pool.close()
    assert state.connections == 2  # HTTP/1.0 without a length: never reused


async def test_a_server_that_hangs_up_unanswered(serve: Start) -> None:
    state = await serve(lambda req: None)
    pool = pool_for(state)
    try:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await pool.request("POST", "/", {}, b"{}", 5)
    finally:
        await pool.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort",
        b"NONSENSE\r\n\r\n",
    ],
    ids=["body-cut-short", "malformed-status-line"],
)
async def test_a_broken_answer_is_a_payload_error(serve: Start, answer: bytes) -> None:
    state = await serve(lambda req: answer)
    pool = pool_for(state)
    try:
        with pytest.raises(aiohttp.ClientPayloadError):
            await pool.request("GET", "/", {}, None, 5)
    finally:
        await pool.close()


async def test_a_silent_server_times_out_and_its_connection_is_dropped(serve: Start) -> None:
    answers = iter([b"", ok(b"late")])
    state = await serve(lambda req: next(answers))
    pool = pool_for(state)
    try:
        with pytest.raises(TimeoutError):
            await pool.request("GET", "/", {}, None, 0.2)
        assert (await pool.request("GET", "/", {}, None, 5)).body == b"late"
    finally:
        await pool.close()
    assert state.connections == 2


async def test_a_refused_connection_was_never_sent() -> None:
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    pool = h1.H1Pool(f"http://127.0.0.1:{port}", None, limit=1, user_agent="t")
    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        await pool.request("POST", "/", {}, b"{}", 5)
    assert isinstance(caught.value, h1.NeverSent)
    assert caught.value.port == port
    await pool.close()


def test_request_targets_are_encoded_as_yarl_would() -> None:
    assert request_target("/api/v1/pods", None) == "/api/v1/pods"
    assert (
        request_target("/api/v1/pods", {"labelSelector": "app=web,tier!=db", "limit": "5"})
        == "/api/v1/pods?labelSelector=app%3Dweb%2Ctier%21%3Ddb&limit=5"
    )
    assert request_target("/api/v1/namespaces/a b/pods", {}) == "/api/v1/namespaces/a%20b/pods"
