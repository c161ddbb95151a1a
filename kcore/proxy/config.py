"""Service config: Services and Endpoints from informers, programmed into the proxy's table.

`table_entries` is the translation, a pure function of one Service, its Endpoints and the
node's IPs: one `ServicePort` per TCP or UDP port of the Service (SCTP is skipped), keyed
"namespace/name:port-name" (the port number when unnamed), listening on every IPv4 ClusterIP
and, for NodePort and LoadBalancer Services, on each node IP at the nodePort, balancing over
the ready addresses of the Endpoints subsets whose port carries the same name and protocol.
ExternalName and headless Services get nothing. spec.sessionAffinity ClientIP sets the
affinity timeout (sessionAffinityConfig.clientIP.timeoutSeconds, 10800 s by default); the
annotation `proxy.kcore.io/policy: LeastConnections` picks least-connections over
round-robin.

`ServiceConfig` keeps the table level-triggered and incremental: any change to a Service or
its Endpoints recomputes that Service's entries from the informer caches and applies only the
difference (unchanged entries are not touched; an updated one keeps its established
connections). A listen address that cannot be bound is logged and counted in `bind_errors`,
and retried on the Service's next change.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

from kcore.api.core import Endpoints, Service
from kcore.api.core import ServicePort as ApiServicePort
from kcore.client import SharedInformer, SharedInformerFactory, key_of
from kcore.proxy.datapath import Proxy
from kcore.proxy.model import Address, Policy, Protocol, ServicePort

log = logging.getLogger(__name__)

POLICY_ANNOTATION = "proxy.kcore.io/policy"
DEFAULT_AFFINITY_SECONDS = 10800


def _ipv4(ip: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, ip)
    except OSError:
        return False
    return True


def _cluster_ips(svc: Service) -> list[str]:
    ips = svc.spec.cluster_ips or ([svc.spec.cluster_ip] if svc.spec.cluster_ip else [])
    return [ip for ip in ips if _ipv4(ip)]


def _policy(svc: Service) -> Policy:
    wanted = (svc.metadata.annotations or {}).get(POLICY_ANNOTATION, "")
    return "LeastConnections" if wanted == "LeastConnections" else "RoundRobin"


def _affinity(svc: Service) -> float:
    if svc.spec.session_affinity != "ClientIP":
        return 0.0
    cfg = svc.spec.session_affinity_config
    timeout = cfg.client_ip.timeout_seconds if cfg and cfg.client_ip else None
    return float(timeout or DEFAULT_AFFINITY_SECONDS)


def _ready(eps: Endpoints | None, port_name: str, protocol: str) -> tuple[Address, ...]:
    seen: dict[Address, None] = {}
    for subset in eps.subsets if eps else ():
        for p in subset.ports:
            if p.name == port_name and (p.protocol or "TCP") == protocol:
                for a in subset.addresses:
                    if _ipv4(a.ip):
                        seen[Address(a.ip, p.port)] = None
    return tuple(seen)


def _entry_key(svc: Service, port: ApiServicePort) -> str:
    return f"{key_of(svc)}:{port.name or port.port}"


def table_entries(
    svc: Service, eps: Endpoints | None, node_ips: Sequence[str]
) -> dict[str, ServicePort]:
    """The proxy table entries of one Service (see the module docstring for the rules)."""
    ips = _cluster_ips(svc)
    if svc.spec.type == "ExternalName" or not ips:
        return {}
    node_ports = svc.spec.type in ("NodePort", "LoadBalancer")
    out: dict[str, ServicePort] = {}
    for port in svc.spec.ports:
        if port.protocol not in ("", "TCP", "UDP"):
            continue
        protocol: Protocol = "UDP" if port.protocol == "UDP" else "TCP"
        listen = [Address(ip, port.port) for ip in ips]
        if node_ports and port.node_port:
            listen += [Address(ip, port.node_port) for ip in node_ips]
        out[_entry_key(svc, port)] = ServicePort(
            listen=tuple(listen),
            endpoints=_ready(eps, port.name, protocol),
            policy=_policy(svc),
            affinity_timeout=_affinity(svc),
            protocol=protocol,
        )
    return out


class ServiceConfig:
    """Keeps `proxy`'s table equal to what the Services and Endpoints informers hold."""

    def __init__(
        self, proxy: Proxy, factory: SharedInformerFactory, *, node_ips: Sequence[str] = ()
    ) -> None:
        self.proxy = proxy
        self.node_ips = tuple(node_ips)
        self.services: SharedInformer[Service] = factory.informer(Service)
        self.endpoints: SharedInformer[Endpoints] = factory.informer(Endpoints)
        self.bind_errors = 0
        self._applied: dict[str, dict[str, ServicePort]] = {}  # service key -> its entries
        for informer in (self.services, self.endpoints):
            informer.add_event_handler(
                on_add=self._changed, on_update=self._updated, on_delete=self._changed
            )

    def _changed(self, obj: Any) -> None:
        self.sync(key_of(obj))

    def _updated(self, old: Any, new: Any) -> None:
        self.sync(key_of(new))

    def sync(self, key: str) -> None:
        """Bring the entries of Service `key` ("namespace/name") in line with the caches."""
        svc = self.services.get(key)
        want = table_entries(svc, self.endpoints.get(key), self.node_ips) if svc else {}
        have = self._applied.get(key, {})
        for entry in have.keys() - want.keys():
            self.proxy.remove_service(entry)
        applied = {e: p for e, p in have.items() if e in want}
        for entry, port in want.items():
            if have.get(entry) == port:
                continue
            try:
                self.proxy.set_service(entry, port)
                applied[entry] = port
            except OSError as err:
                self.bind_errors += 1
                log.warning("proxy: cannot serve %s: %s", entry, err)
        if applied:
            self._applied[key] = applied
        else:
            self._applied.pop(key, None)
