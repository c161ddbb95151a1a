"""Service config: the Service/EndpointSlice -> table translation, and the informer-driven
table against a real in-process API server (kcore.Cluster)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from proxy_testing import Backend, tag_then_echo

import kcore
from kcore.api.codec import from_dict
from kcore.api.core import LoadBalancerIngress, Service
from kcore.api.discovery import EndpointSlice
from kcore.client import Client, SharedInformerFactory
from kcore.proxy import Address, Proxy, ServicePort
from kcore.proxy.config import ServiceConfig, table_entries
from kcore.proxy.daemon import ProxyServer


def service(name: str = "web", **spec: Any) -> Service:
    base: dict[str, Any] = {
        "clusterIP": "127.32.0.20",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
    }
    base.update(spec)
    return from_dict(Service, {"metadata": {"name": name, "namespace": "default"}, "spec": base})


def slice_of(
    service_name: str,
    endpoints: list[tuple[str, dict[str, Any]]],
    ports: list[dict[str, Any]] | None = None,
    *,
    name: str = "",
    address_type: str = "IPv4",
) -> EndpointSlice:
    """A slice of Service `service_name`: (address, extra endpoint fields) pairs, serving
    `ports` (by default "http" on 8080/TCP)."""
    return from_dict(
        EndpointSlice,
        {
            "metadata": {
                "name": name or f"{service_name}-x",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": service_name},
            },
            "addressType": address_type,
            "endpoints": [{"addresses": [ip], **extra} for ip, extra in endpoints],
            "ports": ports if ports is not None else [{"name": "http", "port": 8080}],
        },
    )


READY: dict[str, Any] = {}  # conditions left out: ready and serving, not terminating
NOT_READY = {"conditions": {"ready": False, "serving": False}}
TERMINATING = {"conditions": {"ready": False, "serving": True, "terminating": True}}
GONE = {"conditions": {"ready": False, "serving": False, "terminating": True}}


def eps(*ips: str, port: int = 8080) -> tuple[Address, ...]:
    return tuple(Address(ip, port) for ip in ips)


def test_cluster_ip_service_over_its_ready_endpoints() -> None:
    one = slice_of("web", [("127.64.0.6", READY), ("127.64.9.9", NOT_READY)], name="web-1")
    two = slice_of("web", [("127.64.0.5", {"conditions": {"ready": True}})], name="web-2")
    v6 = slice_of("web", [("::1", READY)], name="web-3", address_type="IPv6")
    assert table_entries(service(), [one, two, v6], ["127.0.1.1"]) == {
        "default/web:http": ServicePort(
            listen=(Address("127.32.0.20", 80),), endpoints=eps("127.64.0.5", "127.64.0.6")
        )
    }


def test_node_port_affinity_policy_and_port_matching() -> None:
    svc = service(
        type="NodePort",
        ports=[
            {"name": "http", "port": 80, "nodePort": 30080},
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "sctp", "port": 9, "protocol": "SCTP"},
            {"name": "admin", "port": 81},
        ],
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
    )
    svc.metadata.annotations = {"proxy.kcore.io/policy": "LeastConnections"}
    ports = [
        {"name": "http", "port": 8080},
        {"name": "dns", "port": 5353},
        {"name": "dns", "port": 53, "protocol": "UDP"},
    ]
    got = table_entries(svc, [slice_of("web", [("127.64.0.5", READY)], ports)], ["127.0.1.1"])
    assert set(got) == {"default/web:http", "default/web:admin", "default/web:dns"}
    dns = got["default/web:dns"]
    assert (dns.protocol, dns.endpoints) == ("UDP", eps("127.64.0.5", port=53))
    http = got["default/web:http"]
    assert http.listen == (Address("127.32.0.20", 80), Address("127.0.1.1", 30080))
    assert (http.policy, http.affinity_timeout) == ("LeastConnections", 60.0)
    assert got["default/web:admin"].endpoints == ()  # no endpoint port named "admin"


def test_terminating_endpoints_serve_only_when_none_is_ready() -> None:
    both = slice_of("web", [("127.64.0.5", TERMINATING), ("127.64.0.6", READY)])
    assert table_entries(service(), [both], [])["default/web:http"].endpoints == eps("127.64.0.6")
    draining = slice_of("web", [("127.64.0.5", TERMINATING), ("127.64.0.7", GONE)])
    got = table_entries(service(), [draining], [])["default/web:http"].endpoints
    assert got == eps("127.64.0.5")  # serving while terminating; not serving ones never


def test_external_ips_and_load_balancer_ingress_listen_too() -> None:
    svc = service(
        type="LoadBalancer",
        externalIPs=["127.40.0.1", "2001:db8::1"],
        ports=[{"name": "http", "port": 80, "nodePort": 30080}],
    )
    svc.status.load_balancer.ingress = [LoadBalancerIngress(ip="127.40.0.2")]
    got = table_entries(svc, [slice_of("web", [("127.64.0.5", READY)])], ["127.0.1.1"])
    assert got["default/web:http"].listen == (
        Address("127.32.0.20", 80),
        Address("127.40.0.1", 80),
        Address("127.40.0.2", 80),
        Address("127.0.1.1", 30080),
    )


def test_traffic_policies_keep_traffic_on_this_hosts_nodes() -> None:
    sl = slice_of(
        "web",
        [
            ("127.64.1.5", {"nodeName": "here"}),
            ("127.64.2.5", {"nodeName": "there"}),
            ("127.64.1.6", {"nodeName": "here", **TERMINATING}),
        ],
    )
    node_port = {"type": "NodePort", "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}
    cluster_vip, node = (Address("127.32.0.20", 80),), (Address("127.0.1.1", 30080),)

    def entries(node_names: list[str], **spec: Any) -> dict[str, tuple[Any, ...]]:
        got = table_entries(service(**node_port, **spec), [sl], ["127.0.1.1"], node_names)
        return {k: (v.listen, v.endpoints) for k, v in got.items()}

    everywhere = eps("127.64.1.5", "127.64.2.5")
    assert entries(["here"]) == {"default/web:http": (cluster_vip + node, everywhere)}
    # externalTrafficPolicy Local: node ports get an entry of their own, local endpoints only.
    assert entries(["here"], externalTrafficPolicy="Local") == {
        "default/web:http": (cluster_vip, everywhere),
        "default/web:http/external": (node, eps("127.64.1.5")),
    }
    # internalTrafficPolicy Local: the ClusterIP; both Local: one entry again.
    assert entries(["there"], internalTrafficPolicy="Local") == {
        "default/web:http": (cluster_vip, eps("127.64.2.5")),
        "default/web:http/external": (node, everywhere),
    }
    both = {"internalTrafficPolicy": "Local", "externalTrafficPolicy": "Local"}
    assert entries(["here"], **both) == {
        "default/web:http": (cluster_vip + node, eps("127.64.1.5"))
    }
    # No local endpoint: refused. A local one only terminating: it serves (kube-proxy's rule).
    assert entries([], **both) == {"default/web:http": (cluster_vip + node, ())}
    sl.endpoints[0].conditions.ready = False
    assert entries(["here"], **both)["default/web:http"][1] == eps("127.64.1.6")


def test_headless_and_external_name_services_get_nothing() -> None:
    assert table_entries(service(clusterIP="None"), [], []) == {}
    assert table_entries(service(type="ExternalName", clusterIP=""), [], []) == {}


def backend_slice(service_name: str, backend: Address, *, name: str = "") -> EndpointSlice:
    ports = [{"name": "http", "port": backend.port, "protocol": "TCP"}]
    return slice_of(service_name, [(backend.host, READY)], ports, name=name)


@pytest.fixture
async def cluster() -> AsyncIterator[Any]:
    async with kcore.Cluster() as c:
        yield c


async def exchange(addr: Address) -> bytes:
    """The tag a backend sends first, or b"" when the proxy resets or refuses."""
    try:
        reader, writer = await asyncio.open_connection(*addr)
    except OSError:
        return b""
    try:
        return (await reader.readline()).strip()
    except OSError:
        return b""
    finally:
        writer.close()


async def eventually(cond: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `cond` until true (the bound only stops a hang; nothing asserts timing)."""
    for _ in range(400):
        if await cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def until_tag(addr: Address, want: bytes) -> None:
    async def got() -> bool:
        return await exchange(addr) == want

    await eventually(got, f"{addr} answers {want!r}")


def has_entry(proxy: Proxy, key: str, present: bool = True) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (key in proxy.services()) == present

    return check


@pytest.mark.timeout(60)
async def test_table_follows_services_and_endpoints(
    proxy: Proxy, cluster: Any, backends: Callable[..., Backend]
) -> None:
    a, b = backends(tag_then_echo, name="a"), backends(tag_then_echo, name="b")
    client: Client = cluster.client
    factory = SharedInformerFactory(client)
    config = ServiceConfig(proxy, factory, node_ips=["127.0.1.1"])
    factory.start()
    try:
        await factory.wait_for_sync()
        created = await client.create(service(clusterIP="", type="NodePort"))
        vip = Address(created.spec.cluster_ip, 80)
        node = Address("127.0.1.1", created.spec.ports[0].node_port or 0)
        await eventually(has_entry(proxy, "default/web:http"), "entry programmed")
        assert await exchange(vip) == b""  # listening, no endpoints yet: reset at once
        assert proxy.stats("default/web:http").rejected == 1

        one = await client.create(backend_slice("web", a.address, name="web-a"))
        await until_tag(vip, b"a")
        assert await exchange(node) == b"a"

        await client.create(backend_slice("web", b.address, name="web-b"))
        await client.delete(EndpointSlice, one.metadata.name, namespace="default")
        await until_tag(vip, b"b")

        await client.delete(Service, "web", namespace="default")
        await eventually(has_entry(proxy, "default/web:http", False), "entry removed")
        assert await exchange(vip) == b""
        assert config.bind_errors == 0
    finally:
        await factory.stop()


@pytest.mark.timeout(60)
async def test_proxy_server_serves_metrics(cluster: Any, backends: Callable[..., Backend]) -> None:
    backend = backends(tag_then_echo, name="m")
    client: Client = cluster.client
    server = ProxyServer(client, workers=2, metrics_port=0)
    await server.start()
    try:
        await server.wait_for_sync()
        created = await client.create(service("metered", clusterIP=""))
        await client.create(backend_slice("metered", backend.address))
        await until_tag(Address(created.spec.cluster_ip, 80), b"m")
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{server.metrics_port}"
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200
            async with http.get(f"{base}/metrics") as resp:
                text = await resp.text()
        assert 'kcore_proxy_connections_total{service="default/metered:http"}' in text
        assert "kcore_proxy_bind_errors_total 0" in text
    finally:
        await server.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("kcore-proxy")]
