"""The wire protocol at the HTTP level, against an in-process kcore.Cluster: discovery shapes,
watch framing and resourceVersion semantics, paging, Table, msgpack, metrics, auth, limits,
and bad input answered with the right Status while the store stays unchanged."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

pytestmark = pytest.mark.timeout(120)

PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"


class Http:
    def __init__(self, cluster: Any, session: aiohttp.ClientSession) -> None:
        self.base, self.session = cluster.url, session
        self.auth = {"Authorization": f"Bearer {cluster.token}"}

    async def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                   headers: dict[str, str] | None = None,
                   auth: bool = True) -> tuple[int, Any, aiohttp.ClientResponse]:  # fmt: skip
        hdrs = {**(self.auth if auth else {}), **(headers or {})}
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.base + path, data=data,
                                        headers=hdrs) as resp:  # fmt: skip
            payload = await resp.read()
            ctype = resp.headers.get("Content-Type", "")
            if "msgpack" in ctype:
                return resp.status, msgspec.msgpack.decode(payload), resp
            try:
                return resp.status, json.loads(payload) if payload else None, resp
            except ValueError:
                return resp.status, payload.decode(), resp


@pytest.fixture
async def http(cluster: Any) -> AsyncIterator[Http]:
    ctx = ssl.create_default_context(cafile=str(cluster.ca_cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        yield Http(cluster, session)


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}  # fmt: skip


async def test_discovery_shapes(http: Http) -> None:
    status, version, _ = await http.call("GET", "/version/", auth=False)
    assert status == 200 and version["minor"] == "32" and len(version) == 9
    _, api, _ = await http.call("GET", "/api/")
    assert api["versions"] == ["v1"] and api["serverAddressByClientCIDRs"]
    _, groups, _ = await http.call("GET", "/apis")
    by_name = {g["name"]: g for g in groups["groups"]}
    # as Kubernetes 1.32: HPAs are stored once and v2 is preferred (v1 is a converted view)
    assert by_name["autoscaling"]["preferredVersion"] == {"groupVersion": "autoscaling/v2",
                                                          "version": "v2"}  # fmt: skip
    assert by_name["autoscaling"]["preferredVersion"] in by_name["autoscaling"]["versions"]
    _, core, _ = await http.call("GET", "/api/v1")
    entries = {r["name"]: r for r in core["resources"]}
    assert entries["pods"]["shortNames"] == ["po"] and entries["pods"]["categories"] == ["all"]
    assert entries["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert "serviceaccounts/token" not in entries  # not served
    _, apps, _ = await http.call("GET", "/apis/apps/v1/")
    scale = {r["name"]: r for r in apps["resources"]}["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    status, _, resp = await http.call("GET", "/openapi/v2")
    assert status == 200 and resp.headers["Content-Type"] == "application/octet-stream"
    for path in ("/healthz", "/livez", "/readyz"):
        assert (await http.call("GET", path, auth=False))[0] == 200


async def test_unauthenticated_requests_get_401(http: Http) -> None:
    status, body, _ = await http.call("GET", PODS, auth=False)
    assert status == 401 and body["reason"] == "Unauthorized" and body["kind"] == "Status"
    bad = {"Authorization": "Bearer nope"}
    status, _, _ = await http.call("POST", CMS, cm("x"), auth=False, headers=bad)
    assert status == 401
    assert (await http.call("GET", f"{CMS}/x"))[0] == 404


async def test_list_paging_and_selectors(http: Http) -> None:
    for i in range(7):
        await http.call("POST", PODS, pod(f"p{i}", parity="even" if i % 2 == 0 else "odd"))
    names, token = [], ""
    while True:
        _, page, _ = await http.call("GET", f"{PODS}?limit=3&labelSelector=parity%3Deven"
                                            + (f"&continue={token}" if token else ""))  # fmt: skip
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert names == ["p0", "p2", "p4", "p6"]
    _, full, _ = await http.call("GET", f"{PODS}?fieldSelector=metadata.name!%3Dp0")
    assert len(full["items"]) == 6 and full["kind"] == "PodList" and full["apiVersion"] == "v1"
    status, body, _ = await http.call("GET", f"{PODS}?labelSelector=a%20in%20(")
    assert status == 400 and body["reason"] == "BadRequest"
    _, empty, _ = await http.call("GET", "/api/v1/namespaces/default/secrets")
    assert empty["items"] == []


async def test_table_output(http: Http) -> None:
    await http.call("POST", PODS, pod("t1", app="x"))
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    _, table, _ = await http.call("GET", f"{PODS}?limit=500", headers=accept)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name", "Ready", "Status", "Restarts", "Age"]  # fmt: skip
    row = table["rows"][0]
    assert row["cells"][:4] == ["t1", "0/1", "Pending", 0]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["labels"] == {"app": "x"}
    _, one, _ = await http.call("GET", f"{PODS}/t1", headers=accept)
    assert one["kind"] == "Table" and len(one["rows"]) == 1


async def test_msgpack_wire_format(http: Http) -> None:
    body = msgspec.msgpack.encode(cm("mp", a="1"))
    hdrs = {"Content-Type": "application/msgpack", "Accept": "application/msgpack"}
    status, created, resp = await http.call("POST", CMS, raw=body, headers=hdrs)
    assert status == 201 and resp.headers["Content-Type"] == "application/msgpack"
    assert created["data"] == {"a": "1"} and created["metadata"]["resourceVersion"]
    _, got, _ = await http.call("GET", f"{CMS}/mp", headers={"Accept": "application/vnd.msgpack"})
    assert got["metadata"]["uid"] == created["metadata"]["uid"]


async def _watch_lines(http: Http, path: str, n: int, **headers: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with http.session.get(http.base + path, headers={**http.auth, **headers}) as resp:
        assert resp.status == 200
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        async for line in resp.content:
            events.append(json.loads(line))
            if len(events) == n:
                break
    return events


async def test_watch_semantics(http: Http) -> None:
    await http.call("POST", CMS, cm("w1"))
    _, listed, _ = await http.call("GET", CMS)
    rv = listed["metadata"]["resourceVersion"]
    initial = await _watch_lines(http, f"{CMS}?watch=1&resourceVersion=0", 1)
    assert initial[0]["type"] == "ADDED" and initial[0]["object"]["kind"] == "ConfigMap"

    async def writes() -> None:
        await asyncio.sleep(0.2)
        await http.call("POST", CMS, cm("w2"))
        await http.call("PATCH", f"{CMS}/w2", {"data": {"a": "b"}},
                        headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
        await http.call("DELETE", f"{CMS}/w2")

    task = asyncio.create_task(writes())
    events = await _watch_lines(http, f"{CMS}?watch=True&resourceVersion={rv}", 3)
    await task
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


async def test_watch_selector_transitions(http: Http) -> None:
    await http.call("POST", PODS, pod("sel", app="a"))
    _, listed, _ = await http.call("GET", PODS)
    rv = listed["metadata"]["resourceVersion"]
    merge = {"Content-Type": "application/merge-patch+json"}

    async def writes() -> None:
        await asyncio.sleep(0.2)
        await http.call("PATCH", f"{PODS}/sel", {"metadata": {"labels": {"app": "b"}}},
                        headers=merge)  # fmt: skip
        await http.call("PATCH", f"{PODS}/sel", {"metadata": {"labels": {"app": "a"}}},
                        headers=merge)  # fmt: skip

    task = asyncio.create_task(writes())
    events = await _watch_lines(http, f"{PODS}?watch=true&labelSelector=app%3Da"
                                      f"&resourceVersion={rv}", 2)  # fmt: skip
    await task
    assert [e["type"] for e in events] == ["DELETED", "ADDED"]


async def test_watch_too_old_gets_410_event(small_cluster: Any) -> None:
    ctx = ssl.create_default_context(cafile=str(small_cluster.ca_cert))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        await _expire_watch(Http(small_cluster, session))


async def _expire_watch(http: Http) -> None:
    await http.call("POST", CMS, cm("old"))
    _, listed, _ = await http.call("GET", CMS)
    old = listed["metadata"]["resourceVersion"]
    for value in "bcdefgh":  # more changes than the watch cache keeps
        await http.call("PATCH", f"{CMS}/old", {"data": {"a": value}},
                        headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    events = await _watch_lines(http, f"{CMS}?watch=true&resourceVersion={old}", 1)
    err = events[0]
    assert err["type"] == "ERROR"
    assert (err["object"]["code"], err["object"]["reason"]) == (410, "Expired")
    assert err["object"]["message"].startswith(f"too old resource version: {old}")


async def test_watch_timeout_and_table_events(http: Http) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    async with http.session.get(http.base + f"{CMS}?watch=true&timeoutSeconds=1",
                                headers={**http.auth, "Accept": accept}) as resp:  # fmt: skip
        await http.call("POST", CMS, cm("tbl"))
        lines = [json.loads(line) async for line in resp.content]  # ends after the timeout
    assert lines and lines[-1]["object"]["kind"] == "Table"
    assert lines[0]["object"]["columnDefinitions"]


async def test_bad_input_leaves_store_unchanged(http: Http, cluster: Any) -> None:
    await http.call("POST", CMS, cm("keep", a="1"))
    store = cluster.running.store
    before = await store.current_revision()
    cases: list[tuple[str, str, Any, dict[str, str], int, str]] = [
        ("POST", CMS, b"{not json", {}, 400, "BadRequest"),
        ("POST", CMS, b"a: [b", {"Content-Type": "application/yaml"}, 400, "BadRequest"),
        ("POST", CMS, b"[1,2]", {}, 400, "BadRequest"),
        ("POST", CMS, {**cm("x"), "kind": "Secret"}, {}, 400, "BadRequest"),
        ("POST", CMS, {**cm("x"), "apiVersion": "apps/v1"}, {}, 400, "BadRequest"),
        ("POST", CMS, cm("Bad_Name"), {}, 422, "Invalid"),
        ("POST", CMS, {**cm("x"), "metadata": {"name": "x", "labels": {"a": "b c"}}}, {}, 422,
         "Invalid"),
        ("POST", PODS, {**pod("q"), "spec": {"containers": [{"name": "c", "image": "i",
         "resources": {"limits": {"cpu": "lots"}}}]}}, {}, 422, "Invalid"),
        ("POST", f"{CMS}?fieldValidation=Strict", {**cm("x"), "bogus": 1}, {}, 400, "BadRequest"),
        ("POST", CMS, cm("keep"), {}, 409, "AlreadyExists"),
        ("POST", "/api/v1/namespaces/nope/configmaps", cm("x"), {}, 404, "NotFound"),
        ("PUT", f"{CMS}/keep", {**cm("keep", a="2"), "metadata": {"name": "keep",
         "resourceVersion": "1"}}, {}, 409, "Conflict"),
        ("PUT", f"{CMS}/keep", cm("other"), {}, 400, "BadRequest"),
        ("PATCH", f"{CMS}/keep", {"data": {"a": "3"}}, {"Content-Type": "text/plain"}, 415,
         "UnsupportedMediaType"),
        ("PATCH", f"{CMS}/keep", {"a": 1}, {"Content-Type": "application/apply-patch+yaml"},
         415, "UnsupportedMediaType"),
        ("PATCH", f"{CMS}/keep", [{"op": "remove", "path": "/nope"}],
         {"Content-Type": "application/json-patch+json"}, 422, "Invalid"),
        ("POST", CMS, b"{" + b'"a":"' + b"x" * (3 * 1024 * 1024) + b'"}', {}, 413,
         "RequestEntityTooLarge"),
        ("GET", "/api/v1/widgets", None, {}, 404, "NotFound"),
        ("GET", "/apis/nope.io/v1/things", None, {}, 404, "NotFound"),
        ("GET", "/totally/unknown", None, {}, 404, "NotFound"),
        ("POST", f"{CMS}/keep", cm("keep"), {}, 405, "MethodNotAllowed"),
        ("PUT", "/apis/metrics.k8s.io/v1beta1/nodes/n1", {}, {}, 405, "MethodNotAllowed"),
        ("GET", f"{CMS}?watch=true&resourceVersion=abc", None, {}, 400, "BadRequest"),
    ]  # fmt: skip
    for method, path, body, headers, code, reason in cases:
        raw = body if isinstance(body, bytes) else None
        status, answer, _ = await http.call(method, path, None if raw else body, raw=raw,
                                            headers=headers)  # fmt: skip
        assert (status, answer["reason"]) == (code, reason), (method, path, answer)
        assert answer["kind"] == "Status" and answer["status"] == "Failure"
    assert await store.current_revision() == before
    _, kept, _ = await http.call("GET", f"{CMS}/keep")
    assert kept["data"] == {"a": "1"}


async def test_invalid_has_field_causes(http: Http) -> None:
    status, body, _ = await http.call("POST", CMS, cm("UPPER"))
    assert status == 422
    causes = body["details"]["causes"]
    assert causes[0]["field"] == "metadata.name"
    assert body["details"]["kind"] == "ConfigMap" and body["details"]["name"] == "UPPER"


async def test_namespace_lifecycle(http: Http) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}}
    await http.call("POST", "/api/v1/namespaces", ns)
    await http.call("POST", "/api/v1/namespaces/gone/configmaps", cm("inside"))
    status, _, _ = await http.call("DELETE", "/api/v1/namespaces/gone")
    assert status == 200
    assert (await http.call("GET", "/api/v1/namespaces/gone"))[0] == 404
    assert (await http.call("GET", "/api/v1/namespaces/gone/configmaps/inside"))[0] == 404


async def test_namespace_with_foreign_finalizer_stays_terminating(http: Http) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "held"},
          "spec": {"finalizers": ["example.com/x"]}}  # fmt: skip
    await http.call("POST", "/api/v1/namespaces", ns)
    await http.call("DELETE", "/api/v1/namespaces/held")
    _, held, _ = await http.call("GET", "/api/v1/namespaces/held")
    assert held["status"]["phase"] == "Terminating"
    status, body, _ = await http.call("POST", "/api/v1/namespaces/held/configmaps", cm("no"))
    assert (status, body["reason"]) == (403, "Forbidden")
    held["spec"]["finalizers"] = []
    await http.call("PUT", "/api/v1/namespaces/held/finalize", held)
    assert (await http.call("GET", "/api/v1/namespaces/held"))[0] == 404


async def test_metrics_exposition(http: Http) -> None:
    await http.call("POST", CMS, cm("metered"))
    await http.call("GET", CMS)
    status, text, _ = await http.call("GET", "/metrics")
    assert status == 200
    assert 'apiserver_request_total{verb="list",resource="configmaps",code="200"}' in text
    assert "apiserver_request_duration_seconds_bucket" in text
    assert "apiserver_registered_watchers" in text
    assert 'apiserver_storage_duration_seconds_count{operation="create"}' in text


async def test_max_in_flight_gives_429(http: Http, cluster: Any) -> None:
    server = cluster.running.server
    server.limiter.limit = 1
    server.limiter.in_flight = 1  # one request already being served
    try:
        status, body, resp = await http.call("GET", CMS)
    finally:
        server.limiter.in_flight = 0
        server.limiter.limit = 400
    assert (status, body["reason"]) == (429, "TooManyRequests")
    assert resp.headers["Retry-After"] == "1"
    assert (await http.call("GET", CMS))[0] == 200


async def test_deletecollection_by_label(http: Http) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        labelled = {**cm(name), "metadata": {"name": name, "labels": {"team": team}}}
        await http.call("POST", CMS, labelled)
    status, _, _ = await http.call("DELETE", f"{CMS}?labelSelector=team%3Dx")
    assert status == 200
    _, left, _ = await http.call("GET", CMS)
    assert [i["metadata"]["name"] for i in left["items"]] == ["c"]


async def test_dry_run_never_persists(http: Http, cluster: Any) -> None:
    await http.call("POST", CMS, cm("dry", a="1"))
    store = cluster.running.store
    before = await store.current_revision()
    merge = {"Content-Type": "application/merge-patch+json"}
    status, created, _ = await http.call("POST", f"{CMS}?dryRun=All", cm("ghost"))
    assert status == 201 and created["metadata"]["name"] == "ghost"
    status, patched, _ = await http.call("PATCH", f"{CMS}/dry?dryRun=All", {"data": {"a": "2"}},
                                         headers=merge)  # fmt: skip
    assert status == 200 and patched["data"] == {"a": "2"}
    status, _, _ = await http.call("PUT", f"{CMS}/dry?dryRun=All", cm("dry", a="3"))
    assert status == 200
    assert (await http.call("DELETE", f"{CMS}/dry?dryRun=All"))[0] == 200
    assert (await http.call("DELETE", f"{CMS}?dryRun=All"))[0] == 200
    assert await store.current_revision() == before
    assert (await http.call("GET", f"{CMS}/ghost"))[0] == 404
    _, kept, _ = await http.call("GET", f"{CMS}/dry")
    assert kept["data"] == {"a": "1"}


async def test_pod_log_errors_without_a_kubelet(http: Http) -> None:
    import socket

    await http.call("POST", PODS, pod("unbound"))
    status, body, _ = await http.call("GET", f"{PODS}/unbound/log")
    assert (status, body["reason"]) == (400, "BadRequest")
    assert "does not have a host assigned" in body["message"]
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n-log"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": free}}}}  # fmt: skip
    await http.call("POST", "/api/v1/nodes", node)
    bound = pod("bound")
    bound["spec"]["nodeName"] = "n-log"
    await http.call("POST", PODS, bound)
    status, body, _ = await http.call("GET", f"{PODS}/bound/log?container=c")
    assert (status, body["reason"]) == (503, "ServiceUnavailable")
    assert "is not answering" in body["message"]
    status, body, _ = await http.call("GET", f"{PODS}/bound/log?container=nope")
    assert status == 400


async def test_service_account_token_authenticates(http: Http) -> None:
    import base64

    token = "sa-token-" + "x" * 20
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
              "metadata": {"name": "default-token", "annotations": {
                  "kubernetes.io/service-account.name": "default"}},
              "data": {"token": base64.b64encode(token.encode()).decode()}}  # fmt: skip
    await http.call("POST", "/api/v1/namespaces/default/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": "default"}})  # fmt: skip
    status, body, _ = await http.call("POST", "/api/v1/namespaces/default/secrets", secret)
    assert status == 201, body
    as_sa = {"Authorization": f"Bearer {token}"}
    assert await _status_becomes(http, as_sa, 200)  # once the secrets cache has the token
    await http.call("DELETE", "/api/v1/namespaces/default/secrets/default-token")
    assert await _status_becomes(http, as_sa, 401)


async def _status_becomes(http: Http, headers: dict[str, str], want: int) -> bool:
    for _ in range(100):
        if (await http.call("GET", CMS, auth=False, headers=headers))[0] == want:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_bookmarks_and_watcher_cleanup(tmp_path: Any) -> None:
    import kcore

    async with kcore.Cluster(bookmark_interval=0.1) as cluster:
        ctx = ssl.create_default_context(cafile=str(cluster.ca_cert))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
            http = Http(cluster, session)
            await http.call("POST", CMS, cm("b"))
            _, listed, _ = await http.call("GET", CMS)
            rv = int(listed["metadata"]["resourceVersion"])
            path = f"{CMS}?watch=1&allowWatchBookmarks=true&resourceVersion={rv}"
            async with session.get(http.base + path, headers=http.auth) as resp:
                await http.call("POST", CMS, cm("c"))
                # a change elsewhere moves the revision on: bookmarks then carry it
                await http.call("POST", "/api/v1/namespaces/default/secrets",
                                {"apiVersion": "v1", "kind": "Secret",
                                 "metadata": {"name": "elsewhere"}})  # fmt: skip
                await http.call("GET", CMS)  # a consistent list brings the cache up to date
                kinds = []
                async for line in _bounded(resp.content):
                    event = json.loads(line)
                    kinds.append(event["type"])
                    if event["type"] == "BOOKMARK":
                        assert event["object"]["kind"] == "ConfigMap"
                        assert int(event["object"]["metadata"]["resourceVersion"]) > rv + 1
                        break
                assert kinds[0] == "ADDED"
                _, text, _ = await http.call("GET", "/metrics")
                assert 'apiserver_registered_watchers{resource="configmaps"} 1' in text
            for _ in range(100):  # the server notices the closed connection
                _, text, _ = await http.call("GET", "/metrics")
                if 'apiserver_registered_watchers{resource="configmaps"} 0' in text:
                    break
                await asyncio.sleep(0.05)
            assert 'apiserver_registered_watchers{resource="configmaps"} 0' in text


async def _bounded(lines: Any, seconds: float = 15.0) -> Any:
    async with asyncio.timeout(seconds):
        async for line in lines:
            yield line
