"""Fuzzing the API server with hypothesis: mutated and garbage bodies for create, update and the
three patch types of every kind, random list/watch query strings and random paths and methods.

Whatever arrives, the server must answer below 500, every error must be a Status whose `code`
matches the HTTP status, the server must stay up, and a rejected write must leave the store as
it was. Examples are derandomized (the same inputs every run) so a failure reproduces; the
failing request is in the assertion message.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from fuzz_support import (
    FUZZ_NS,
    JSON_VALUES,
    PATCH_TYPES,
    QUERY_KEYS,
    QUERY_VALUES,
    RESOURCE_VERSIONS,
    FuzzClient,
    Reply,
    check,
    collection_path,
    deep_nesting,
    describe,
    mutated,
    seed_object,
    serve,
    snapshot,
    writable_resources,
)

from kcore.api.registry import ResourceInfo

pytestmark = pytest.mark.timeout(300)

RESOURCES = writable_resources()
# KCORE_FUZZ_RANDOM=1 explores new inputs (random, more examples) instead of the fixed set
_EXPLORE = bool(os.environ.get("KCORE_FUZZ_RANDOM"))
FUZZ = settings(
    derandomize=not _EXPLORE,
    database=None,
    deadline=None,
    max_examples=3000 if _EXPLORE else 500,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# every watch example holds its request for timeoutSeconds=1
FUZZ_QUERIES = settings(FUZZ, max_examples=150)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzClient]:
    yield from serve(tmp_path_factory)


def cleanup(client: FuzzClient, info: ResourceInfo, reply: Reply) -> None:
    """Delete what a create made, so every example starts from the same store."""
    if reply.status in (200, 201):
        name = reply.json()["metadata"]["name"]
        client.call("DELETE", f"{collection_path(info)}/{name}?gracePeriodSeconds=0")


_resources = st.sampled_from(RESOURCES)


@FUZZ
@given(data=st.data())
def test_mutated_creates_never_fail_the_server(client: FuzzClient, data: st.DataObject) -> None:
    info = data.draw(_resources, label="resource")
    body = data.draw(mutated(seed_object(info, "fz-create")), label="body")
    path = collection_path(info)
    wire = data.draw(st.sampled_from(["json", "yaml", "msgpack"]), label="wire format")
    before = snapshot(client, info)
    reply = client.call("POST", path, encode(body, wire), f"application/{wire}")
    check("POST", path, body, reply)
    if reply.status >= 400:
        assert snapshot(client, info) == before, describe("POST", path, body, reply)
    cleanup(client, info, reply)


def encode(doc: Any, wire: str) -> bytes:
    if wire == "yaml":
        return yaml.safe_dump(doc).encode()
    if wire == "msgpack":
        try:
            return msgspec.msgpack.encode(doc)
        except OverflowError:  # an integer beyond 64 bits: msgpack cannot carry it
            return json.dumps(doc).encode()
    return json.dumps(doc).encode()


_RAW_BODIES = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
    st.sampled_from(
        [b"", b"{", b"[]", b"null", b"1", b'"x"', b"{}", b'{"kind": 1}', b"\xff\xfe",
         b'{"apiVersion": "v1", "kind": "Pod", "metadata": []}',
         b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "name": "y"}}',
         b"apiVersion: v1\nkind: Pod\nmetadata: {name: y}\n", b"- a\n- b\n", b"!!python/none"]
    ),
    st.integers(min_value=1, max_value=3000).map(deep_nesting),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)  # fmt: skip
_CTYPES = st.sampled_from(
    ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
     "application/msgpack", "text/plain", "", "application/json; charset=latin1", *PATCH_TYPES,
     "application/apply-patch+yaml"]
)  # fmt: skip


@FUZZ
@given(data=st.data())
def test_raw_bodies_never_fail_the_server(client: FuzzClient, data: st.DataObject) -> None:
    info = data.draw(_resources, label="resource")
    raw = data.draw(_RAW_BODIES, label="raw")
    ctype = data.draw(_CTYPES, label="content-type")
    method = data.draw(st.sampled_from(["POST", "PUT", "PATCH"]), label="method")
    path = collection_path(info) + ("" if method == "POST" else "/fz-raw")
    before = snapshot(client, info)
    reply = client.call(method, path, raw, ctype)
    check(method, path, (ctype, raw), reply)
    if reply.status >= 400:
        assert snapshot(client, info) == before, describe(method, path, raw, reply)
    cleanup(client, info, reply)


def ensure_target(client: FuzzClient, info: ResourceInfo) -> dict[str, Any]:
    """The object updates and patches aim at, created from its seed on first use."""
    path = f"{collection_path(info)}/fz-target"
    got = client.call("GET", path)
    if got.status == 200:
        return dict(got.json())
    made = client.send_json("POST", collection_path(info), seed_object(info, "fz-target"))
    assert made.status == 201, made.body
    return dict(made.json())


_JSON_PATCH_OP = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
     "path": st.one_of(st.sampled_from(
         ["/metadata/labels/x", "/spec", "/spec/replicas", "/metadata/name", "/metadata",
          "/status", "/kind", "/apiVersion", "/metadata/labels", "/spec/containers/0/image",
          "/spec/containers/-", "/spec/template/spec/containers/9", "", "/", "/a~2b", "x",
          "/metadata/resourceVersion", "/metadata/finalizers/0", "/data/k"]),
         st.text(max_size=10))},
    optional={"value": JSON_VALUES, "from": st.sampled_from(["/metadata/labels", "/spec", "",
                                                             "/nope", "/metadata/name"])},
)  # fmt: skip


@st.composite
def patch_request(draw: st.DrawFn, current: dict[str, Any]) -> tuple[str, Any]:
    ctype = draw(st.sampled_from(PATCH_TYPES))
    if ctype == PATCH_TYPES[0]:
        doc: Any = draw(st.one_of(st.lists(_JSON_PATCH_OP, max_size=4), JSON_VALUES))
    else:
        doc = draw(st.one_of(mutated(current), JSON_VALUES))
        if draw(st.booleans()) and isinstance(doc, dict):
            doc["$patch"] = draw(st.sampled_from(["replace", "delete", "merge", "bogus"]))
        if ctype == PATCH_TYPES[2] and isinstance(doc, dict):
            _add_directives(draw, doc)
    return ctype, doc


_DIRECTIVES = st.sampled_from(
    ["$setElementOrder/containers", "$setElementOrder/ports", "$retainKeys",
     "$deleteFromPrimitiveList/finalizers", "$setElementOrder/finalizers", "$patch", "$bogus"]
)  # fmt: skip


def _add_directives(draw: st.DrawFn, doc: dict[str, Any]) -> None:
    """Strategic merge patch directives (as kubectl apply sends them) at random places."""
    targets = [doc, *(v for v in doc.values() if isinstance(v, dict))]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        where = draw(st.sampled_from(targets))
        where[draw(_DIRECTIVES)] = draw(
            st.one_of(st.lists(st.one_of(JSON_VALUES, st.just({"name": "c"})), max_size=3),
                      JSON_VALUES)
        )  # fmt: skip


def with_current_rv(doc: Any, current: dict[str, Any]) -> Any:
    """Documents are drawn from the seed (hypothesis needs draws independent of the store);
    the placeholder resourceVersion becomes the stored one just before sending."""
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if isinstance(meta, dict) and meta.get("resourceVersion") == "RV":
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
    return doc


@FUZZ
@given(data=st.data())
def test_updates_and_patches_never_fail_the_server(client: FuzzClient, data: st.DataObject) -> None:
    info = data.draw(_resources, label="resource")
    seed = seed_object(info, "fz-target")
    seed["metadata"]["resourceVersion"] = "RV"
    sub = data.draw(st.sampled_from(["", *sorted(info.subresources)]), label="subresource")
    if data.draw(st.booleans(), label="put"):
        method, ctype, doc = "PUT", "application/json", data.draw(mutated(seed), label="doc")
    else:
        method = "PATCH"
        ctype, doc = data.draw(patch_request(seed), label="patch")
    current = ensure_target(client, info)
    path = f"{collection_path(info)}/fz-target" + (f"/{sub}" if sub else "")
    doc = with_current_rv(doc, current)
    reply = client.send_json(method, path, doc, ctype)
    check(method, path, (ctype, doc), reply)
    if reply.status >= 400:
        after = client.call("GET", f"{collection_path(info)}/fz-target")
        same = after.status == 200 and after.json() == current
        assert same, describe(method, path, doc, reply) + f"\nstore now: {after.body!r:.2000}"


_POST_SUBRESOURCES = {
    "binding": {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "fz-target"},
                "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}},
    "eviction": {"apiVersion": "policy/v1", "kind": "Eviction",
                 "metadata": {"name": "fz-target"},
                 "deleteOptions": {"gracePeriodSeconds": 0, "propagationPolicy": "Background",
                                   "preconditions": {"uid": "u", "resourceVersion": "1"}}},
}  # fmt: skip
_FINALIZE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fz-target"},
             "spec": {"finalizers": ["kubernetes"]}}  # fmt: skip


@FUZZ
@given(data=st.data())
def test_post_subresources_never_fail_the_server(client: FuzzClient, data: st.DataObject) -> None:
    """pods/binding, pods/eviction and namespaces/finalize with mutated bodies."""
    sub = data.draw(st.sampled_from([*sorted(_POST_SUBRESOURCES), "finalize"]), label="sub")
    valid = _FINALIZE if sub == "finalize" else _POST_SUBRESOURCES[sub]
    doc = data.draw(st.one_of(mutated(valid), JSON_VALUES), label="body")
    kind = "Namespace" if sub == "finalize" else "Pod"
    info = next(r for r in RESOURCES if r.kind == kind)
    ensure_target(client, info)
    path = f"{collection_path(info)}/fz-target/{sub}"
    method = "PUT" if sub == "finalize" else "POST"
    check(method, path, doc, client.send_json(method, path, doc))


_DELETE_OPTIONS = {
    "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
    "propagationPolicy": "Foreground", "orphanDependents": False, "dryRun": ["All"],
    "preconditions": {"uid": "u", "resourceVersion": "1"},
}  # fmt: skip


@FUZZ
@given(data=st.data())
def test_deletes_never_fail_the_server(client: FuzzClient, data: st.DataObject) -> None:
    """DELETE of one object or a collection, with mutated DeleteOptions and query strings."""
    info = data.draw(_resources, label="resource")
    doc = data.draw(st.one_of(st.none(), mutated(_DELETE_OPTIONS), JSON_VALUES), label="body")
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), QUERY_VALUES), max_size=3))
    pairs = [(k, v) for k, v in pairs if k not in ("watch", "timeoutSeconds")]
    # (never every namespace: the fuzz namespace must outlive the test)
    one = info.kind == "Namespace" or data.draw(st.booleans(), label="one object")
    ensure_target(client, info)
    path = collection_path(info) + ("/fz-target" if one else "")
    path += f"?{urllib.parse.urlencode(pairs)}" if pairs else ""
    before = snapshot(client, info)
    body = None if doc is None else json.dumps(doc).encode()
    reply = client.call("DELETE", path, body)
    check("DELETE", path, doc, reply)
    if reply.status >= 400:
        assert snapshot(client, info) == before, describe("DELETE", path, doc, reply)


_ACCEPTS = st.sampled_from(
    ["", "application/json", "application/msgpack", "application/vnd.kubernetes.protobuf",
     "application/json;as=Table;v=v1;g=meta.k8s.io", "text/html", "*/*;q=0.1,image/png",
     "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
     "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", ";;;=,", "a/b;c"]
)  # fmt: skip


@FUZZ_QUERIES
@given(data=st.data())
def test_list_and_watch_queries_never_fail_the_server(
    client: FuzzClient, data: st.DataObject
) -> None:
    info = data.draw(_resources, label="resource")
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), QUERY_VALUES), max_size=4))
    if data.draw(st.booleans(), label="with resourceVersion"):
        pairs.append(("resourceVersion", data.draw(RESOURCE_VERSIONS, label="resourceVersion")))
    if data.draw(st.integers(0, 7), label="watch") == 0:
        pairs = [(k, v) for k, v in pairs if k not in ("watch", "timeoutSeconds")]
        pairs += [("watch", "1"), ("timeoutSeconds", "1")]
    else:
        pairs = [(k, v) for k, v in pairs if k != "watch"]
    scope = data.draw(st.sampled_from(["ns", "all"]), label="scope")
    base = collection_path(info)
    if scope == "all" and info.namespaced:
        base = base.replace(f"/namespaces/{FUZZ_NS}", "")
    path = f"{base}?{urllib.parse.urlencode(pairs)}"
    accept = data.draw(_ACCEPTS, label="accept")
    reply = client.call("GET", path, accept=accept)
    check("GET", path, accept, reply)


_SEGMENTS = st.one_of(
    st.sampled_from(
        ["api", "apis", "v1", "apps", "namespaces", FUZZ_NS, "default", "pods", "nodes",
         "deployments", "status", "scale", "binding", "eviction", "log", "fz-target", "..", ".",
         "%2F", "%00", "watch", "proxy", "openapi", "v2", "v3", "version", "healthz", "metrics",
         "exec", "attach", "portforward", "finalize", "ephemeralcontainers", "autoscaling"]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/?#"), max_size=8).map(
        lambda s: urllib.parse.quote(s, safe="")
    ),
)  # fmt: skip
_METHODS = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE",
                            "PROPFIND"])  # fmt: skip


@FUZZ
@given(data=st.data())
def test_random_paths_and_methods_never_fail_the_server(
    client: FuzzClient, data: st.DataObject
) -> None:
    segments = data.draw(st.lists(_SEGMENTS, min_size=0, max_size=7), label="segments")
    method = data.draw(_METHODS, label="method")
    path = "/" + "/".join(segments)
    if data.draw(st.integers(0, 9), label="watch") == 0:
        path += "?watch=1&timeoutSeconds=1"
    body = None if method in ("GET", "HEAD", "OPTIONS") else b"{}"
    check(method, path, body, client.call(method, path, body))
