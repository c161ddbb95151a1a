"""The kubelet's own HTTP(S) server: container logs, the pods it runs, pods posted to it.

Routes: GET /healthz; GET /pods (a PodList of what runs here); POST /pods (a manifest: the
HTTP pod source, shown in the API as mirror pods) and DELETE /pods/NS/NAME;
GET /containerLogs/NS/POD/CONTAINER with follow, tailLines, sinceSeconds, timestamps and
previous — what the API server's pods/log proxies to; GET /exec/NS/POD/CONTAINER?command=..
upgraded to a websocket speaking the channel protocol of kubectl (v4/v5.channel.k8s.io:
binary frames prefixed with a stream byte: 0 stdin, 1 stdout, 2 stderr, 3 the final Status,
4 terminal resize, 255 (v5) stream close). Other parts of the kubelet (the stats
sampler) add routes with `add_routes` before `start`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import Protocol

import aiohttp
import msgspec
from aiohttp import web

from kcore.api import codec
from kcore.api.core import Pod, PodList
from kcore.kubelet.runtime import LogOptions
from kcore.kubelet.runtime.types import EXIT, ExecInput

CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")


def exec_status(code: int) -> bytes:
    """The metav1.Status kubectl reads from the error channel when a command ends."""
    if code == 0:
        return b'{"metadata":{},"status":"Success"}'
    body = {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }
    return msgspec.json.encode(body)


class LogNotFound(Exception):
    """No such pod or container on this node (404), or nothing to show yet (400)."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status


class ServerBackend(Protocol):
    def running_pods(self) -> list[Pod]: ...
    async def post_pods(self, manifest: str) -> list[Pod]: ...
    async def delete_posted_pod(self, namespace: str, name: str) -> bool: ...
    async def open_exec(
        self,
        namespace: str,
        pod: str,
        container: str,
        command: list[str],
        *,
        stdin: asyncio.Queue[ExecInput] | None,
        tty: bool,
    ) -> AsyncGenerator[tuple[int, bytes], None]: ...
    async def open_logs(
        self, namespace: str, pod: str, container: str, previous: bool, options: LogOptions
    ) -> AsyncGenerator[bytes, None]: ...


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"not an integer: {value!r}") from None


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "")


async def _read_input(ws: web.WebSocketResponse, stdin: asyncio.Queue[ExecInput]) -> None:
    """Client frames: 0 stdin bytes, 4 a resize ({"Width", "Height"}), 255+0 stdin closed."""
    async for msg in ws:
        if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
            continue
        channel, data = msg.data[0], msg.data[1:]
        if channel == 0:
            stdin.put_nowait(bytes(data))
        elif channel == 4:
            size = msgspec.json.decode(data)
            stdin.put_nowait((int(size.get("Width", 80)), int(size.get("Height", 24))))
        elif channel == 255 and data[:1] == b"\x00":
            stdin.put_nowait(None)
    stdin.put_nowait(None)


class KubeletServer:
    def __init__(self, backend: ServerBackend, *, host: str, port: int) -> None:
        self.backend, self.host, self.port = backend, host, port
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/healthz", self._healthz),
                web.get("/pods", self._pods),
                web.post("/pods", self._post_pods),
                web.delete("/pods/{namespace}/{name}", self._delete_pod),
                web.get("/containerLogs/{namespace}/{pod}/{container}", self._logs),
                web.get("/exec/{namespace}/{pod}/{container}", self._exec),
                web.post("/exec/{namespace}/{pod}/{container}", self._exec),
            ]
        )
        self._runner: web.AppRunner | None = None
        self._cleanups: list[Callable[[], Awaitable[None]]] = []

    def add_routes(self, routes: Iterable[web.AbstractRouteDef]) -> None:
        """Extra endpoints (e.g. /stats/summary, /metrics/cadvisor); call before `start`."""
        self.app.add_routes(list(routes))

    async def start(self, ssl_context: object | None = None) -> int:
        """Serve; the bound port (useful when asked for port 0)."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context)  # type: ignore[arg-type]
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _pods(self, request: web.Request) -> web.Response:
        body = codec.encode(PodList(items=self.backend.running_pods()))
        return web.Response(body=body, content_type="application/json")

    async def _post_pods(self, request: web.Request) -> web.Response:
        try:
            pods = await self.backend.post_pods(await request.text())
        except Exception as e:
            raise web.HTTPBadRequest(text=f"invalid pod manifest: {e}") from None
        return web.Response(
            status=201, body=codec.encode(PodList(items=pods)), content_type="application/json"
        )

    async def _delete_pod(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        if not await self.backend.delete_posted_pod(ns, name):
            raise web.HTTPNotFound(text=f"no posted pod {ns}/{name}")
        return web.Response(text="deleted")

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        command = request.query.getall("command", [])
        if not command:
            raise web.HTTPBadRequest(text="you must specify at least one command")
        info, q = request.match_info, request.query
        stdin: asyncio.Queue[ExecInput] | None = asyncio.Queue() if _flag(q.get("stdin")) else None
        try:
            stream = await self.backend.open_exec(
                info["namespace"],
                info["pod"],
                info["container"],
                list(command),
                stdin=stdin,
                tty=_flag(q.get("tty")),
            )
        except LogNotFound as e:
            raise web.HTTPNotFound(text=str(e)) from None
        ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS)
        await ws.prepare(request)
        reader = asyncio.create_task(_read_input(ws, stdin)) if stdin is not None else None
        try:
            async for channel, data in stream:
                if channel == EXIT:
                    await ws.send_bytes(bytes([EXIT]) + exec_status(int(data)))
                else:
                    await ws.send_bytes(bytes([channel]) + data)
        finally:
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            await stream.aclose()
            await ws.close()
        return ws

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        options = LogOptions(
            follow=_flag(q.get("follow")) if "follow" in q else False,
            tail_lines=_int(q.get("tailLines")),
            since_seconds=_int(q.get("sinceSeconds")),
            timestamps=_flag(q.get("timestamps")) if "timestamps" in q else False,
        )
        previous = _flag(q.get("previous")) if "previous" in q else False
        info = request.match_info
        try:
            stream = await self.backend.open_logs(
                info["namespace"], info["pod"], info["container"], previous, options
            )
        except LogNotFound as e:
            if e.status == 404:
                raise web.HTTPNotFound(text=str(e)) from None
            raise web.HTTPBadRequest(text=str(e)) from None
        try:
            resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            with contextlib.suppress(ConnectionResetError):
                async for chunk in stream:
                    await resp.write(chunk)
                await resp.write_eof()
        finally:
            await stream.aclose()
        return resp
