"""Service config: the Service/Endpoints -> table translation, and the informer-driven table
against a real in-process API server (kcore.Cluster)."""

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
from kcore.api.core import EndpointPort, Endpoints, Service
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


def endpoints(name: str, ready: list[tuple[str, int]], port_name: str = "http") -> Endpoints:
    subsets = [
        {
            "addresses": [{"ip": ip}],
            "notReadyAddresses": [{"ip": "127.64.9.9"}],
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        }
        for ip, port in ready
    ]
    return from_dict(
        Endpoints, {"metadata": {"name": name, "namespace": "default"}, "subsets": subsets}
    )


def test_cluster_ip_service_with_ready_endpoints() -> None:
    eps = endpoints("web", [("127.64.0.5", 8080), ("127.64.0.6", 8080)])
    assert table_entries(service(), eps, ["127.0.1.1"]) == {
        "default/web:http": ServicePort(
            listen=(Address("127.32.0.20", 80),),
            endpoints=(Address("127.64.0.5", 8080), Address("127.64.0.6", 8080)),
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
    eps = endpoints("web", [("127.64.0.5", 8080)])
    eps.subsets[0].ports.append(from_dict(EndpointPort, {"name": "dns", "port": 5353}))
    eps.subsets[0].ports.append(
        from_dict(EndpointPort, {"name": "dns", "port": 53, "protocol": "UDP"})
    )
    got = table_entries(svc, eps, ["127.0.1.1"])
    assert set(got) == {"default/web:http", "default/web:admin", "default/web:dns"}
    dns = got["default/web:dns"]
    assert (dns.protocol, dns.endpoints) == ("UDP", (Address("127.64.0.5", 53),))
    http = got["default/web:http"]
    assert http.listen == (Address("127.32.0.20", 80), Address("127.0.1.1", 30080))
    assert (http.policy, http.affinity_timeout) == ("LeastConnections", 60.0)
    assert got["default/web:admin"].endpoints == ()  # no endpoint port named "admin"


def test_headless_and_external_name_services_get_nothing() -> None:
    assert table_entries(service(clusterIP="None"), None, []) == {}
    assert table_entries(service(type="ExternalName", clusterIP=""), None, []) == {}


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

        eps = await client.create(endpoints("web", [a.address]))
        await until_tag(vip, b"a")
        assert await exchange(node) == b"a"

        eps.subsets = endpoints("web", [b.address]).subsets
        await client.update(eps)
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
        await client.create(endpoints("metered", [backend.address]))
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
