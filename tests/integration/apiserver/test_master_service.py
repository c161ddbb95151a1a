"""The `kubernetes` Service in the default namespace: made when a server starts, pointing at
it, corrected when it restarts elsewhere, named by the serving certificate, and its address
kept from other Services."""

from __future__ import annotations

import socket
import ssl
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from kcore.api.core import Endpoints, Service, ServicePort, ServiceSpec
from kcore.api.discovery import EndpointSlice
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.apiserver import pki
from kcore.client.kubeconfig import load_kubeconfig
from kcore.client.rest import Client

sys.path.insert(0, str(Path(__file__).parent))

from apiserver_support import ServerProc, start_server, stop_server

MASTER_IP = "127.32.0.1"
IN_CLUSTER_NAMES = ["kubernetes", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"]


def _port(server: ServerProc) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def _master(server: ServerProc) -> tuple[Any, Any, Any]:
    async with Client(load_kubeconfig(server.kubeconfig)) as client:
        svc = await client.get(Service, "kubernetes", namespace="default")
        eps = await client.get(Endpoints, "kubernetes", namespace="default")
        sl = await client.get(EndpointSlice, "kubernetes", namespace="default")
    return svc, eps, sl


async def test_the_kubernetes_service_points_at_the_server(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--store", "memory")
    try:
        svc, eps, sl = await _master(server)
        port = _port(server)
    finally:
        stop_server(server)
    assert svc.spec.cluster_ip == MASTER_IP
    assert svc.metadata.labels == {"component": "apiserver", "provider": "kubernetes"}
    assert not svc.spec.selector
    (sp,) = svc.spec.ports
    assert (sp.name, sp.port, sp.protocol, sp.target_port) == ("https", 443, "TCP", port)
    (subset,) = eps.subsets
    assert [a.ip for a in subset.addresses] == ["127.0.0.1"]
    assert [(p.name, p.port) for p in subset.ports] == [("https", port)]
    assert sl.address_type == "IPv4"
    assert [e.addresses for e in sl.endpoints] == [["127.0.0.1"]]
    assert [(p.name, p.port) for p in sl.ports] == [("https", port)]
    assert sl.metadata.labels["kubernetes.io/service-name"] == "kubernetes"


async def test_a_restart_elsewhere_moves_the_endpoints_and_keeps_the_service(
    tmp_path: Path,
) -> None:
    first = start_server(tmp_path)  # sqlite in the data dir: the objects outlive the process
    try:
        before, _, _ = await _master(first)
        async with Client(load_kubeconfig(first.kubeconfig)) as client:
            mine = await client.create(
                Service(
                    metadata=ObjectMeta(name="web", namespace="default"),
                    spec=ServiceSpec(selector={"app": "web"}, ports=[ServicePort(port=80)]),
                )
            )
    finally:
        stop_server(first)
    second = start_server(tmp_path)
    try:
        after, eps, sl = await _master(second)
        port = _port(second)
    finally:
        stop_server(second)
    assert mine.spec.cluster_ip not in ("", MASTER_IP)  # the first address is the master's
    assert after.metadata.uid == before.metadata.uid
    assert after.spec.cluster_ip == MASTER_IP
    assert after.spec.ports[0].target_port == port
    assert eps.subsets[0].ports[0].port == port
    assert sl.ports[0].port == port


def test_the_serving_certificate_names_the_in_cluster_address(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--store", "memory")
    try:
        cert = x509.load_pem_x509_certificate((tmp_path / "pki" / "apiserver.crt").read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert MASTER_IP in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
        assert set(IN_CLUSTER_NAMES) <= set(sans.get_values_for_type(x509.DNSName))
        # an in-cluster client checks the name it dialled: a real handshake as one would
        ctx = ssl.create_default_context(cafile=str(server.ca_cert))
        for name in IN_CLUSTER_NAMES:
            with (
                socket.create_connection(("127.0.0.1", _port(server)), timeout=10) as raw,
                ctx.wrap_socket(raw, server_hostname=name) as tls,
            ):
                assert tls.version() is not None
    finally:
        stop_server(server)


def test_an_older_certificate_is_reissued_by_the_same_ca(tmp_path: Path) -> None:
    creds = pki.ensure_credentials(tmp_path)  # as an older kcore made it: no service address
    ca_before = creds.ca_cert.read_bytes()
    old = x509.load_pem_x509_certificate(creds.tls_cert.read_bytes())
    old_sans = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert MASTER_IP not in [str(ip) for ip in old_sans.get_values_for_type(x509.IPAddress)]
    again = pki.ensure_credentials(tmp_path, ips=("127.0.0.1", MASTER_IP))
    assert again.ca_cert.read_bytes() == ca_before
    new = x509.load_pem_x509_certificate(again.tls_cert.read_bytes())
    new_sans = new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert MASTER_IP in [str(ip) for ip in new_sans.get_values_for_type(x509.IPAddress)]
    unchanged = pki.ensure_credentials(tmp_path, ips=(MASTER_IP,))
    assert unchanged.tls_cert.read_bytes() == again.tls_cert.read_bytes()  # not reissued


async def test_no_other_service_may_take_the_address(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--store", "memory")
    try:
        async with Client(load_kubeconfig(server.kubeconfig)) as client:
            with pytest.raises(StatusError) as caught:
                await client.create(
                    Service(
                        metadata=ObjectMeta(name="thief", namespace="default"),
                        spec=ServiceSpec(cluster_ip=MASTER_IP, ports=[ServicePort(port=80)]),
                    )
                )
    finally:
        stop_server(server)
    assert caught.value.code == 422
    assert "already allocated" in str(caught.value)
