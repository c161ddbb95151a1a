"""Each reconcile on canned informer caches (filled directly, informers never started).

Writes go to a real in-process API server (kcore.Cluster, memory store) and are read back,
so what is checked is exactly what a sync asked the API server to do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import kcore
from kcore.api.apps import Deployment, ReplicaSet
from kcore.api.codec import from_dict, to_dict
from kcore.api.core import Endpoints, Pod, Service
from kcore.api.errors import StatusError
from kcore.api.registry import by_kind
from kcore.client import Client, EventRecorder, SharedInformerFactory, key_of
from kcore.controllers import deployment_util as du
from kcore.controllers.deployment import DeploymentController
from kcore.controllers.endpoints import EndpointsController
from kcore.controllers.garbagecollector import GarbageCollector
from kcore.controllers.replicaset import ReplicaSetController

pytestmark = pytest.mark.timeout(60)


_recorders: list[EventRecorder] = []


@pytest.fixture
async def api() -> AsyncIterator[Client]:
    async with kcore.Cluster() as cluster:
        try:
            yield cluster.client
        finally:
            while _recorders:
                await _recorders.pop().close()


def parts(client: Client) -> tuple[SharedInformerFactory, EventRecorder]:
    recorder = EventRecorder(client, component="test")
    _recorders.append(recorder)
    return SharedInformerFactory(client), recorder


def fill(informer: Any, *objs: Any) -> None:
    for obj in objs:
        informer.indexer.upsert(key_of(obj), obj)


def template(app: str, image: str = "i:1") -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": image}]},
    }


async def make_rs(client: Client, name: str, replicas: int) -> ReplicaSet:
    body = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name),
        },
    }
    return await client.create(from_dict(ReplicaSet, body))


async def make_pod(client: Client, name: str, owner: Any | None = None, **status: Any) -> Pod:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "labels": {"app": "web"}}
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": owner.api_version,
                "kind": owner.kind,
                "name": owner.metadata.name,
                "uid": owner.metadata.uid,
                "controller": True,
            }
        ]
    pod = await client.create(from_dict(Pod, {"metadata": meta, "spec": template("web")["spec"]}))
    if status:
        pod = await client.update_status(from_dict(Pod, {**_dict(pod), "status": status}))
    return pod


def _dict(obj: Any) -> Any:
    return to_dict(obj)


async def list_pods(client: Client) -> list[Pod]:
    return list((await client.list(Pod, namespace="default")).items)


async def test_replicaset_creates_missing_pods_once(api: Client) -> None:
    factory, recorder = parts(api)
    rsc = ReplicaSetController(api, factory, recorder)
    rs = await make_rs(api, "web", 3)
    existing = await make_pod(api, "web-0", rs)
    fill(rsc.owners, rs)
    fill(rsc.pods, existing)
    await rsc.sync("default/web")
    pods = await list_pods(api)
    assert len(pods) == 3
    assert all(p.metadata.owner_references[0].uid == rs.metadata.uid for p in pods)
    assert rsc.expectations.pending("default/web") == (2, 0)
    # the pod cache has not seen the new pods: a second sync must not create again
    fill(rsc.owners, await api.get(ReplicaSet, "web", namespace="default"))
    await rsc.sync("default/web")
    assert len(await list_pods(api)) == 3
    status = (await api.get(ReplicaSet, "web", namespace="default")).status
    assert (status.replicas, status.observed_generation) == (1, rs.metadata.generation)


async def test_replicaset_deletes_least_valuable_pods(api: Client) -> None:
    factory, recorder = parts(api)
    rsc = ReplicaSetController(api, factory, recorder)
    rs = await make_rs(api, "web", 2)
    ready = {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ],
    }
    keep = [await make_pod(api, f"keep-{i}", rs, **ready) for i in range(2)]
    drop = [
        await make_pod(api, "drop-pending", rs, phase="Pending"),
        await make_pod(api, "drop-notready", rs, phase="Running"),
    ]
    fill(rsc.owners, rs)
    fill(rsc.pods, *keep, *drop)
    await rsc.sync("default/web")
    assert {p.metadata.name for p in await list_pods(api)} == {"keep-0", "keep-1"}
    assert rsc.expectations.pending("default/web") == (0, 2)
    status = (await api.get(ReplicaSet, "web", namespace="default")).status
    # status is of the pods this sync saw (the deletions are not observed yet), as Kubernetes
    assert (status.replicas, status.ready_replicas) == (4, 2)


async def make_deployment(client: Client, replicas: int, image: str) -> Deployment:
    body = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template("web", image),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2},
            },
        },
    }
    return await client.create(from_dict(Deployment, body))


async def old_rs_for(client: Client, d: Deployment, image: str, available: int) -> ReplicaSet:
    tmpl = template("web", image)
    tmpl["metadata"]["labels"][du.HASH_LABEL] = "old"
    body = {
        "metadata": {
            "name": "web-old",
            "namespace": "default",
            "labels": tmpl["metadata"]["labels"],
            "annotations": {du.REVISION: "1", du.DESIRED_REPLICAS: "10", du.MAX_REPLICAS: "13"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "web",
                    "uid": d.metadata.uid,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "replicas": 10,
            "selector": {"matchLabels": {"app": "web", du.HASH_LABEL: "old"}},
            "template": tmpl,
        },
    }
    rs = await client.create(from_dict(ReplicaSet, body))
    rs.status.replicas = rs.status.ready_replicas = rs.status.available_replicas = available
    return await client.update_status(rs)


async def test_rolling_update_first_surges_then_scales_old_down(api: Client) -> None:
    factory, recorder = parts(api)
    dc = DeploymentController(api, factory, recorder)
    d = await make_deployment(api, 10, "i:2")
    old = await old_rs_for(api, d, "i:1", available=10)
    fill(dc.deployments, d)
    fill(dc.rss, old)
    await dc.sync("default/web")
    rss = {rs.metadata.name: rs for rs in (await api.list(ReplicaSet, namespace="default")).items}
    new = next(rs for name, rs in rss.items() if name != "web-old")
    assert new.spec.replicas == 3  # maxSurge 3: 13 pods in all
    assert new.metadata.annotations[du.REVISION] == "2"
    # 13 pods, at least 10 - 2 = 8 available, 3 new ones unavailable: old loses 13 - 8 - 3
    assert rss["web-old"].spec.replicas == 8
    # next pass: the old pods are down to 8 available, the new ones not available yet
    old_rs = rss["web-old"]
    old_rs.status.replicas = old_rs.status.ready_replicas = old_rs.status.available_replicas = 8
    old_rs = await api.update_status(old_rs)
    fill(dc.deployments, await api.get(Deployment, "web", namespace="default"))
    fill(dc.rss, new, old_rs)
    await dc.sync("default/web")
    new_now = await api.get(ReplicaSet, new.metadata.name, namespace="default")
    assert new_now.spec.replicas == 5  # 11 pods in all: 2 more fit under 13
    assert (await api.get(ReplicaSet, "web-old", namespace="default")).spec.replicas == 8
    # third pass: 13 pods, 8 available, 5 new unavailable: nothing may go
    fill(dc.deployments, await api.get(Deployment, "web", namespace="default"))
    fill(dc.rss, new_now, old_rs)
    await dc.sync("default/web")
    assert (await api.get(ReplicaSet, "web-old", namespace="default")).spec.replicas == 8
    d = await api.get(Deployment, "web", namespace="default")
    assert d.metadata.annotations[du.REVISION] == "2"
    assert d.status.observed_generation == d.metadata.generation
    assert (d.status.replicas, d.status.updated_replicas) == (8, 0)  # from RS status


async def test_endpoints_written_from_cached_pods(api: Client) -> None:
    factory, recorder = parts(api)
    ec = EndpointsController(api, factory, recorder)
    svc = await api.create(
        from_dict(
            Service,
            {
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )
    )
    ready_cond = [{"type": "Ready", "status": "True"}]
    pods = [
        await make_pod(api, "a", phase="Running", podIP="127.64.0.2", conditions=ready_cond),
        await make_pod(api, "b", phase="Running", podIP="127.64.0.3"),
        await make_pod(api, "c", phase="Pending"),  # no IP yet: not an endpoint
    ]
    fill(ec.services, svc)
    fill(ec.pods, *pods)
    await ec.sync("default/web")
    ep = await api.get(Endpoints, "web", namespace="default")
    (subset,) = ep.subsets
    assert [a.ip for a in subset.addresses] == ["127.64.0.2"]
    assert [a.ip for a in subset.not_ready_addresses] == ["127.64.0.3"]
    assert [(p.port, p.protocol) for p in subset.ports] == [(8080, "TCP")]


async def test_gc_deletes_dependents_of_a_vanished_owner(api: Client) -> None:
    factory, recorder = parts(api)
    gc = GarbageCollector(api, factory, recorder)
    rs = await make_rs(api, "web", 0)
    child = await make_pod(api, "child", rs)
    await api.delete(ReplicaSet, "web", namespace="default")
    # the graph only ever saw the pod: its owner must be confirmed gone by a live read
    info = by_kind("v1", "Pod")
    assert info is not None
    gc._observe(info, child)
    await gc.sync(f"delete:{child.metadata.uid}")
    with pytest.raises(StatusError) as e:
        await api.get(Pod, "child", namespace="default")
    assert e.value.code == 404


async def test_gc_keeps_dependents_whose_owner_exists_but_is_not_cached(api: Client) -> None:
    factory, recorder = parts(api)
    gc = GarbageCollector(api, factory, recorder)
    rs = await make_rs(api, "web", 0)
    child = await make_pod(api, "child", rs)
    info = by_kind("v1", "Pod")
    assert info is not None
    gc._observe(info, child)
    await gc.sync(f"delete:{child.metadata.uid}")
    assert (await api.get(Pod, "child", namespace="default")).metadata.uid == child.metadata.uid


async def test_replica_failure_condition_set_kept_and_cleared(api: Client) -> None:
    factory, recorder = parts(api)
    rsc = ReplicaSetController(api, factory, recorder)
    rs = await make_rs(api, "web", 1)
    conds = rsc._conditions(rs, "pods is forbidden: quota")
    (cond,) = conds
    assert (cond.type, cond.status, cond.reason) == ("ReplicaFailure", "True", "FailedCreate")
    rs.status.conditions = conds
    assert rsc._conditions(rs, "pods is forbidden: quota") == conds  # unchanged: same time
    assert rsc._conditions(rs, None) == []
