"""Endpoint resolution and slicing, the GC's ownership graph, and the namespace reconcile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import kcore
from kcore.api.codec import from_dict
from kcore.api.core import ConfigMap, Namespace, Pod, Service
from kcore.api.meta import ObjectMeta, OwnerReference
from kcore.api.registry import by_kind
from kcore.client import Client, EventRecorder, SharedInformerFactory, key_of
from kcore.controllers import endpointslice as es
from kcore.controllers.endpoints import endpoints_for, resolve_port, subsets_for
from kcore.controllers.garbagecollector import Graph, Node, monitored_resources
from kcore.controllers.namespace import NamespaceController


def service(**spec: Any) -> Service:
    base = {"selector": {"app": "w"}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}
    return from_dict(
        Service, {"metadata": {"name": "s", "namespace": "ns"}, "spec": {**base, **spec}}
    )


def pod(name: str, ip: str, *, ready: bool = True, port_name: str = "web", **extra: Any) -> Pod:
    body: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": {"app": "w"}},
        "spec": {
            "nodeName": "n1",
            "containers": [
                {"name": "c", "image": "i", "ports": [{"name": port_name, "containerPort": 8080}]}
            ],
        },
        "status": {
            "phase": extra.pop("phase", "Running"),
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
    body["metadata"].update(extra)
    return from_dict(Pod, body)


def test_resolve_port_by_number_name_and_default() -> None:
    p = pod("a", "127.64.0.2")
    assert resolve_port(p, 9000, 80) == 9000
    assert resolve_port(p, "9001", 80) == 9001
    assert resolve_port(p, "web", 80) == 8080
    assert resolve_port(p, "missing", 80) is None
    assert resolve_port(p, None, 80) == 80


def test_endpoints_skip_unusable_pods_and_split_by_readiness() -> None:
    pods = [
        pod("b", "127.64.0.3", ready=False),
        pod("a", "127.64.0.2"),
        pod("noip", ""),
        pod("done", "127.64.0.4", phase="Succeeded"),
        pod("going", "127.64.0.5", deletionTimestamp="2026-01-01T00:00:00Z"),
        pod("other-port", "127.64.0.6", port_name="admin"),  # lacks the named port
    ]
    eps = endpoints_for(service(), pods)
    assert [e.pod.metadata.name for e in eps] == ["a", "b"]
    (subset,) = subsets_for(eps)
    assert [a.ip for a in subset.addresses] == ["127.64.0.2"]
    assert [a.ip for a in subset.not_ready_addresses] == ["127.64.0.3"]
    assert subset.addresses[0].target_ref is not None
    assert subset.addresses[0].target_ref.uid == "uid-a"
    published = endpoints_for(service(publishNotReadyAddresses=True), pods)
    assert all(e.ready for e in published)


def test_slices_group_by_ports_and_hold_at_most_100() -> None:
    svc = service()
    svc.metadata.uid = "svc-uid"
    pods = [pod(f"p{i}", f"127.64.{i // 200}.{i % 200 + 2}") for i in range(250)]
    pods += [pod("alt", "127.64.9.9", port_name="web")]
    slices = es.desired_slices(svc, endpoints_for(svc, pods))
    assert [len(s.endpoints) for s in slices] == [100, 100, 51]
    assert [s.metadata.name for s in slices] == ["s-0", "s-1", "s-2"]
    first = slices[0]
    assert first.metadata.labels[es.SERVICE_NAME_LABEL] == "s"
    assert first.metadata.labels[es.MANAGED_BY_LABEL] == es.MANAGED_BY
    assert first.metadata.owner_references[0].uid == "svc-uid"
    assert [(p.name, p.port) for p in first.ports] == [("http", 8080)]
    empty = es.desired_slices(svc, [])
    assert len(empty) == 1 and not empty[0].endpoints


def ref(uid: str, block: bool = False) -> OwnerReference:
    return OwnerReference(
        api_version="v1", kind="ConfigMap", name=uid, uid=uid, block_owner_deletion=block
    )


def node(uid: str, *owners: OwnerReference, **kw: Any) -> Node:
    info = by_kind("v1", "ConfigMap")
    assert info is not None
    return Node(info=info, namespace="ns", name=uid, uid=uid, owners=list(owners), **kw)


def test_graph_tracks_dependents_and_blocking_ones() -> None:
    g = Graph()
    g.upsert(node("owner"))
    g.upsert(node("a", ref("owner", block=True)))
    g.upsert(node("b", ref("owner")))
    g.upsert(node("c", ref("virtual")))  # owner never seen: still indexed
    assert {n.uid for n in g.dependents_of("owner")} == {"a", "b"}
    assert [n.uid for n in g.blocking_dependents("owner")] == ["a"]
    assert [n.uid for n in g.dependents_of("virtual")] == ["c"]
    g.upsert(node("a"))  # a dropped its owner reference
    assert {n.uid for n in g.dependents_of("owner")} == {"b"}
    g.remove("b")
    assert g.dependents_of("owner") == [] and "owner" not in g.dependents
    deleting = node("x", finalizers=("foregroundDeletion",), deleting=True)
    assert deleting.deleting_dependents


def test_gc_watches_every_deletable_kind_but_events_and_leases() -> None:
    names = {(i.group, i.plural) for i in monitored_resources()}
    assert {("", "pods"), ("apps", "replicasets"), ("apps", "deployments")} <= names
    assert ("", "events") not in names and ("coordination.k8s.io", "leases") not in names
    assert ("metrics.k8s.io", "pods") not in names
    assert len(names) == len(monitored_resources())


@pytest.fixture
async def api() -> AsyncIterator[Client]:
    async with kcore.Cluster() as cluster:
        yield cluster.client


async def test_namespace_reconcile_empties_then_finalizes(api: Client) -> None:
    ns = await api.create(Namespace(metadata=ObjectMeta(name="left")))
    for i in range(3):
        await api.create(ConfigMap(metadata=ObjectMeta(name=f"cm{i}", namespace="left")))
    recorder = EventRecorder(api, component="test")
    nc = NamespaceController(api, SharedInformerFactory(api), recorder)
    # the cache says Terminating (as if the API server's own pass stopped half way)
    terminating = from_dict(
        Namespace,
        {
            "metadata": {
                "name": "left",
                "uid": ns.metadata.uid,
                "resourceVersion": ns.metadata.resource_version,
                "deletionTimestamp": "2026-01-01T00:00:00Z",
            },
            "spec": {"finalizers": ["kubernetes", "example.com/keep"]},
        },
    )
    nc.namespaces.indexer.upsert(key_of(terminating), terminating)
    await nc.sync("left")
    assert nc.queue.waiting() == 1  # objects were still there: look again later
    assert not (await api.list(ConfigMap, namespace="left")).items
    await nc.sync("left")
    got = await api.get(Namespace, "left")
    assert got.spec.finalizers == ["example.com/keep"]  # only its own finalizer removed
    await recorder.close()
    nc.queue.shutdown()


def test_headless_service_addresses_carry_pod_hostnames() -> None:
    member = pod("a", "127.64.0.2")
    member.spec.hostname, member.spec.subdomain = "web-0", "s"
    stranger = pod("b", "127.64.0.3")
    stranger.spec.hostname, stranger.spec.subdomain = "web-1", "elsewhere"
    (subset,) = subsets_for(endpoints_for(service(), [member, stranger]))
    assert {a.ip: a.hostname for a in subset.addresses} == {"127.64.0.2": "web-0", "127.64.0.3": ""}
    svc = service()
    slices = es.desired_slices(svc, endpoints_for(svc, [member]))
    assert slices[0].endpoints[0].hostname == "web-0"


def test_terminating_pods_leave_endpoints_but_stay_in_slices() -> None:
    going = pod("going", "127.64.0.5", deletionTimestamp="2026-01-01T00:00:00Z")
    svc = service()
    assert endpoints_for(svc, [going]) == []
    (ep,) = es.desired_slices(svc, endpoints_for(svc, [going], terminating=True))[0].endpoints
    assert (ep.conditions.ready, ep.conditions.serving, ep.conditions.terminating) == (
        False,
        True,
        True,
    )
