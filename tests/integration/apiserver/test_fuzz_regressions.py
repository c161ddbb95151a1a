"""Requests the fuzz tests (test_fuzz_api.py) once answered with 500, each pinned down: they
must get a 400 BadRequest Status and leave the store unchanged."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fuzz_support import FUZZ_NS, FuzzClient, Reply, deep_nesting, serve

pytestmark = pytest.mark.timeout(120)

CMS = f"/api/v1/namespaces/{FUZZ_NS}/configmaps"
PODS = f"/api/v1/namespaces/{FUZZ_NS}/pods"
DEPLOYS = f"/apis/apps/v1/namespaces/{FUZZ_NS}/deployments"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzClient]:
    yield from serve(tmp_path_factory)


def assert_bad_request(reply: Reply) -> None:
    assert reply.status == 400, reply.body
    status = reply.json()
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "BadRequest", 400)


def make(client: FuzzClient, path: str, doc: dict[str, Any]) -> dict[str, Any]:
    reply = client.send_json("POST", path, doc)
    assert reply.status == 201, reply.body
    return dict(reply.json())


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_body_nested_deeper_than_the_decoder_allows(client: FuzzClient, method: str) -> None:
    before = client.call("GET", CMS).json()["items"]
    path = CMS if method == "POST" else f"{CMS}/deep"
    ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
    assert_bad_request(client.call(method, path, deep_nesting(3000), ctype))
    assert client.call("GET", CMS).json()["items"] == before


@pytest.mark.parametrize(
    "scale",
    [
        {"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": [None]},
        {"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": "3"},
        {"kind": "Scale", "metadata": ["x"], "spec": {"replicas": 3}},
    ],
)
def test_scale_with_sections_that_are_not_objects(
    client: FuzzClient, scale: dict[str, Any]
) -> None:
    name = f"sc-{abs(hash(json.dumps(scale))) % 10**6}"
    stored = make(client, DEPLOYS, deployment(name))
    assert_bad_request(client.send_json("PUT", f"{DEPLOYS}/{name}/scale", scale))
    patch = {k: v for k, v in scale.items() if k in ("spec", "metadata")}
    assert_bad_request(
        client.send_json("PATCH", f"{DEPLOYS}/{name}/scale", patch, "application/merge-patch+json")
    )
    assert client.call("GET", f"{DEPLOYS}/{name}").json() == stored


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "Binding", "metadata": {"name": "p"}, "target": ["n1"]},
        {"kind": "Binding", "metadata": "p", "target": {"name": "n1"}},
        {"kind": "Binding", "target": {"name": 7}},
    ],
)
def test_binding_with_malformed_body(client: FuzzClient, body: dict[str, Any]) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "b"}]}}
    stored = client.call("GET", f"{PODS}/p")
    if stored.status == 404:
        stored = Reply(200, json.dumps(make(client, PODS, pod)).encode(), {})
    assert_bad_request(client.send_json("POST", f"{PODS}/p/binding", body))
    assert client.call("GET", f"{PODS}/p").json() == stored.json()


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "Eviction", "deleteOptions": ["x"]},
        {"kind": "Eviction", "deleteOptions": {"preconditions": "x"}},
        {"kind": "Eviction", "deleteOptions": {"gracePeriodSeconds": "soon"}},
        {"kind": "Eviction", "deleteOptions": {"propagationPolicy": [None]}},
    ],
)
def test_eviction_with_malformed_delete_options(client: FuzzClient, body: dict[str, Any]) -> None:
    pod = {"metadata": {"name": "ev"}, "spec": {"containers": [{"name": "c", "image": "b"}]}}
    got = client.call("GET", f"{PODS}/ev")
    stored = got.json() if got.status == 200 else make(client, PODS, pod)
    assert_bad_request(client.send_json("POST", f"{PODS}/ev/eviction", body))
    assert client.call("GET", f"{PODS}/ev").json() == stored


@pytest.mark.parametrize(
    "spec", [["kubernetes"], {"finalizers": "kubernetes"}, {"finalizers": [1]}]
)
def test_namespace_finalize_with_malformed_spec(client: FuzzClient, spec: Any) -> None:
    path = f"/api/v1/namespaces/{FUZZ_NS}"
    stored = client.call("GET", path).json()
    body = {"kind": "Namespace", "metadata": {"name": FUZZ_NS}, "spec": spec}
    assert_bad_request(client.send_json("PUT", f"{path}/finalize", body))
    assert client.call("GET", path).json() == stored


@pytest.mark.parametrize(
    "options",
    [{"preconditions": ["x"]}, {"gracePeriodSeconds": "soon"}, {"gracePeriodSeconds": True}],
)
def test_delete_with_malformed_options(client: FuzzClient, options: dict[str, Any]) -> None:
    got = client.call("GET", f"{CMS}/keep")
    stored = got.json() if got.status == 200 else make(client, CMS, {"metadata": {"name": "keep"}})
    for path in (f"{CMS}/keep", CMS):
        assert_bad_request(client.send_json("DELETE", path, options))
    assert client.call("GET", f"{CMS}/keep").json() == stored
