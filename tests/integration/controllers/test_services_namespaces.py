"""Endpoints, EndpointSlices, default ServiceAccounts, namespaces and leader election."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from ctl_support import Env
from hollow import eventually

from kcore.api.apps import Deployment, ReplicaSet
from kcore.api.codec import from_dict
from kcore.api.coordination import Lease
from kcore.api.core import Endpoints, Namespace, Pod, Service, ServiceAccount
from kcore.api.discovery import EndpointSlice
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import ElectionTimings

pytestmark = pytest.mark.timeout(120)


def replica_set(name: str, replicas: int, ns: str = "default") -> ReplicaSet:
    return from_dict(
        ReplicaSet,
        {
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "image": "busybox",
                                "ports": [{"name": "http", "containerPort": 8080}],
                            }
                        ]
                    },
                },
            },
        },
    )


def service(name: str, app: str) -> Service:
    return from_dict(
        Service,
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "selector": {"app": app},
                "ports": [
                    {"name": "web", "port": 80, "targetPort": "http"},
                    {"name": "raw", "port": 81, "targetPort": 9000},
                ],
            },
        },
    )


async def endpoints_state(env: Env, name: str) -> tuple[set[str], set[str]] | None:
    try:
        ep = await env.client.get(Endpoints, name, namespace="default")
    except StatusError:
        return None
    ready = {a.ip for s in ep.subsets for a in s.addresses}
    not_ready = {a.ip for s in ep.subsets for a in s.not_ready_addresses}
    return ready, not_ready


async def test_endpoints_and_slices_follow_readiness(env: Env) -> None:
    await env.client.create(replica_set("api", 3))
    await env.client.create(service("api", "api"))

    async def three_ready() -> tuple[set[str], set[str]] | None:
        state = await endpoints_state(env, "api")
        return state if state and len(state[0]) == 3 and not state[1] else None

    ready, _ = await eventually(three_ready)
    ep = await env.client.get(Endpoints, "api", namespace="default")
    (subset,) = ep.subsets
    assert {(p.name, p.port) for p in subset.ports} == {("web", 8080), ("raw", 9000)}
    address = subset.addresses[0]
    assert address.node_name and address.target_ref is not None
    assert address.target_ref.kind == "Pod"

    pods = (await env.client.list(Pod, namespace="default", label_selector="app=api")).items
    victim = next(p for p in pods if p.status.pod_ip == sorted(ready)[0])
    await env.nodes.set_ready(victim, False)

    async def one_not_ready() -> bool:
        state = await endpoints_state(env, "api")
        return state == (ready - {victim.status.pod_ip}, {victim.status.pod_ip})

    await eventually(one_not_ready)

    async def slice_matches() -> bool:
        slices = (
            await env.client.list(
                EndpointSlice, namespace="default", label_selector="kubernetes.io/service-name=api"
            )
        ).items
        eps = [e for s in slices for e in s.endpoints]
        flags = {e.addresses[0]: e.conditions.ready for e in eps}
        return flags == {ip: ip != victim.status.pod_ip for ip in ready}

    await eventually(slice_matches)
    await env.nodes.set_ready(victim, True)
    await eventually(three_ready)


async def test_replicaset_adopts_orphans_and_releases_mismatches(env: Env) -> None:
    orphan = from_dict(
        Pod,
        {
            "metadata": {"name": "stray", "namespace": "default", "labels": {"app": "adopt"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    await env.client.create(orphan)
    rs = await env.client.create(replica_set("adopt", 2))

    async def settled() -> list[Pod] | None:
        pods = (await env.client.list(Pod, namespace="default", label_selector="app=adopt")).items
        owned = [p for p in pods if p.metadata.owner_references]
        return list(pods) if len(pods) == 2 and len(owned) == 2 else None

    pods = await eventually(settled)
    assert "stray" in {p.metadata.name for p in pods}
    assert all(p.metadata.owner_references[0].uid == rs.metadata.uid for p in pods)
    await env.client.patch(
        Pod, "stray", {"metadata": {"labels": {"app": "other"}}}, namespace="default"
    )

    async def released() -> bool:
        stray = await env.client.get(Pod, "stray", namespace="default")
        mine = (await env.client.list(Pod, namespace="default", label_selector="app=adopt")).items
        return not stray.metadata.owner_references and len(mine) == 2

    await eventually(released)


async def test_default_service_account_in_new_namespaces(env: Env) -> None:
    await env.client.create(Namespace(metadata=ObjectMeta(name="team-a")))
    await eventually(lambda: _get(env, ServiceAccount, "default", "team-a"))
    await env.client.delete(ServiceAccount, "default", namespace="team-a")
    await eventually(lambda: _get(env, ServiceAccount, "default", "team-a"))


async def _get(env: Env, kind: Any, name: str, ns: str | None) -> Any:
    try:
        return await env.client.get(kind, name, namespace=ns)
    except StatusError as e:
        if e.code == 404:
            return None
        raise


async def test_deleting_a_namespace_removes_everything_in_it(env: Env) -> None:
    await env.client.create(Namespace(metadata=ObjectMeta(name="doomed")))
    await env.client.create(replica_set("x", 2, ns="doomed"))
    await eventually(
        lambda: _count(env, Pod, "doomed", 2),
    )
    await env.client.delete(Namespace, "doomed")

    async def gone() -> bool:
        return await _get(env, Namespace, "doomed", None) is None

    await eventually(gone)
    assert not (await env.client.list(Pod, namespace="doomed")).items
    assert not (await env.client.list(ReplicaSet, namespace="doomed")).items


async def _count(env: Env, kind: Any, ns: str, n: int) -> bool:
    return len((await env.client.list(kind, namespace=ns)).items) == n


async def test_two_managers_one_leader(env: Env) -> None:
    """A second, leader-elected pair: exactly one holds the lease and acts; the other
    takes over when the first stops."""
    timings = ElectionTimings(lease_duration=2.0, renew_deadline=1.5, retry_period=0.2)
    clients = [env.cluster.new_client() for _ in range(2)]
    async with contextlib.AsyncExitStack() as stack:
        for c in clients:
            await stack.enter_async_context(c)
        from kcore.controllers.manager import ControllerManager

        managers = [
            ControllerManager(c, identity=f"m{i}", timings=timings, controllers=["replicaset"])
            for i, c in enumerate(clients)
        ]
        tasks = [asyncio.create_task(m.run()) for m in managers]
        try:
            await eventually(lambda: any(m.started.is_set() for m in managers))
            await asyncio.sleep(0.5)
            assert sum(m.started.is_set() for m in managers) == 1
            lease = await env.client.get(Lease, "kube-controller-manager", namespace="kube-system")
            leader = next(i for i, m in enumerate(managers) if m.started.is_set())
            assert lease.spec.holder_identity == f"m{leader}"
            tasks[leader].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tasks[leader]
            await eventually(lambda: managers[1 - leader].started.is_set(), within=10)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def test_deployment_manifest_via_fixture_manager_is_unaffected(env: Env) -> None:
    """The env's own manager runs without leader election and keeps working meanwhile."""
    await env.client.create(replica_set("still", 1))
    await eventually(lambda: _count(env, Pod, "default", 1))
    assert (await env.client.list(Deployment, namespace="default")).items == []


async def test_service_account_token_reads_the_api(env: Env) -> None:
    """Every account gets a token Secret the API server accepts as that account."""
    import base64

    from kcore.api.core import ConfigMap, Secret
    from kcore.client import Client, Config

    await env.client.create(ServiceAccount(metadata=ObjectMeta(name="robot", namespace="default")))

    async def token_secret() -> Secret | None:
        sa = await env.client.get(ServiceAccount, "robot", namespace="default")
        if not sa.secrets:
            return None
        secret = await _get(env, Secret, sa.secrets[-1].name, "default")
        return secret if secret is not None and secret.data.get("token") else None

    secret = await eventually(token_secret)
    assert secret.type == "kubernetes.io/service-account-token"
    assert secret.metadata.annotations["kubernetes.io/service-account.name"] == "robot"
    assert base64.b64decode(secret.data["namespace"]) == b"default"
    ca = base64.b64decode(secret.data["ca.crt"])
    token = base64.b64decode(secret.data["token"]).decode()
    cfg = Config(server=env.cluster.url, token=token, ca_data=ca)
    async with Client(cfg) as robot:

        async def reads() -> bool:
            try:
                await robot.list(ConfigMap, namespace="default")
            except StatusError as e:
                if e.code == 401:
                    return False
                raise
            return True

        assert await eventually(reads)
    await env.client.delete(Secret, secret.metadata.name, namespace="default")

    async def replaced() -> bool:
        again = await token_secret()
        return again is not None and again.metadata.name != secret.metadata.name

    await eventually(replaced)
    await env.client.delete(ServiceAccount, "robot", namespace="default")

    async def cleaned() -> bool:
        left = (await env.client.list(Secret, namespace="default")).items
        return not [
            s
            for s in left
            if s.type == "kubernetes.io/service-account-token"
            and s.metadata.annotations.get("kubernetes.io/service-account.name") == "robot"
        ]

    await eventually(cleaned)


async def test_system_namespaces_come_back_after_deletion(env: Env) -> None:
    gone = await env.client.delete(Namespace, "kube-public")
    assert gone is None or gone.metadata.deletion_timestamp

    async def back() -> bool:
        ns = await _get(env, Namespace, "kube-public", None)
        return ns is not None and not ns.metadata.deletion_timestamp

    await eventually(back)
