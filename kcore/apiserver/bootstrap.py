"""The `kubernetes` Service in the default namespace, as kube-apiserver keeps it: the API
server's own address inside the cluster, reconciled each time a server starts.

- Service default/kubernetes: ClusterIP MASTER_SERVICE_IP (the first address of the service
  range, which no other Service is given while this one holds it), port 443 named https,
  targetPort the server's port; labels component=apiserver, provider=kubernetes.
- Endpoints and EndpointSlice default/kubernetes: the server's listen address and port. The
  Service has no selector, so the endpoints controllers leave them alone.

With them pods reach the API server through the service proxy at 127.32.0.1:443, the kubelet
sets KUBERNETES_SERVICE_HOST/PORT from the Service (as Kubernetes does), and in-cluster
clients verify the serving certificate, which names this address (kcore.apiserver.pki).
A restart on another port updates targetPort and the endpoints; nothing else is touched, so
a user's edits to, say, the Service's labels are kept unless they break those fields.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kcore.api import errors
from kcore.api.discovery import SERVICE_NAME_LABEL
from kcore.apiserver import admission, objects
from kcore.apiserver.allocator import SERVICE_CIDR, ServiceAllocator
from kcore.apiserver.objects import Obj
from kcore.apiserver.resource_store import ResourceStore

if TYPE_CHECKING:
    from kcore.apiserver.server import APIServer

log = logging.getLogger(__name__)

NAME, NAMESPACE = "kubernetes", "default"
MASTER_SERVICE_IP = str(next(SERVICE_CIDR.hosts()))
PORT_NAME, SERVICE_PORT = "https", 443
LABELS = {"component": "apiserver", "provider": "kubernetes"}


def desired_service(port: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": MASTER_SERVICE_IP,
            "ports": [
                {"name": PORT_NAME, "port": SERVICE_PORT, "protocol": "TCP", "targetPort": port}
            ],
            "sessionAffinity": "None",
        },
    }


def desired_endpoints(host: str, port: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
        "subsets": [
            {
                "addresses": [{"ip": host}],
                "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}],
            }
        ],
    }


def desired_slice(host: str, port: int) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {SERVICE_NAME_LABEL: NAME},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [host], "conditions": {"ready": True}}],
        "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}],
    }


async def reconcile_master_service(server: APIServer, host: str, port: int) -> None:
    """Create or correct the Service, Endpoints and EndpointSlice for `host:port`."""
    await _service(server, port)
    endpoints = server.resource_store("", "v1", "endpoints")
    await _put(endpoints, desired_endpoints(host, port), ("subsets",))
    slices = server.resource_store("discovery.k8s.io", "v1", "endpointslices")
    await _put(slices, desired_slice(host, port), ("addressType", "endpoints", "ports"))


async def _service(server: APIServer, port: int) -> None:
    services = server.resource_store("", "v1", "services")
    want = desired_service(port)
    async with server.allocator.lock:
        try:
            current = await services.get(NAMESPACE, NAME)
        except errors.StatusError as e:
            if e.code != 404:
                raise
            current = None
        if current is None:
            try:
                await _create(services, want, server.allocator)
            except errors.StatusError as e:
                if e.code != 422:
                    raise
                # an older cluster gave the address away: take any other
                log.warning("%s is taken; the kubernetes Service gets another", MASTER_SERVICE_IP)
                anywhere = desired_service(port)
                del anywhere["spec"]["clusterIP"]
                await _create(services, anywhere, server.allocator)
            return
        if (current.get("spec") or {}).get("ports") == want["spec"]["ports"]:
            return

        async def fix_ports(obj: Obj) -> Obj:
            obj.setdefault("spec", {})["ports"] = want["spec"]["ports"]
            return objects.admit(services.info, obj, strict=False, old=current)

        await services.update(NAMESPACE, NAME, fix_ports)


async def _put(store: ResourceStore, want: Obj, fields: tuple[str, ...]) -> None:
    """Create `want`, or set `fields` of the existing object to want's where they differ."""
    try:
        current = await store.get(NAMESPACE, NAME)
    except errors.StatusError as e:
        if e.code != 404:
            raise
        await _create(store, want)
        return
    if all(current.get(f) == want.get(f) for f in fields):
        return

    async def fix(obj: Obj) -> Obj:
        for f in fields:
            obj[f] = want[f]
        return objects.admit(store.info, obj, strict=False, old=current)

    await store.update(NAMESPACE, NAME, fix)


async def _create(
    store: ResourceStore, want: Obj, allocator: ServiceAllocator | None = None
) -> None:
    admission.prepare_create(store.info, want)
    obj = objects.admit(store.info, want, strict=False)
    if allocator is not None:
        await allocator.allocate(obj)
    try:
        await store.create(obj)
    except errors.StatusError as e:
        if e.code != 409:  # another server made it first
            raise


__all__ = [
    "MASTER_SERVICE_IP",
    "desired_endpoints",
    "desired_service",
    "desired_slice",
    "reconcile_master_service",
]
