"""A lean HTTP/1.1 connection pool for the client's unary requests (get, list, create,
update, patch, delete, subresources); watches and log streams stay on aiohttp.

A control-plane component spends much of its CPU on requests: the scheduler sends a binding
and an event per pod. aiohttp builds a request object, a URL, a header multidict, timers and
a response object for each; this pool writes the request line and headers as one buffer on a
kept-alive connection and reads the answer with asyncio's stream reader, a few times cheaper.
It speaks what the API server answers unary requests with: Content-Length or chunked bodies,
keep-alive unless `Connection: close`, and gzip only if a server sends it unasked.

Failures are aiohttp's connection errors (kcore.client.rest retries and reports them as it
always has): NeverSent when no connection could be made (any verb may be retried),
TLSRefused when the handshake failed (retrying cannot help), ServerDisconnectedError when the
exchange broke off. An idle connection is reused for IDLE_REUSE seconds at most, well inside
servers' keep-alive timeouts, so a request rarely meets a connection the server is closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.client_reqrep import ConnectionKey

IDLE_REUSE = 15.0
MAX_HEADER_BYTES = 64 * 1024


def _key(host: str, port: int, tls: bool) -> ConnectionKey:
    blank: Any = [None] * len(ConnectionKey._fields)  # the fields vary between releases
    return ConnectionKey(*blank)._replace(host=host, port=port, is_ssl=tls)


class NeverSent(aiohttp.ClientConnectorError):
    """No connection to the server could be made: the request was not sent (aiohttp's
    ClientConnectorError, so callers catch it as they would aiohttp's own)."""

    def __init__(self, host: str, port: int, tls: bool, error: OSError) -> None:
        super().__init__(_key(host, port, tls), error)


class TLSRefused(aiohttp.ClientSSLError):
    """The TLS handshake failed (an untrusted certificate, say): retrying cannot help."""

    def __init__(self, host: str, port: int, error: ssl.SSLError) -> None:
        super().__init__(_key(host, port, True), error)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    content_type: str
    retry_after: str | None
    body: bytes


@dataclass(slots=True)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        return (
            now - self.idle_since < IDLE_REUSE
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        self.writer.close()


class H1Pool:
    """Kept-alive connections to one server, at most `limit` in use at once."""

    def __init__(
        self, server: str, ssl_ctx: ssl.SSLContext | None, *, limit: int, user_agent: str
    ) -> None:
        url = urlsplit(server)
        self._tls = url.scheme == "https"
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._tls else 80)
        self._prefix = url.path.rstrip("/")
        self._ssl = ssl_ctx if self._tls else None
        self._head = f"Host: {url.netloc}\r\nUser-Agent: {user_agent}\r\n"
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(limit)
        self._closed = False

    async def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        within: float | None,
    ) -> Answer:
        """One exchange, given up after `within` seconds; `target` is the path and query,
        already encoded."""
        async with self._slots:
            conn = await self._checkout()
            try:
                async with asyncio.timeout(within):
                    answer, keep = await self._exchange(conn, method, target, headers, body)
            except BaseException:
                conn.close()
                raise
            if keep and not self._closed:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                conn.close()
            return answer

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.writer.wait_closed()

    async def _checkout(self) -> _Conn:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.usable(now):
                return conn
            conn.close()
        try:
            reader, writer = await asyncio.open_connection(
                self._host, self._port, ssl=self._ssl, limit=MAX_HEADER_BYTES
            )
        except ssl.SSLError as exc:
            raise TLSRefused(self._host, self._port, exc) from exc
        except OSError as exc:
            raise NeverSent(self._host, self._port, self._tls, exc) from exc
        return _Conn(reader, writer)

    async def _exchange(
        self, conn: _Conn, method: str, target: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[Answer, bool]:
        lines = [f"{method} {self._prefix}{target} HTTP/1.1\r\n", self._head]
        lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}\r\n")
        lines.append("\r\n")
        conn.writer.write("".join(lines).encode("latin-1") + (body or b""))
        try:
            await conn.writer.drain()
            head = await conn.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise aiohttp.ServerDisconnectedError() from exc
        except asyncio.LimitOverrunError as exc:
            raise aiohttp.ClientPayloadError("response headers too large") from exc
        except (ConnectionError, ssl.SSLError) as exc:
            raise aiohttp.ServerDisconnectedError() from exc
        status, fields = _parse_head(head)
        data = await _read_body(conn.reader, fields, method)
        if fields.get("content-encoding") in ("gzip", "deflate"):
            data = zlib.decompress(data, 47)  # gzip or zlib framing
        keep = fields.get("connection", "").lower() != "close" and head.startswith(b"HTTP/1.1")
        ctype = fields.get("content-type", "").partition(";")[0].strip()
        return Answer(status, ctype, fields.get("retry-after"), data), keep


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    text = head.decode("latin-1")
    status_line, *header_lines = text.split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise aiohttp.ClientPayloadError(f"malformed status line {status_line[:100]!r}")
    fields: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return int(parts[1]), fields


async def _read_body(reader: asyncio.StreamReader, fields: dict[str, str], method: str) -> bytes:
    try:
        if method == "HEAD":
            return b""
        if "chunked" in fields.get("transfer-encoding", "").lower():
            return await _read_chunked(reader)
        length = fields.get("content-length")
        if length is not None:
            return await reader.readexactly(int(length))
        return await reader.read()  # no length: the body runs to the connection's end
    except asyncio.IncompleteReadError as exc:
        raise aiohttp.ClientPayloadError("the response body was cut short") from exc
    except ValueError as exc:
        raise aiohttp.ClientPayloadError(f"bad response framing: {exc}") from exc


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";", 1)[0].strip() or b"x", 16)
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


__all__ = ["IDLE_REUSE", "Answer", "H1Pool", "NeverSent", "TLSRefused"]
