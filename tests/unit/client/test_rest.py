"""The REST client against a canned HTTP server: paths, decoding, errors, retries, watch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import msgspec
import pytest
from aiohttp import web

from kcore.api.apps import Deployment
from kcore.api.codec import from_dict
from kcore.api.core import Namespace, Pod
from kcore.api.errors import StatusError
from kcore.client.kubeconfig import Config
from kcore.client.rest import BookmarkEvent, Client, WatchEvent, resource_info, resource_path

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def pod_doc(name: str, rv: str, ns: str = "default") -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "resourceVersion": rv,
            "creationTimestamp": None,
        },
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
    }


def new_pod(name: str) -> Pod:
    return from_dict(Pod, pod_doc(name, ""))


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        "details": {"name": "x", "kind": "pods"},
    }


class Canned:
    """A loopback HTTP server whose routes the test fills in; it records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes, dict[str, str]]] = []

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            (request.method, request.path, dict(request.query), body, dict(request.headers))
        )
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return web.json_response(status(404, "NotFound", "no route"), status=404)
        return await handler(request)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Canned, Client]]:
    canned = Canned()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", canned.dispatch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = Client(Config(server=f"http://127.0.0.1:{port}", token="tok", namespace="team"))
    async with client:
        yield canned, client
    await runner.cleanup()


def reply(doc: Any, code: int = 200, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(doc, status=code, headers=headers)

    return handler


def test_paths_for_core_group_and_cluster_scoped_kinds() -> None:
    assert resource_path(resource_info(Pod), "ns", "p", "status") == (
        "/api/v1/namespaces/ns/pods/p/status"
    )
    assert resource_path(resource_info(Deployment), None) == "/apis/apps/v1/deployments"
    assert resource_path(resource_info(Namespace), "ignored", "kube-system") == (
        "/api/v1/namespaces/kube-system"
    )


async def test_get_decodes_into_the_struct_and_sends_the_token(
    server: tuple[Canned, Client],
) -> None:
    canned, client = server
    canned.routes["GET", "/api/v1/namespaces/team/pods/web"] = reply(pod_doc("web", "7", "team"))
    pod = await client.get(Pod, "web")  # default namespace from the config
    assert isinstance(pod, Pod)
    assert pod.metadata.resource_version == "7" and pod.spec is not None
    assert pod.spec.node_name == "n1"
    headers = canned.requests[0][4]
    assert headers["Authorization"] == "Bearer tok" and headers["Accept"] == "application/json"


async def test_status_bodies_become_status_errors(server: tuple[Canned, Client]) -> None:
    canned, client = server
    with pytest.raises(StatusError) as info:
        await client.get(Pod, "missing", namespace="ns")
    assert info.value.code == 404 and info.value.reason == "NotFound"
    canned.routes["POST", "/api/v1/namespaces/ns/pods"] = reply(
        status(409, "AlreadyExists", 'pods "web" already exists'), 409
    )
    with pytest.raises(StatusError) as info:
        await client.create(new_pod("web"), namespace="ns")
    assert info.value.reason == "AlreadyExists"


async def test_non_status_error_bodies_still_raise(server: tuple[Canned, Client]) -> None:
    canned, client = server

    async def bad_gateway(request: web.Request) -> web.StreamResponse:
        return web.Response(status=502, text="upstream down")

    canned.routes["GET", "/api/v1/namespaces/ns/pods/x"] = bad_gateway
    with pytest.raises(StatusError) as info:
        await client.get(Pod, "x", namespace="ns")
    assert info.value.code == 502 and "upstream down" in info.value.message


async def test_429_is_retried_after_retry_after(server: tuple[Canned, Client]) -> None:
    canned, client = server
    answers = [reply(status(429, "TooManyRequests", "slow down"), 429, **{"Retry-After": "0"})] * 2
    answers.append(reply(pod_doc("p", "3", "ns"), 201))

    async def flaky(request: web.Request) -> web.StreamResponse:
        return await answers.pop(0)(request)

    canned.routes["POST", "/api/v1/namespaces/ns/pods"] = flaky
    created = await client.create(new_pod("p"), namespace="ns")
    assert created.metadata.resource_version == "3"
    assert [r[0] for r in canned.requests] == ["POST"] * 3


async def test_list_all_follows_continue_tokens(server: tuple[Canned, Client]) -> None:
    canned, client = server
    pages = {
        "": {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "10", "continue": "tok2"},
            "items": [pod_doc("a", "1")],
        },
        "tok2": {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "10"},
            "items": [pod_doc("b", "2")],
        },
    }

    async def paged(request: web.Request) -> web.StreamResponse:
        return web.json_response(pages[request.query.get("continue", "")])

    canned.routes["GET", "/api/v1/pods"] = paged
    result = await client.list_all(Pod, label_selector="app=web", page_size=1)
    assert [p.metadata.name for p in result.items] == ["a", "b"]
    assert result.resource_version == "10"
    assert canned.requests[0][2] == {"labelSelector": "app=web", "limit": "1"}


async def test_delete_returns_none_for_a_status_and_the_object_otherwise(
    server: tuple[Canned, Client],
) -> None:
    canned, client = server
    canned.routes["DELETE", "/api/v1/namespaces/ns/pods/gone"] = reply(
        {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}
    )
    terminating = pod_doc("slow", "9", "ns")
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    canned.routes["DELETE", "/api/v1/namespaces/ns/pods/slow"] = reply(terminating)
    assert await client.delete(Pod, "gone", namespace="ns", propagation_policy="Foreground") is None
    still = await client.delete(Pod, "slow", namespace="ns", grace_period_seconds=0)
    assert still is not None and still.metadata.deletion_timestamp
    first_body = json.loads(canned.requests[0][3])
    assert first_body["propagationPolicy"] == "Foreground"
    assert json.loads(canned.requests[1][3])["gracePeriodSeconds"] == 0


async def test_patch_sends_the_patch_content_type(server: tuple[Canned, Client]) -> None:
    canned, client = server
    canned.routes["PATCH", "/api/v1/namespaces/ns/pods/p/status"] = reply(pod_doc("p", "4", "ns"))
    await client.patch(
        Pod,
        "p",
        {"status": {"phase": "Running"}},
        namespace="ns",
        subresource="status",
        patch_type="strategic",
    )
    _, _, _, body, headers = canned.requests[0]
    assert headers["Content-Type"] == "application/strategic-merge-patch+json"
    assert json.loads(body) == {"status": {"phase": "Running"}}


def event_line(kind: str, obj: Any) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


async def test_watch_reassembles_lines_split_across_chunks(server: tuple[Canned, Client]) -> None:
    canned, client = server
    stream = (
        event_line("ADDED", pod_doc("a", "11"))
        + event_line("MODIFIED", pod_doc("a", "12"))
        + event_line("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "13"}})
        + event_line("DELETED", pod_doc("a", "14"))
    )

    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        for i in range(0, len(stream), 7):  # cut mid-line on purpose
            await resp.write(stream[i : i + 7])
        await resp.write_eof()
        return resp

    canned.routes["GET", "/api/v1/namespaces/ns/pods"] = chunked
    events = [e async for e in client.watch(Pod, namespace="ns", resource_version="10")]
    assert [
        (e.type, e.object.metadata.resource_version)
        for e in events[:2]
        if isinstance(e, WatchEvent)
    ] == [("ADDED", "11"), ("MODIFIED", "12")]
    assert events[2] == BookmarkEvent("13")
    assert isinstance(events[3], WatchEvent) and events[3].type == "DELETED"
    query = canned.requests[0][2]
    assert query["watch"] == "true" and query["resourceVersion"] == "10"
    assert query["allowWatchBookmarks"] == "true"


async def test_watch_error_event_raises_gone(server: tuple[Canned, Client]) -> None:
    canned, client = server
    stream = event_line("ADDED", pod_doc("a", "11")) + event_line(
        "ERROR", status(410, "Expired", "too old resource version: 1 (11)")
    )

    async def expired(request: web.Request) -> web.StreamResponse:
        return web.Response(body=stream, content_type="application/json")

    canned.routes["GET", "/api/v1/pods"] = expired
    seen = []
    with pytest.raises(StatusError) as info:
        async with aclosing(client.watch(Pod, resource_version="1")) as events:
            async for event in events:
                seen.append(event)
    assert len(seen) == 1 and info.value.code == 410 and info.value.reason == "Expired"


async def test_msgpack_list_and_watch_frames(server: tuple[Canned, Client]) -> None:
    canned, _ = server
    enc = msgspec.msgpack.encode

    async def mp_list(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch"):
            frames = b"".join(
                len(b := enc({"type": "ADDED", "object": pod_doc(n, "2")})).to_bytes(4, "big") + b
                for n in ("x", "y")
            )
            return web.Response(body=frames, content_type="application/msgpack")
        body = enc({"metadata": {"resourceVersion": "1"}, "items": [pod_doc("x", "1")]})
        return web.Response(body=body, content_type="application/msgpack")

    canned.routes["GET", "/api/v1/pods"] = mp_list
    port = canned_port(server[1])
    async with Client(Config(server=f"http://127.0.0.1:{port}"), wire="msgpack") as mp:
        page = await mp.list(Pod)
        events = [e async for e in mp.watch(Pod, resource_version=page.resource_version)]
    assert page.items[0].metadata.name == "x"
    assert [e.object.metadata.name for e in events if isinstance(e, WatchEvent)] == ["x", "y"]
    assert canned.requests[0][4]["Accept"] == "application/msgpack"


def canned_port(client: Client) -> int:
    return int(client.config.server.rsplit(":", 1)[1])


async def test_bind_posts_a_binding(server: tuple[Canned, Client]) -> None:
    canned, client = server
    canned.routes["POST", "/api/v1/namespaces/ns/pods/p/binding"] = reply(
        {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201}, 201
    )
    await client.bind("p", "node-1", namespace="ns")
    doc = json.loads(canned.requests[0][3])
    assert doc["kind"] == "Binding" and doc["target"]["name"] == "node-1"


async def test_idempotent_get_retries_after_a_dropped_connection(
    server: tuple[Canned, Client],
) -> None:
    canned, client = server
    drops = [True]

    async def drop_once(request: web.Request) -> web.StreamResponse:
        if drops.pop() if drops else False:
            assert request.transport is not None
            request.transport.close()
            await asyncio.sleep(0)
        return web.json_response(pod_doc("p", "5", "ns"))

    canned.routes["GET", "/api/v1/namespaces/ns/pods/p"] = drop_once
    pod = await client.get(Pod, "p", namespace="ns")
    assert pod.metadata.resource_version == "5" and len(canned.requests) == 2


async def test_follow_logs_yields_lines_as_they_arrive(server: tuple[Canned, Client]) -> None:
    canned, client = server

    async def log_stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        for chunk in (b"one\ntw", b"o\n", b"three\npartial"):
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    canned.routes["GET", "/api/v1/namespaces/ns/pods/p/log"] = log_stream
    lines = [line async for line in client.follow_logs("p", namespace="ns", container="c")]
    assert lines == [b"one\n", b"two\n", b"three\n", b"partial"]
    assert canned.requests[0][2] == {"container": "c", "follow": "true"}


async def test_logs_returns_text(server: tuple[Canned, Client]) -> None:
    canned, client = server

    async def text(request: web.Request) -> web.StreamResponse:
        return web.Response(text="hello\nworld\n")

    canned.routes["GET", "/api/v1/namespaces/ns/pods/p/log"] = text
    assert await client.logs("p", namespace="ns", tail_lines=2) == "hello\nworld\n"
    assert canned.requests[0][2] == {"tailLines": "2"}
