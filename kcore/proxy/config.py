"""Service config: Services and EndpointSlices from informers, programmed into the proxy's table.

`table_entries` is the translation, a pure function of one Service, its EndpointSlices (every
slice labelled `kubernetes.io/service-name` with the Service's name, whoever manages it, as
kube-proxy reads them) and the host's node IPs and names: for each TCP or UDP port of the
Service (SCTP is skipped), balancing over the IPv4 endpoints of the slices whose port carries
the same name and protocol, an entry keyed "namespace/name:port-name" (the port number when
unnamed) that listens on every IPv4 ClusterIP and on the external addresses: for NodePort
and LoadBalancer Services each node IP at the nodePort, spec.externalIPs and the status'
load-balancer ingress IPs at the port. ExternalName and headless Services get nothing.

Endpoints are picked as kube-proxy does (conditions: ready and serving default to true,
terminating to false): the ready ones; when none is ready anywhere, the ones still serving
while terminating (so connections keep landing during a rollout's last pod's grace period).
spec.internalTrafficPolicy Local narrows ClusterIP traffic, spec.externalTrafficPolicy
Local the external addresses', to endpoints on this host's nodes (`node_names`; the same
ready-then-terminating fallback, among local ones only); when the two policies differ the
external addresses get an entry of their own, keyed "...:port-name/external". Where a policy
leaves no endpoint the proxy refuses the connection (kube-proxy drops external Local traffic
instead; a userspace listener can only refuse). spec.sessionAffinity ClientIP sets the
affinity timeout (sessionAffinityConfig.clientIP.timeoutSeconds, 10800 s by default); the
annotation `proxy.kcore.io/policy: LeastConnections` picks least-connections over
round-robin.

`ServiceConfig` keeps the table level-triggered and incremental: any change to a Service or
one of its slices recomputes that Service's entries from the informer caches and applies only
the difference (unchanged entries are not touched; an updated one keeps its established
connections; entries that stay are updated before new ones are added, so an address moving
between a Service's entries is free when it is bound again). A listen address that cannot
be bound is logged and counted in `bind_errors`, and retried on the Service's next change.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import msgspec

from kcore.api.core import Service
from kcore.api.core import ServicePort as ApiServicePort
from kcore.api.discovery import SERVICE_NAME_LABEL, Endpoint, EndpointSlice
from kcore.client import SharedInformer, SharedInformerFactory, key_of
from kcore.proxy.datapath import Proxy
from kcore.proxy.model import Address, Policy, Protocol, ServicePort

log = logging.getLogger(__name__)

POLICY_ANNOTATION = "proxy.kcore.io/policy"
DEFAULT_AFFINITY_SECONDS = 10800
SERVICE_INDEX = "service"


def _ipv4(ip: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, ip)
    except OSError:
        return False
    return True


def _cluster_ips(svc: Service) -> list[str]:
    ips = svc.spec.cluster_ips or ([svc.spec.cluster_ip] if svc.spec.cluster_ip else [])
    return [ip for ip in ips if _ipv4(ip)]


def _external_ips(svc: Service) -> list[str]:
    """spec.externalIPs and, for LoadBalancer Services, the status' ingress IPs."""
    ips = list(svc.spec.external_ips)
    if svc.spec.type == "LoadBalancer":
        ips += [i.ip for i in svc.status.load_balancer.ingress if i.ip]
    return [ip for ip in dict.fromkeys(ips) if _ipv4(ip)]


def _policy(svc: Service) -> Policy:
    wanted = (svc.metadata.annotations or {}).get(POLICY_ANNOTATION, "")
    return "LeastConnections" if wanted == "LeastConnections" else "RoundRobin"


def _affinity(svc: Service) -> float:
    if svc.spec.session_affinity != "ClientIP":
        return 0.0
    cfg = svc.spec.session_affinity_config
    timeout = cfg.client_ip.timeout_seconds if cfg and cfg.client_ip else None
    return float(timeout or DEFAULT_AFFINITY_SECONDS)


def _ready(ep: Endpoint) -> bool:
    return ep.conditions.ready is not False


def _serving_terminating(ep: Endpoint) -> bool:
    return ep.conditions.serving is not False and ep.conditions.terminating is True


def _pick(candidates: list[tuple[Address, Endpoint]]) -> tuple[Address, ...]:
    """The ready endpoints, else the serving terminating ones (kube-proxy's fallback)."""
    chosen = [a for a, ep in candidates if _ready(ep)]
    if not chosen:
        chosen = [a for a, ep in candidates if _serving_terminating(ep)]
    return tuple(dict.fromkeys(chosen))


def _candidates(
    slices: Iterable[EndpointSlice], port_name: str, protocol: str
) -> list[tuple[Address, Endpoint]]:
    """(address:port, endpoint) of every IPv4 endpoint whose slice serves the named port."""
    out = []
    for sl in slices:
        if sl.address_type != "IPv4":
            continue
        for p in sl.ports:
            if (p.name or "") != port_name or (p.protocol or "TCP") != protocol or not p.port:
                continue
            out += [(Address(ep.addresses[0], p.port), ep) for ep in sl.endpoints if ep.addresses]
    out.sort(key=lambda c: c[0])  # slices come in any order; the table should not churn
    return out


def _entry_key(svc: Service, port: ApiServicePort) -> str:
    return f"{key_of(svc)}:{port.name or port.port}"


def table_entries(
    svc: Service,
    slices: Iterable[EndpointSlice],
    node_ips: Sequence[str],
    node_names: Collection[str] = (),
) -> dict[str, ServicePort]:
    """The proxy table entries of one Service (see the module docstring for the rules)."""
    ips = _cluster_ips(svc)
    if svc.spec.type == "ExternalName" or not ips:
        return {}
    slices = list(slices)
    node_ports = svc.spec.type in ("NodePort", "LoadBalancer")
    external_ips = _external_ips(svc)
    internal_local = svc.spec.internal_traffic_policy == "Local"
    external_local = svc.spec.external_traffic_policy == "Local"
    policy, affinity = _policy(svc), _affinity(svc)
    out: dict[str, ServicePort] = {}
    for port in svc.spec.ports:
        if port.protocol not in ("", "TCP", "UDP"):
            continue
        protocol: Protocol = "UDP" if port.protocol == "UDP" else "TCP"
        candidates = _candidates(slices, port.name, protocol)
        everywhere = _pick(candidates)
        here = _pick([(a, ep) for a, ep in candidates if ep.node_name in node_names])
        cluster = [Address(ip, port.port) for ip in ips]
        external = [Address(ip, port.port) for ip in external_ips]
        if node_ports and port.node_port:
            external += [Address(ip, port.node_port) for ip in node_ips]
        base = ServicePort(listen=(), policy=policy, affinity_timeout=affinity, protocol=protocol)
        key = _entry_key(svc, port)
        internal_eps = here if internal_local else everywhere
        if external and internal_local != external_local:
            external_eps = here if external_local else everywhere
            out[key] = msgspec.structs.replace(base, listen=tuple(cluster), endpoints=internal_eps)
            out[f"{key}/external"] = msgspec.structs.replace(
                base, listen=tuple(external), endpoints=external_eps
            )
        else:
            listen = tuple(cluster + external)
            out[key] = msgspec.structs.replace(base, listen=listen, endpoints=internal_eps)
    return out


def _service_index(slice_: EndpointSlice) -> list[str]:
    name = slice_.metadata.labels.get(SERVICE_NAME_LABEL)
    return [f"{slice_.metadata.namespace}/{name}"] if name else []


class ServiceConfig:
    """Keeps `proxy`'s table equal to what the Services and EndpointSlices informers hold."""

    def __init__(
        self,
        proxy: Proxy,
        factory: SharedInformerFactory,
        *,
        node_ips: Sequence[str] = (),
        node_names: Sequence[str] = (),
    ) -> None:
        self.proxy = proxy
        self.node_ips = tuple(node_ips)
        self.node_names = frozenset(node_names)
        self.services: SharedInformer[Service] = factory.informer(Service)
        self.slices: SharedInformer[EndpointSlice] = factory.informer(EndpointSlice)
        self.slices.add_indexers({SERVICE_INDEX: _service_index})
        self.bind_errors = 0
        self._applied: dict[str, dict[str, ServicePort]] = {}  # service key -> its entries
        self.services.add_event_handler(
            on_add=self._changed, on_update=self._updated, on_delete=self._changed
        )
        self.slices.add_event_handler(
            on_add=self._slice_changed,
            on_update=self._slice_updated,
            on_delete=self._slice_changed,
        )

    def _changed(self, obj: Any) -> None:
        self.sync(key_of(obj))

    def _updated(self, old: Any, new: Any) -> None:
        self.sync(key_of(new))

    def _slice_changed(self, slice_: EndpointSlice) -> None:
        for key in _service_index(slice_):
            self.sync(key)

    def _slice_updated(self, old: EndpointSlice, new: EndpointSlice) -> None:
        for key in dict.fromkeys(_service_index(old) + _service_index(new)):
            self.sync(key)

    def has_synced(self) -> bool:
        return self.services.has_synced() and self.slices.has_synced()

    def sync(self, key: str) -> None:
        """Bring the entries of Service `key` ("namespace/name") in line with the caches."""
        svc = self.services.get(key)
        want = {}
        if svc is not None:
            slices = self.slices.indexer.by_index(SERVICE_INDEX, key)
            want = table_entries(svc, slices, self.node_ips, self.node_names)
        have = self._applied.get(key, {})
        for entry in have.keys() - want.keys():
            self.proxy.remove_service(entry)
        applied = {e: p for e, p in have.items() if e in want}
        # Entries that stay first: one that gives up an address must do so before a new
        # entry of the same Service binds it.
        for entry, port in sorted(want.items(), key=lambda kv: kv[0] not in have):
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
