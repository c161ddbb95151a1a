"""pods/exec: `kubectl exec` relayed to the kubelet of the pod's node over websockets.

kubectl (1.30+) asks with GET and `Upgrade: websocket`, offering the channel subprotocols
(v5/v4.channel.k8s.io). The API server checks the pod (it exists, has a node, is not finished,
the container is one of its own), dials the kubelet's `/exec/NS/POD/CONTAINER` with the same
query and the same offered subprotocols, and only then completes the client's upgrade with the
subprotocol the kubelet chose. From there frames are copied unchanged in both directions until
either side closes: the channel bytes, the exit Status and the resize messages are the
kubelet's business, not ours. Everything that goes wrong before the upgrade is a Status
(404 pod or container gone on the node, 400 bad request, 502/503 kubelet trouble); kubectl's
SPDY fallback (POST without a websocket upgrade, sent whenever the upgrade failed) gets the
same checks plus a kubelet health probe, so the reason the upgrade failed is what kubectl
prints, and otherwise a 400, as kcore speaks only websockets.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web

from kcore.api import errors
from kcore.apiserver.handlers.context import Context
from kcore.apiserver.handlers.subresources import kubelet_address, pick_container
from kcore.apiserver.objects import Obj

Socket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


async def exec_(ctx: Context) -> web.StreamResponse:
    pod = await ctx.rs.get(ctx.ri.namespace, ctx.ri.name)
    container = pick_container(ctx, pod)
    node = _runnable_node(ctx, pod)
    if not ctx.param("command"):
        raise errors.bad_request("you must specify at least one command for the container")
    address = await kubelet_address(ctx, node)
    if not _is_websocket(ctx.request):
        await _probe(ctx, address, node)
        raise errors.bad_request(
            "kcore streams exec over websockets only (v5/v4.channel.k8s.io); "
            "upgrade the request to a websocket"
        )
    url = f"https://{address}/exec/{ctx.ri.namespace}/{ctx.ri.name}/{container}"
    upstream = await _dial(ctx, url, node)
    try:
        client = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (), max_msg_size=0
        )
        await client.prepare(ctx.request)
        await _relay(client, upstream)
    finally:
        await upstream.close()
    return client


def _runnable_node(ctx: Context, pod: Obj) -> str:
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {ctx.ri.name} does not have a host assigned")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise errors.bad_request(
            f"cannot exec into a container in a completed pod; current phase is {phase}"
        )
    return str(node)


def _is_websocket(request: web.BaseRequest) -> bool:
    upgrade = request.headers.get("Upgrade", "")
    return request.method == "GET" and upgrade.lower() == "websocket"


def _offered_protocols(request: web.BaseRequest) -> list[str]:
    offered = request.headers.getall("Sec-WebSocket-Protocol", [])
    return [p.strip() for line in offered for p in line.split(",") if p.strip()]


async def _probe(ctx: Context, address: str, node: str) -> None:
    """kubectl falls back to SPDY whenever the websocket upgrade fails, so that request is
    where a kubelet that cannot be reached must be reported (without running the command)."""
    session = ctx.server.kubelet_session()
    try:
        async with session.get(f"https://{address}/healthz", ssl=False) as resp:
            await resp.read()
    except (aiohttp.ClientError, OSError) as e:
        raise _unreachable(node, e) from None


def _unreachable(node: str, e: BaseException) -> errors.StatusError:
    return errors.StatusError(
        503, "ServiceUnavailable", f"the kubelet of node {node} is not answering: {e}"
    )


async def _dial(ctx: Context, url: str, node: str) -> aiohttp.ClientWebSocketResponse:
    """Open the kubelet's websocket; its refusals become the matching Status."""
    params = [(k, v) for k, v in ctx.query.items() if k != "container"]
    session = ctx.server.kubelet_session()
    try:
        return await session.ws_connect(
            url,
            params=params,
            protocols=_offered_protocols(ctx.request),
            ssl=False,
            max_msg_size=0,
            autoping=True,
        )
    except aiohttp.WSServerHandshakeError as e:
        raise _refusal(e, node) from None
    except (aiohttp.ClientError, OSError) as e:
        raise _unreachable(node, e) from None


def _refusal(e: aiohttp.WSServerHandshakeError, node: str) -> errors.StatusError:
    message = f"the kubelet of node {node} refused exec: {e.status} {e.message}"
    if e.status == 404:
        return errors.StatusError(404, "NotFound", message)
    if e.status == 400:
        return errors.bad_request(message)
    return errors.StatusError(502, "BadGateway", message)


async def _relay(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Copy frames both ways; when one side ends, close the other with the same code."""
    tasks = [
        asyncio.create_task(_copy(client, upstream)),
        asyncio.create_task(_copy(upstream, client)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for side in (upstream, client):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await side.close()


async def _copy(source: Socket, sink: Socket) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        async for msg in source:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(msg.data)
