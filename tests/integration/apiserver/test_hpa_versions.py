"""One HorizontalPodAutoscaler, served as autoscaling/v1 and autoscaling/v2.

kcore stores every HPA once, as autoscaling/v2, and converts at the API boundary as Kubernetes
does: each version lists, gets and watches every HPA; a v1 client keeps v2-only fields through
the autoscaling.alpha.kubernetes.io annotations; identity metadata is the same in both. Driven
by the official Python client and kubectl against a `kcore apiserver` subprocess, and by
kcore.Cluster over an SQLite data dir laid out as older kcore releases left it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

import kcore
from kcore.api.autoscaling import (
    METRICS_ANNOTATION,
    HorizontalPodAutoscaler,
    HorizontalPodAutoscalerV2,
)
from kcore.api.codec import from_dict
from kcore.client.rest import WatchEvent
from kcore.storage import open_store

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120)]


def resource_metric(name: str, **target: Any) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": name, "target": target}}


def cpu(percent: int) -> dict[str, Any]:
    return resource_metric("cpu", type="Utilization", averageUtilization=percent)


CPU_50 = cpu(50)
MEMORY = resource_metric("memory", type="AverageValue", averageValue="100Mi")
TARGET = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
IDENTITY = ("uid", "resourceVersion", "generation", "creationTimestamp", "name", "namespace")


class Versions:
    """Raw JSON through the official client's ApiClient, for either version."""

    def __init__(self, api: Any, ns: str) -> None:
        self.api, self.ns = api, ns

    def path(self, version: str, name: str = "", sub: str = "") -> str:
        base = f"/apis/autoscaling/{version}/namespaces/{self.ns}/horizontalpodautoscalers"
        return "/".join(p for p in (base, name, sub) if p)

    def send(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        headers = {"Accept": "application/json",
                   "Content-Type": kw.pop("content_type", "application/json")}  # fmt: skip
        method, url, headers, body, _ = self.api.param_serialize(
            method, path, query_params=list(kw.items()), header_params=headers, body=body,
            auth_settings=["BearerToken"])  # fmt: skip
        return self.api.call_api(method, url, header_params=headers, body=body).response

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        resp = self.send(method, path, body, **kw)
        assert resp.status < 300, resp.data
        return json.loads(resp.data)

    def table(self, version: str) -> Any:
        accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
        method, url, headers, _, _ = self.api.param_serialize(
            "GET", self.path(version), header_params={"Accept": accept},
            auth_settings=["BearerToken"])  # fmt: skip
        resp = self.api.call_api(method, url, header_params=headers).response
        assert resp.status < 300, resp.data
        return json.loads(resp.data)

    def create(self, version: str, body: dict[str, Any]) -> Any:
        return self.call("POST", self.path(version), body)

    def get(self, version: str, name: str) -> Any:
        return self.call("GET", self.path(version, name))

    def list(self, version: str, **query: Any) -> Any:
        return self.call("GET", self.path(version), **query)


@pytest.fixture
def hpa(core_api: Any, ns: str) -> Versions:
    return Versions(core_api, ns)


def v1_body(name: str, cpu: int = 50, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, **meta},
            "spec": {"scaleTargetRef": TARGET, "maxReplicas": 4,
                     "targetCPUUtilizationPercentage": cpu}}  # fmt: skip


def v2_body(name: str, metrics: list[Any], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, **meta},
            "spec": {"scaleTargetRef": TARGET, "minReplicas": 2, "maxReplicas": 6,
                     "metrics": metrics}}  # fmt: skip


def identity(obj: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(obj["metadata"].get(k) for k in IDENTITY)


def test_created_through_v1_reads_through_v2(hpa: Versions) -> None:
    created = hpa.create("v1", v1_body("a", cpu=70))
    v2 = hpa.get("v2", "a")
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [cpu(70)]
    assert identity(v2) == identity(created) == identity(hpa.get("v1", "a"))
    assert not v2["metadata"].get("annotations")


def test_created_through_v2_reads_through_v1(hpa: Versions) -> None:
    created = hpa.create("v2", v2_body("b", [MEMORY, CPU_50]))
    v1 = hpa.get("v1", "b")
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    assert (v1["spec"]["minReplicas"], v1["spec"]["maxReplicas"]) == (2, 6)
    assert METRICS_ANNOTATION in v1["metadata"]["annotations"]
    assert identity(v1) == identity(created)
    assert not hpa.get("v2", "b")["metadata"].get("annotations")


def test_v2_only_metric_survives_v1_update_and_patch(hpa: Versions) -> None:
    hpa.create("v2", v2_body("c", [MEMORY, CPU_50]))
    v1 = hpa.get("v1", "c")
    v1["spec"]["targetCPUUtilizationPercentage"] = 65
    updated = hpa.call("PUT", hpa.path("v1", "c"), v1)
    assert updated["metadata"]["generation"] == 2
    v2 = hpa.get("v2", "c")
    assert v2["spec"]["metrics"][0] == MEMORY
    assert v2["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"] == 65
    assert not v2["metadata"].get("annotations")
    # a strategic merge patch through v1 that never mentions the annotations keeps them too
    patch = {"spec": {"maxReplicas": 9}, "metadata": {"labels": {"tier": "web"}}}
    hpa.call("PATCH", hpa.path("v1", "c"), patch,
             content_type="application/strategic-merge-patch+json")  # fmt: skip
    v2 = hpa.get("v2", "c")
    assert v2["spec"]["maxReplicas"] == 9 and v2["spec"]["metrics"][0] == MEMORY
    assert v2["metadata"]["labels"] == {"tier": "web"}


def test_v1_update_dropping_the_annotations_keeps_v2_status(hpa: Versions) -> None:
    hpa.create("v2", v2_body("d", [MEMORY, CPU_50]))
    v2 = hpa.get("v2", "d")
    v2["status"] = {"currentReplicas": 2, "desiredReplicas": 3, "conditions": [
        {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
         "lastTransitionTime": "2026-01-01T00:00:00Z", "message": "ok"}]}  # fmt: skip
    hpa.call("PUT", hpa.path("v2", "d", "status"), v2)
    v1 = hpa.get("v1", "d")
    v1["metadata"]["annotations"] = {}
    v1["spec"]["maxReplicas"] = 7
    hpa.call("PUT", hpa.path("v1", "d"), v1)
    after = hpa.get("v2", "d")
    assert after["spec"]["maxReplicas"] == 7
    assert after["spec"]["metrics"] == [CPU_50]  # the client dropped the other metrics
    assert after["status"]["conditions"][0]["reason"] == "ReadyForNewScale"


def test_invalid_v2_metrics_in_a_v1_annotation_are_rejected(hpa: Versions) -> None:
    body = v1_body("bad", annotations={METRICS_ANNOTATION: '[{"type": "Bogus"}]'})
    resp = hpa.send("POST", hpa.path("v1"), body)
    assert resp.status == 422
    assert "spec.metrics[0].type" in json.loads(resp.data)["message"]
    assert hpa.list("v2")["items"] == []


def test_status_written_through_v2_reads_back_through_v1(hpa: Versions) -> None:
    hpa.create("v1", v1_body("e"))
    v2 = hpa.get("v2", "e")
    used = {"averageUtilization": 130, "averageValue": "260m"}
    current = {"type": "Resource", "resource": {"name": "cpu", "current": used}}
    v2["status"] = {"currentReplicas": 2, "desiredReplicas": 4, "currentMetrics": [current]}
    written = hpa.call("PUT", hpa.path("v2", "e", "status"), v2)
    v1 = hpa.get("v1", "e")
    assert v1["status"]["currentCPUUtilizationPercentage"] == 130
    assert (v1["status"]["currentReplicas"], v1["status"]["desiredReplicas"]) == (2, 4)
    assert v1["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]
    assert v1["metadata"]["generation"] == 1
    # and the v2 raw value comes back unchanged after a v1 status write of the same object
    hpa.call("PUT", hpa.path("v1", "e", "status"), v1)
    assert hpa.get("v2", "e")["status"]["currentMetrics"] == [current]


def test_list_through_each_version_shows_all(hpa: Versions) -> None:
    hpa.create("v1", v1_body("f1", labels={"app": "x"}))
    hpa.create("v2", v2_body("f2", [CPU_50], labels={"app": "x"}))
    hpa.create("v2", v2_body("f3", [MEMORY]))
    for version in ("v1", "v2"):
        page = hpa.list(version)
        assert page["apiVersion"] == f"autoscaling/{version}"
        assert [i["metadata"]["name"] for i in page["items"]] == ["f1", "f2", "f3"]
        assert {i["apiVersion"] for i in page["items"]} <= {f"autoscaling/{version}"}
        selected = hpa.list(version, labelSelector="app=x", fieldSelector="metadata.name!=f1")
        assert [i["metadata"]["name"] for i in selected["items"]] == ["f2"]
    one = hpa.list("v1", limit=1)
    rest = hpa.list("v1", limit=5, **{"continue": one["metadata"]["continue"]})
    assert [i["metadata"]["name"] for i in one["items"] + rest["items"]] == ["f1", "f2", "f3"]


def _watch(hpa: Versions, version: str, rv: str, events: list[Any], done: threading.Event) -> None:
    resp = hpa.send("GET", hpa.path(version), watch="true", resourceVersion=rv,
                    timeoutSeconds="20")  # fmt: skip
    buffered = b""
    for chunk in resp.stream(1024, decode_content=True):
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        events.extend(json.loads(line) for line in lines if line.strip())
        if len(events) >= 3:
            break
    resp.release_conn()
    done.set()


def test_v1_watch_sees_v2_writes_as_v1(hpa: Versions) -> None:
    rv = hpa.list("v1")["metadata"]["resourceVersion"]
    events: list[Any] = []
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(hpa, "v1", rv, events, done), daemon=True)
    watcher.start()
    created = hpa.create("v2", v2_body("g", [MEMORY, CPU_50]))
    v2 = hpa.get("v2", "g")
    v2["spec"]["maxReplicas"] = 8
    hpa.call("PUT", hpa.path("v2", "g"), v2)
    hpa.call("DELETE", hpa.path("v2", "g"))
    assert done.wait(20)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    for e in events:
        obj = e["object"]
        assert obj["apiVersion"] == "autoscaling/v1"
        assert obj["spec"]["targetCPUUtilizationPercentage"] == 50
        assert METRICS_ANNOTATION in obj["metadata"]["annotations"]
    assert events[0]["object"]["metadata"]["uid"] == created["metadata"]["uid"]
    assert events[1]["object"]["spec"]["maxReplicas"] == 8


def test_delete_and_deletecollection_through_either_version(hpa: Versions) -> None:
    hpa.create("v2", v2_body("h1", [MEMORY]))
    hpa.create("v1", v1_body("h2"))
    hpa.create("v1", v1_body("h3"))
    gone = hpa.call("DELETE", hpa.path("v1", "h1"))
    assert gone["status"] == "Success" and gone["details"]["name"] == "h1"
    assert [i["metadata"]["name"] for i in hpa.list("v2")["items"]] == ["h2", "h3"]
    hpa.call("DELETE", hpa.path("v2"))
    assert hpa.list("v1")["items"] == []


def test_table_output_is_the_same_through_both_versions(hpa: Versions) -> None:
    hpa.create("v1", v1_body("t1", cpu=40))
    hpa.create("v2", v2_body("t2", [MEMORY, CPU_50, cpu(60)]))
    tables = {v: hpa.table(v) for v in ("v1", "v2")}
    assert tables["v1"]["rows"] and [r["cells"] for r in tables["v1"]["rows"]] == [
        r["cells"] for r in tables["v2"]["rows"]
    ]
    targets = {r["cells"][0]: r["cells"][2] for r in tables["v1"]["rows"]}
    assert targets == {
        "t1": "cpu: <unknown>/40%",
        "t2": "memory: <unknown>/100Mi, cpu: <unknown>/50% + 1 more...",
    }


def test_kubectl_shows_hpas_of_both_versions(kubectl: Any, hpa: Versions) -> None:
    kubectl("create", "deployment", "web", "-n", hpa.ns, "--image=busybox")
    kubectl("autoscale", "deployment", "web", "-n", hpa.ns, "--max=5", "--cpu-percent=40")
    hpa.create("v2", v2_body("mem", [MEMORY]))
    table = kubectl("get", "hpa", "-n", hpa.ns).stdout
    rows = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert set(rows) == {"web", "mem"}
    assert "cpu: <unknown>/40%" in rows["web"]
    assert "memory: <unknown>/100Mi" in rows["mem"]
    v1_list = json.loads(kubectl("get", "--raw", hpa.path("v1")).stdout)
    assert sorted(i["metadata"]["name"] for i in v1_list["items"]) == ["mem", "web"]
    assert v1_list["items"][1]["spec"]["targetCPUUtilizationPercentage"] == 40
    described = kubectl("describe", "hpa", "mem", "-n", hpa.ns).stdout
    assert "resource memory on pods" in described and "100Mi" in described
    web = json.loads(kubectl("get", "hpa", "web", "-n", hpa.ns, "-o", "json").stdout)
    assert web["apiVersion"] == "autoscaling/v2"
    assert web["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 40


# --- data dirs of older kcore releases -----------------------------------------------------------
OLD_V1 = "/registry/horizontalpodautoscalers.autoscaling/default/old1"
OLD_V2 = "/registry/horizontalpodautoscalers.autoscaling@v2/default/old2"


def _stored(body: dict[str, Any], uid: str) -> bytes:
    body = json.loads(json.dumps(body))
    body["metadata"].update(namespace="default", uid=uid, generation=1,
                            creationTimestamp="2026-01-01T00:00:00Z")  # fmt: skip
    return json.dumps(body).encode()


@pytest.fixture
def old_data_dir(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite://{tmp_path / 'state.db'}"


async def test_old_layout_is_migrated_to_one_prefix(old_data_dir: str) -> None:
    store = await open_store(old_data_dir)
    try:
        await store.create(OLD_V1, _stored(v1_body("old1", cpu=60), "u1"))
        await store.create(OLD_V2, _stored(v2_body("old2", [MEMORY]), "u2"))
        # the same name in both old layouts: the later write wins
        await store.create(f"{OLD_V1[:-4]}both", _stored(v1_body("both"), "u3"))
        await store.create(f"{OLD_V2[:-4]}both", _stored(v2_body("both", [MEMORY]), "u4"))
    finally:
        await store.close()
    async with kcore.Cluster(store=old_data_dir) as cluster:
        c = cluster.client
        v1 = await c.list(HorizontalPodAutoscaler, namespace="default")
        v2 = await c.list(HorizontalPodAutoscalerV2, namespace="default")
        assert [h.metadata.name for h in v1.items] == ["both", "old1", "old2"]
        assert [h.metadata.uid for h in v2.items] == ["u4", "u1", "u2"]
        old1 = await c.get(HorizontalPodAutoscalerV2, "old1", namespace="default")
        resource = old1.spec.metrics[0].resource
        assert resource is not None and resource.target.average_utilization == 60
        old2 = await c.get(HorizontalPodAutoscaler, "old2", namespace="default")
        assert METRICS_ANNOTATION in old2.metadata.annotations
    store = await open_store(old_data_dir)
    try:
        assert (await store.list("/registry/horizontalpodautoscalers.autoscaling@v2/")).items == []
        kv = await store.get(OLD_V1)
        assert kv is not None and json.loads(kv.value)["apiVersion"] == "autoscaling/v2"
    finally:
        await store.close()


async def test_kcore_client_v1_watch_gets_v1_objects_in_its_wire_format() -> None:
    """kcore's own client watches in msgpack: the v1 view has its own encoding there too."""
    async with kcore.Cluster() as cluster, cluster.new_client(wire="msgpack") as c:
        start = (await c.list(HorizontalPodAutoscaler, namespace="default")).resource_version
        v2_events = c.watch(HorizontalPodAutoscalerV2, namespace="default", resource_version=start,
                            bookmarks=False)  # fmt: skip
        v1_events = c.watch(HorizontalPodAutoscaler, namespace="default", resource_version=start,
                            bookmarks=False)  # fmt: skip
        async with aclosing(v1_events), aclosing(v2_events):
            body = v2_body("w", [MEMORY, CPU_50], namespace="default")
            await c.create(from_dict(HorizontalPodAutoscalerV2, body))
            v2_event = await anext(v2_events)
            v1_event = await anext(v1_events)
    assert isinstance(v2_event, WatchEvent) and isinstance(v1_event, WatchEvent)
    assert isinstance(v1_event.object, HorizontalPodAutoscaler)
    assert v1_event.object.spec.target_cpu_utilization_percentage == 50
    assert METRICS_ANNOTATION in v1_event.object.metadata.annotations
    assert isinstance(v2_event.object, HorizontalPodAutoscalerV2)
    assert v2_event.object.spec.metrics[0].resource is not None
    assert not v2_event.object.metadata.annotations
