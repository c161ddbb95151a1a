"""Helpers for the API server fuzz tests: a blocking HTTPS client bound to one `kcore apiserver`
subprocess, valid seed objects for every registered kind, and hypothesis strategies that mutate
them. Imported by this unique module name (never through conftest).

The client is blocking (urllib3) because hypothesis drives examples synchronously; a subprocess
server means a crash shows up as a dead process rather than a hung test.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
import urllib3
from apiserver_support import start_server, stop_server
from hypothesis import strategies as st

import kcore.api.kinds  # noqa: F401  (registers every kind)
from kcore.api.registry import ResourceInfo, all_resources

FUZZ_NS = "fuzz"
# the store the fuzzed server runs on: memory by default, KCORE_FUZZ_STORE=sqlite to explore
STORE = os.environ.get("KCORE_FUZZ_STORE", "memory")
JSON = "application/json"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        if "msgpack" in self.headers.get("Content-Type", ""):
            return msgspec.msgpack.decode(self.body)
        return json.loads(self.body)


class FuzzClient:
    """Sends one request at a time and reads the whole reply."""

    def __init__(self, url: str, token: str, ca_cert: str) -> None:
        self.url = url
        self.auth = {"Authorization": f"Bearer {token}"}
        self.pool = urllib3.PoolManager(
            ca_certs=ca_cert, retries=False, timeout=urllib3.Timeout(connect=5, read=20)
        )

    def call(
        self, method: str, path: str, body: bytes | None = None, ctype: str = JSON, accept: str = ""
    ) -> Reply:
        headers = dict(self.auth)
        if accept:
            headers["Accept"] = accept
        if body is not None:
            headers["Content-Type"] = ctype
        resp = self.pool.request(method, self.url + path, body=body, headers=headers)
        return Reply(resp.status, resp.data, dict(resp.headers))

    def send_json(self, method: str, path: str, doc: Any, ctype: str = JSON) -> Reply:
        return self.call(method, path, json.dumps(doc).encode(), ctype)

    def close(self) -> None:
        self.pool.clear()


def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzClient]:
    """The body of a test module's `client` fixture: a `kcore apiserver` subprocess on
    STORE with the fuzz namespace, and a client for it; fails if the server died."""
    srv = start_server(tmp_path_factory.mktemp("kcore-fuzz"), "--store", STORE)
    try:
        c = FuzzClient(srv.url, srv.token, str(srv.ca_cert))
        made = c.send_json("POST", "/api/v1/namespaces", {"metadata": {"name": FUZZ_NS}})
        assert made.status == 201, made.body
        yield c
        assert srv.proc.poll() is None, "the API server died during fuzzing"
        c.close()
    finally:
        stop_server(srv)


def describe(method: str, path: str, body: Any, reply: Reply) -> str:
    shown = body if isinstance(body, bytes | str) else json.dumps(body, default=repr)
    return f"{method} {path}\nbody: {shown!r:.2000}\n-> {reply.status} {reply.body!r:.2000}"


def check(method: str, path: str, body: Any, reply: Reply) -> None:
    """No server error; errors are Status objects carrying the same code."""
    what = describe(method, path, body, reply)
    if reply.status >= 400 and method != "HEAD":
        status = reply.json()
        assert status["kind"] == "Status" and status["code"] == reply.status, what
        # Kubernetes' answer to a resourceVersion from the future, after waiting for it
        if reply.status == 504 and status["reason"] == "Timeout":
            assert "resource version" in status["message"], what
            return
    assert reply.status < 500, what


def snapshot(client: FuzzClient, info: ResourceInfo) -> list[tuple[str, str]]:
    reply = client.call("GET", collection_path(info))
    assert reply.status == 200, reply.body
    items = reply.json()["items"]
    return sorted((i["metadata"]["name"], i["metadata"]["resourceVersion"]) for i in items)


def collection_path(info: ResourceInfo, namespace: str = FUZZ_NS) -> str:
    root = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    if info.namespaced:
        return f"{root}/namespaces/{namespace}/{info.plural}"
    return f"{root}/{info.plural}"


def writable_resources() -> list[ResourceInfo]:
    """Kinds that can be created (reviews and read-only kinds are skipped by verb)."""
    found = [r for r in all_resources() if "create" in r.verbs and "get" in r.verbs]
    return sorted(found, key=lambda r: (r.group, r.plural))


_CONTAINER = {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}
_POD_SPEC = {"containers": [_CONTAINER]}
_TEMPLATE = {"metadata": {"labels": {"app": "a"}}, "spec": _POD_SPEC}
_SELECTOR = {"matchLabels": {"app": "a"}}

# kind -> a body (without apiVersion/kind/metadata.name) the server accepts
SEEDS: dict[str, dict[str, Any]] = {
    "Pod": {"metadata": {"labels": {"app": "a"}}, "spec": _POD_SPEC},
    "ConfigMap": {"data": {"k": "v"}},
    "Secret": {"stringData": {"k": "v"}, "type": "Opaque"},
    "Service": {"spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    "Deployment": {"spec": {"replicas": 2, "selector": _SELECTOR, "template": _TEMPLATE}},
    "ReplicaSet": {"spec": {"replicas": 1, "selector": _SELECTOR, "template": _TEMPLATE}},
    "DaemonSet": {"spec": {"selector": _SELECTOR, "template": _TEMPLATE}},
    "StatefulSet": {"spec": {"serviceName": "s", "selector": _SELECTOR, "template": _TEMPLATE}},
    "ReplicationController": {
        "spec": {"replicas": 1, "selector": {"app": "a"}, "template": _TEMPLATE}
    },
    "Job": {"spec": {"template": {**_TEMPLATE, "spec": {**_POD_SPEC, "restartPolicy": "Never"}}}},
    "Node": {"metadata": {"labels": {"zone": "z"}}, "status": {"capacity": {"cpu": "4"}}},
    "HorizontalPodAutoscaler": {
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
            "minReplicas": 1,
            "maxReplicas": 3,
        }
    },
    "Endpoints": {"subsets": [{"addresses": [{"ip": "127.64.0.5"}], "ports": [{"port": 80}]}]},
    "EndpointSlice": {
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.64.0.5"], "conditions": {"ready": True}}],
        "ports": [{"port": 80, "protocol": "TCP"}],
    },
    "PodDisruptionBudget": {"spec": {"minAvailable": "50%", "selector": _SELECTOR}},
    "Lease": {"spec": {"holderIdentity": "h", "leaseDurationSeconds": 15}},
    "PriorityClass": {"value": 1000},
    "LimitRange": {"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}}]}},
    "ResourceQuota": {"spec": {"hard": {"pods": "10"}}},
}


def seed_object(info: ResourceInfo, name: str) -> dict[str, Any]:
    body = copy.deepcopy(SEEDS.get(info.kind, {}))
    meta = body.setdefault("metadata", {})
    meta["name"] = name
    return {"apiVersion": info.api_version, "kind": info.kind, **body}


# ---- strategies -------------------------------------------------------------------------------

_TEXT = st.text(max_size=12)
_ODD_STRINGS = st.sampled_from(
    ["", "-", "a" * 300, "100m", "1e400", "-1", "0x10", "∞", "\x00", "Ki", "1.5.5", "null",
     "a=b,c!=d", "in (", "nan", "9" * 40, "../..", "%00", "{}", "   "]
)  # fmt: skip
_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 1e308]),
)
SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXT, _ODD_STRINGS)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(_TEXT, _ODD_STRINGS), inner, max_size=3),
    ),
    max_leaves=8,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    items: list[tuple[Any, Any]] = []
    if isinstance(doc, dict):
        items = list(doc.items())
    elif isinstance(doc, list):
        items = list(enumerate(doc))
    for key, value in items:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _delete(doc: Any, path: tuple[Any, ...]) -> None:
    for key in path[:-1]:
        doc = doc[key]
    del doc[path[-1]]


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """`base` with one to three mutations: a value replaced, a key removed, or a field added."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if not paths:
            action = "add"
        if action == "add":
            targets = [p for p in paths if isinstance(_get(doc, p), dict)]
            where = draw(st.sampled_from([(), *targets]))
            key = draw(st.one_of(_TEXT, st.sampled_from(["spec", "status", "metadata", "kind"])))
            _set_child(doc, where, key, draw(JSON_VALUES))
        elif action == "delete":
            _delete(doc, draw(st.sampled_from(paths)))
        else:
            _set(doc, draw(st.sampled_from(paths)), draw(JSON_VALUES))
    return doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _set_child(doc: Any, where: tuple[Any, ...], key: str, value: Any) -> None:
    _get(doc, where)[key] = value


def deep_nesting(depth: int) -> bytes:
    """A JSON document nested `depth` levels (built as text: json.dumps would hit recursion)."""
    return b'{"a": [' * depth + b'"x"' + b"]}" * depth


QUERY_KEYS = (
    "labelSelector", "fieldSelector", "limit", "continue", "resourceVersionMatch", "watch",
    "timeoutSeconds", "allowWatchBookmarks", "pretty", "dryRun", "fieldManager",
    "fieldValidation", "propagationPolicy", "gracePeriodSeconds", "orphanDependents",
    "sendInitialEvents", "includeObject", "as",
)  # fmt: skip
QUERY_VALUES = st.one_of(
    _TEXT,
    _ODD_STRINGS,
    st.integers(min_value=-(2**65), max_value=2**65).map(str),
    st.sampled_from(
        ["app=a", "app in (a,b)", "!app", "app notin ()", "a==b", "metadata.name=x",
         "spec.nodeName!=", "status.phase=Running,metadata.namespace=x", "true", "false", "1",
         "NotOlderThan", "Exact", "All", "Strict", "Ignore", "Orphan", "Background", "Foreground",
         "eyJydiI6MSwic3RhcnQiOiJ4In0=", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ", "%ZZ", "a%00b"]
    ),
)  # fmt: skip
# resourceVersions that answer at once (one from the future waits before its 504 Timeout)
RESOURCE_VERSIONS = st.one_of(
    st.integers(min_value=-(2**65), max_value=1).map(str),
    st.sampled_from(["", "x", "1.5", " 1", "0x1", "1e3", "+1", "\uff10", "NaN"]),
)
