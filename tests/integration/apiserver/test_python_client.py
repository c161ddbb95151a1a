"""The official `kubernetes` Python client against kcore: every kind through the dynamic
client, typed APIs for the common ones, and watch streams including a 410 relist."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.timeout(180)

_TEMPLATE = {
    "metadata": {"labels": {"app": "x"}},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}
_SELECTOR = {"matchLabels": {"app": "x"}}

# apiVersion, kind, body without metadata
SAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    ("v1", "Pod", {"spec": _TEMPLATE["spec"]}),
    ("v1", "Service", {"spec": {"ports": [{"port": 80}], "selector": {"app": "x"}}}),
    ("v1", "Endpoints", {"subsets": [{"addresses": [{"ip": "127.64.0.5"}],
                                      "ports": [{"port": 80}]}]}),
    ("v1", "ConfigMap", {"data": {"k": "v"}}),
    ("v1", "Secret", {"stringData": {"k": "v"}}),
    ("v1", "ServiceAccount", {}),
    ("v1", "Event", {"involvedObject": {"kind": "Pod", "name": "p", "namespace": "NS"},
                     "reason": "Test", "message": "hello", "type": "Normal"}),
    ("v1", "ReplicationController", {"spec": {"replicas": 1, "selector": {"app": "x"},
                                              "template": _TEMPLATE}}),
    ("apps/v1", "Deployment", {"spec": {"selector": _SELECTOR, "template": _TEMPLATE}}),
    ("apps/v1", "ReplicaSet", {"spec": {"selector": _SELECTOR, "template": _TEMPLATE}}),
    ("apps/v1", "DaemonSet", {"spec": {"selector": _SELECTOR, "template": _TEMPLATE}}),
    ("apps/v1", "ControllerRevision", {"revision": 1, "data": {"a": 1}}),
    ("batch/v1", "Job", {"spec": {"template": {
        "spec": {**_TEMPLATE["spec"], "restartPolicy": "Never"}}}}),
    ("coordination.k8s.io/v1", "Lease", {"spec": {"holderIdentity": "me",
                                                  "leaseDurationSeconds": 15}}),
    ("autoscaling/v1", "HorizontalPodAutoscaler", {"spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
        "maxReplicas": 3}}),
    ("autoscaling/v2", "HorizontalPodAutoscaler", {"spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
        "maxReplicas": 3}}),
    ("discovery.k8s.io/v1", "EndpointSlice", {"addressType": "IPv4",
                                              "endpoints": [{"addresses": ["127.64.0.5"]}]}),
    ("policy/v1", "PodDisruptionBudget", {"spec": {"minAvailable": 1, "selector": _SELECTOR}}),
    ("v1", "Namespace", {}),
    ("v1", "Node", {"spec": {"unschedulable": False}}),
    ("scheduling.k8s.io/v1", "PriorityClass", {"value": 1000}),
]  # fmt: skip


@pytest.fixture
def dyn(core_api: Any, tmp_path: Path) -> dynamic.DynamicClient:
    # The discovery cache goes to the test's own directory (by default the client leaves
    # /tmp/osrcp-<hash of the server URL>.json behind, one per server).
    return dynamic.DynamicClient(core_api, cache_file=str(tmp_path / "discovery.json"))


@pytest.mark.parametrize(
    ("api_version", "kind", "body"), SAMPLES, ids=[f"{a}/{k}" for a, k, _ in SAMPLES]
)
def test_crud_every_kind(dyn: Any, ns: str, api_version: str, kind: str,
                         body: dict[str, Any]) -> None:  # fmt: skip
    res = dyn.resources.get(api_version=api_version, kind=kind)
    name = f"obj-{ns}"
    manifest = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **body}
    if kind == "Event":
        manifest["involvedObject"] = {**body["involvedObject"], "namespace": ns}
    scope = {"namespace": ns} if res.namespaced else {}
    created = res.create(body=manifest, **scope)
    assert created.metadata.name == name and created.metadata.uid
    got = res.get(name=name, **scope)
    assert got.metadata.resourceVersion == created.metadata.resourceVersion
    listed = res.get(**scope)
    assert name in [i.metadata.name for i in listed.items]
    replaced_body = got.to_dict()
    replaced_body["metadata"].setdefault("labels", {})["replaced"] = "yes"
    replaced = res.replace(body=replaced_body, **scope)
    assert replaced.metadata.labels["replaced"] == "yes"
    patched = res.patch(name=name, body={"metadata": {"annotations": {"p": "1"}}},
                        content_type="application/merge-patch+json", **scope)  # fmt: skip
    assert patched.metadata.annotations["p"] == "1"
    assert patched.metadata.labels["replaced"] == "yes"
    res.delete(name=name, **scope)
    with pytest.raises(dynamic.exceptions.NotFoundError):
        res.get(name=name, **scope)


def test_typed_pod_lifecycle_and_errors(core_api: Any, ns: str) -> None:
    v1 = client.CoreV1Api(core_api)
    pod = client.V1Pod(metadata=client.V1ObjectMeta(generate_name="web-", labels={"a": "b"}),
                       spec=client.V1PodSpec(containers=[client.V1Container(
                           name="c", image="busybox:1")]))  # fmt: skip
    created = v1.create_namespaced_pod(ns, pod)
    name = created.metadata.name
    assert name.startswith("web-") and len(name) == len("web-") + 5
    assert created.status.phase == "Pending"
    assert created.spec.service_account_name == "default"
    stale = v1.read_namespaced_pod(name, ns)
    v1.patch_namespaced_pod(name, ns, {"metadata": {"labels": {"c": "d"}}})
    stale.metadata.labels["e"] = "f"
    with pytest.raises(ApiException) as info:
        v1.replace_namespaced_pod(name, ns, stale)
    assert info.value.status == 409
    fresh = v1.read_namespaced_pod(name, ns)
    assert fresh.metadata.labels == {"a": "b", "c": "d"}
    ops = [{"op": "add", "path": "/metadata/labels/g", "value": "h"}]
    assert v1.patch_namespaced_pod(name, ns, ops).metadata.labels["g"] == "h"
    status = v1.patch_namespaced_pod_status(name, ns, {"status": {"phase": "Running"}})
    assert status.status.phase == "Running"
    assert v1.list_namespaced_pod(ns, label_selector="a=b,g").items[0].metadata.name == name
    assert v1.list_pod_for_all_namespaces(field_selector=f"metadata.namespace={ns}").items
    v1.delete_namespaced_pod(name, ns)
    with pytest.raises(ApiException) as info:
        v1.read_namespaced_pod(name, ns)
    assert info.value.status == 404


def test_scale_subresource_and_binding(core_api: Any, ns: str) -> None:
    apps = client.AppsV1Api(core_api)
    v1 = client.CoreV1Api(core_api)
    dep = {"metadata": {"name": "d"}, "spec": {"replicas": 1, "selector": _SELECTOR,
                                                "template": _TEMPLATE}}  # fmt: skip
    apps.create_namespaced_deployment(ns, dep)
    scale = apps.read_namespaced_deployment_scale("d", ns)
    assert scale.spec.replicas == 1 and scale.status.selector == "app=x"
    scale.spec.replicas = 4
    assert apps.replace_namespaced_deployment_scale("d", ns, scale).spec.replicas == 4
    with pytest.raises(ApiException) as info:
        apps.replace_namespaced_deployment_scale("d", ns, scale)  # stale resourceVersion
    assert info.value.status == 409
    apps.patch_namespaced_deployment_scale("d", ns, {"spec": {"replicas": 2}})
    d = apps.read_namespaced_deployment("d", ns)
    assert d.spec.replicas == 2 and d.metadata.generation == 3
    v1.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": _TEMPLATE["spec"]})
    binding = {"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}}
    v1.create_namespaced_pod_binding("p", ns, binding, _preload_content=False)
    assert v1.read_namespaced_pod("p", ns).spec.node_name == "n1"
    with pytest.raises(ApiException) as info:
        v1.create_namespaced_pod_binding("p", ns, binding, _preload_content=False)
    assert info.value.status == 409


def test_graceful_pod_delete_on_a_node(core_api: Any, ns: str) -> None:
    v1 = client.CoreV1Api(core_api)
    spec = {**_TEMPLATE["spec"], "nodeName": "n1"}
    v1.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": spec})
    v1.delete_namespaced_pod("p", ns)
    pending = v1.read_namespaced_pod("p", ns)
    assert pending.metadata.deletion_timestamp is not None
    assert pending.metadata.deletion_grace_period_seconds == 30
    v1.delete_namespaced_pod("p", ns, grace_period_seconds=0)
    with pytest.raises(ApiException) as info:
        v1.read_namespaced_pod("p", ns)
    assert info.value.status == 404


def test_finalizers_hold_deletion(core_api: Any, ns: str) -> None:
    v1 = client.CoreV1Api(core_api)
    cm = {"metadata": {"name": "c", "finalizers": ["example.com/hold"]}}
    v1.create_namespaced_config_map(ns, cm)
    v1.delete_namespaced_config_map("c", ns)
    held = v1.read_namespaced_config_map("c", ns)
    assert held.metadata.deletion_timestamp is not None
    v1.patch_namespaced_config_map("c", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as info:
        v1.read_namespaced_config_map("c", ns)
    assert info.value.status == 404


def test_watch_stream_sees_changes_in_order(core_api: Any, ns: str) -> None:
    v1 = client.CoreV1Api(core_api)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version

    def writer() -> None:
        v1.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
        v1.patch_namespaced_config_map("b", ns, {"data": {"x": "1"}})
        v1.delete_namespaced_config_map("b", ns)

    w = watch.Watch()
    seen = []
    t = threading.Timer(0.5, writer)
    t.start()
    for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv,
                       timeout_seconds=5):  # fmt: skip
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 3:
            w.stop()
    t.join()
    assert seen == [("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "b")]
    initial = [(e["type"], e["object"].metadata.name)
               for e in watch.Watch().stream(v1.list_namespaced_config_map, ns,
                                             timeout_seconds=1)]  # fmt: skip
    assert initial == [("ADDED", "a")]


async def test_watch_relists_after_410(small_cluster: Any) -> None:
    cluster = small_cluster
    cfg = client.Configuration()
    config.load_kube_config(str(cluster.kubeconfig), client_configuration=cfg)
    api = client.ApiClient(cfg)
    v1 = client.CoreV1Api(api)

    def scenario() -> list[str]:
        v1.create_namespaced_config_map("default", {"metadata": {"name": "old"}})
        old_rv = v1.list_namespaced_config_map("default").metadata.resource_version
        for i in range(8):  # more changes than the watch cache keeps
            v1.patch_namespaced_config_map("old", "default", {"data": {"i": str(i)}})
        return [old_rv]

    (old_rv,) = await asyncio.to_thread(scenario)

    def resume() -> list[tuple[str, str]]:
        with pytest.raises(ApiException) as info:
            for _ in watch.Watch().stream(v1.list_namespaced_config_map, "default",
                                          resource_version=old_rv):  # fmt: skip
                pass
        assert info.value.status == 410 and "Expired" in info.value.reason
        relisted = v1.list_namespaced_config_map("default")
        threading.Timer(0.3, lambda: v1.delete_namespaced_config_map("old", "default")).start()
        events = []
        for ev in watch.Watch().stream(v1.list_namespaced_config_map, "default",
                                       resource_version=relisted.metadata.resource_version,
                                       timeout_seconds=3):  # fmt: skip
            events.append((ev["type"], ev["object"].metadata.name))
            break
        return events

    try:
        assert await asyncio.to_thread(resume) == [("DELETED", "old")]
    finally:
        api.close()
