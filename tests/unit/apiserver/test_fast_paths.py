"""The API server's fast paths behave exactly like the slow ones they replace: batched uids,
the once-a-second creation clock, null-free bodies skipping the null pass, memoized quantity
strings, namespace lifecycle answered from the watch cache, and coalesced watch writes."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kcore.api import defaults, timeutil
from kcore.apiserver import admission, objects, resources
from kcore.apiserver.app import RunningServer, start_apiserver
from kcore.apiserver.handlers import watch as watch_handlers
from kcore.storage.memory import MemoryStore


def test_uids_are_distinct_version4_uuids() -> None:
    uids = [admission._uids.next() for _ in range(2000)]  # crosses the 256-uid pool boundary
    assert len(set(uids)) == len(uids)
    for text in uids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def test_creation_clock_renders_like_timeutil() -> None:
    before = timeutil.to_timestamp(timeutil.now())
    stamp = admission._clock.now()
    after = timeutil.to_timestamp(timeutil.now())
    assert timeutil.normalize(stamp) == stamp
    assert before <= timeutil.to_timestamp(stamp) <= after


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "x"}},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "registry.local/app:1",
                    "resources": {"requests": {"cpu": "0.1", "memory": "64Mi"}},
                }
            ]
        },
    }


def test_null_free_admission_matches_the_null_pass() -> None:
    info = resources.lookup("", "v1", "pods")
    assert info is not None
    raw = _pod("same")
    slow = objects.admit(info, copy.deepcopy(raw), strict=True, nulls=True)
    fast = objects.admit(info, copy.deepcopy(raw), strict=True, nulls=False)
    assert fast == slow
    assert fast["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "100m"


def test_memoized_quantities_stay_canonical_and_leave_bad_values() -> None:
    for _ in range(2):
        assert defaults.canonical_resources({"cpu": "0.5", "memory": "1024Mi"}) == {
            "cpu": "500m",
            "memory": "1Gi",
        }
        assert defaults.canonical_resources({"cpu": "lots"}) == {"cpu": "lots"}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    running = await start_apiserver(tmp_path, store=MemoryStore(), port=0, tls=False)
    try:
        yield running
    finally:
        await running.stop()
        await running.store.close()


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[aiohttp.ClientSession]:
    token = server.credentials.token
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(server.url, headers=headers) as session:
        yield session


async def _post(http: aiohttp.ClientSession, path: str, doc: Any) -> tuple[int, Any]:
    async with http.post(path, data=json.dumps(doc).encode()) as resp:
        return resp.status, await resp.json()


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


async def test_nulls_in_a_body_still_mean_unset(http: aiohttp.ClientSession) -> None:
    pod = _pod("with-nulls")
    pod["spec"]["nodeName"] = None
    pod["metadata"]["annotations"] = None
    status, body = await _post(http, "/api/v1/namespaces/default/pods", pod)
    assert status == 201
    assert "nodeName" not in body["spec"] and "annotations" not in body["metadata"]


async def test_namespace_lifecycle_seen_right_after_each_write(
    http: aiohttp.ClientSession,
) -> None:
    for round_ in range(3):
        name = f"ns-{round_}"
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
              "spec": {"finalizers": ["example.com/hold"]}}  # fmt: skip
        assert (await _post(http, "/api/v1/namespaces", ns))[0] == 201
        assert (await _post(http, f"/api/v1/namespaces/{name}/configmaps", _cm("a")))[0] == 201
        async with http.delete(f"/api/v1/namespaces/{name}") as resp:
            assert resp.status == 200
        status, body = await _post(http, f"/api/v1/namespaces/{name}/configmaps", _cm("b"))
        assert (status, body["reason"]) == (403, "Forbidden")
    status, body = await _post(http, "/api/v1/namespaces/never/configmaps", _cm("c"))
    assert (status, body["reason"]) == (404, "NotFound")


@pytest.mark.parametrize("coalesce_from", [1, watch_handlers.COALESCE_FROM])
async def test_a_burst_reaches_a_watcher_complete_and_in_order(
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, coalesce_from: int
) -> None:
    monkeypatch.setattr(watch_handlers, "COALESCE_FROM", coalesce_from)
    path = "/api/v1/namespaces/default/configmaps"
    async with http.get(path) as resp:
        rv = (await resp.json())["metadata"]["resourceVersion"]
    async with http.get(path, params={"watch": "1", "resourceVersion": rv}) as stream:
        for i in range(60):
            assert (await _post(http, path, _cm(f"burst-{i}")))[0] == 201
        names: list[str] = []
        while len(names) < 60:
            event = json.loads(await stream.content.readline())
            assert event["type"] == "ADDED"
            names.append(event["object"]["metadata"]["name"])
    assert names == [f"burst-{i}" for i in range(60)]


async def test_expect_100_continue_is_answered(server: RunningServer) -> None:
    body = json.dumps(_cm("expected")).encode()
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {server.credentials.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        assert await reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert await reader.readline() == b"\r\n"
        writer.write(body)
        assert (await reader.readline()).startswith(b"HTTP/1.1 201 ")
    finally:
        writer.close()
        await writer.wait_closed()
