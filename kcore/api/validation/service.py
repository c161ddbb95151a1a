"""Service, Endpoints and EndpointSlice validation: ports, node ports, cluster IPs, affinity."""

from __future__ import annotations

from typing import Any

from kcore.api import codec, core, discovery, names
from kcore.api.errors import Cause
from kcore.api.validation.field import (
    PROTOCOLS,
    duplicate,
    each,
    forbidden,
    immutable,
    invalid,
    ip_address,
    one_of,
    port_number,
    required,
)

NODE_PORT_RANGE = (30000, 32767)
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def validate_service(svc: core.Service, old: core.Service | None) -> list[Cause]:
    spec = svc.spec
    causes = one_of("spec.type", spec.type, SERVICE_TYPES)
    causes += one_of("spec.sessionAffinity", spec.session_affinity, ("ClientIP", "None"))
    causes += _validate_service_ports(spec)
    causes += names.validate_labels(spec.selector, "spec.selector")
    causes += _validate_cluster_ips(spec)
    if spec.type == "ExternalName" and not spec.external_name:
        causes.append(required("spec.externalName"))
    if spec.external_traffic_policy:
        if spec.type not in ("NodePort", "LoadBalancer"):
            detail = "may only be set when `type` is 'NodePort' or 'LoadBalancer'"
            causes.append(
                invalid("spec.externalTrafficPolicy", spec.external_traffic_policy, detail)
            )
        else:
            causes += one_of(
                "spec.externalTrafficPolicy", spec.external_traffic_policy, ("Cluster", "Local")
            )
    causes += _validate_session_timeout(spec)
    for i, ip in enumerate(spec.external_ips):
        causes += ip_address("spec.externalIPs", i, ip)
    # an update that leaves clusterIP empty keeps the allocated one, as Kubernetes does
    if old is not None and old.spec.cluster_ip and spec.cluster_ip and spec.type != "ExternalName":
        causes += immutable("spec.clusterIP", spec.cluster_ip, old.spec.cluster_ip)
    return causes


def _validate_service_ports(spec: core.ServiceSpec) -> list[Cause]:
    causes: list[Cause] = []
    if not spec.ports and spec.type != "ExternalName" and spec.cluster_ip != "None":
        causes.append(required("spec.ports"))
    seen_names: set[str] = set()
    seen_ports: set[tuple[int, str]] = set()
    for i, port in enumerate(spec.ports):
        at = f"spec.ports[{i}]"
        if len(spec.ports) > 1 and not port.name:
            causes.append(required(f"{at}.name"))
        elif port.name:
            causes += each(f"{at}.name", port.name, names.is_dns1123_label(port.name))
            if port.name in seen_names:
                causes.append(duplicate(f"{at}.name", port.name))
            seen_names.add(port.name)
        causes += port_number(f"{at}.port", port.port if port.port else -1)
        causes += one_of(f"{at}.protocol", port.protocol, PROTOCOLS)
        if (port.port, port.protocol) in seen_ports:
            causes.append(duplicate(at, codec.to_dict(port)))
        seen_ports.add((port.port, port.protocol))
        causes += _validate_target_port(port.target_port, f"{at}.targetPort")
        causes += _validate_node_port(spec.type, port.node_port, f"{at}.nodePort")
    return causes


def _validate_target_port(target: int | str | None, path: str) -> list[Cause]:
    if target is None:
        return []
    if isinstance(target, int):
        return port_number(path, target if target else -1)
    return each(path, target, names.is_valid_port_name(target))


def _validate_node_port(svc_type: str, node_port: int | None, path: str) -> list[Cause]:
    if not node_port:
        return []
    if svc_type not in ("NodePort", "LoadBalancer"):
        return [forbidden(path, f"may not be used when `type` is '{svc_type}'")]
    low, high = NODE_PORT_RANGE
    if not low <= node_port <= high:
        detail = (
            f"provided port is not in the valid range. The range of valid ports is {low}-{high}"
        )
        return [invalid(path, node_port, detail)]
    return []


def _validate_cluster_ips(spec: core.ServiceSpec) -> list[Cause]:
    causes: list[Cause] = []
    if spec.cluster_ip and spec.cluster_ip != "None":
        causes += ip_address("spec.clusterIP", None, spec.cluster_ip)
    if spec.cluster_ips and spec.cluster_ip and spec.cluster_ips[0] != spec.cluster_ip:
        detail = "must match `clusterIP` when set"
        causes.append(invalid("spec.clusterIPs[0]", spec.cluster_ips[0], detail))
    if spec.type == "ExternalName" and spec.cluster_ip:
        causes.append(forbidden("spec.clusterIP", "may not be set for ExternalName services"))
    return causes


def _validate_session_timeout(spec: core.ServiceSpec) -> list[Cause]:
    config = spec.session_affinity_config
    timeout = config.client_ip.timeout_seconds if config and config.client_ip else None
    if timeout is None:
        return []
    path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
    if spec.session_affinity != "ClientIP":
        return [forbidden(path, "must not be set when `sessionAffinity` is None")]
    if not 0 < timeout <= 86400:
        return [invalid(path, timeout, "must be greater than 0 and less than 86400")]
    return []


def validate_endpoints(ep: core.Endpoints, old: Any) -> list[Cause]:
    causes: list[Cause] = []
    for i, subset in enumerate(ep.subsets):
        at = f"subsets[{i}]"
        for attr, addresses in (
            ("addresses", subset.addresses),
            ("notReadyAddresses", subset.not_ready_addresses),
        ):
            for j, addr in enumerate(addresses):
                causes += ip_address(f"{at}.{attr}[{j}].ip", None, addr.ip)
        for j, port in enumerate(subset.ports):
            causes += port_number(f"{at}.ports[{j}].port", port.port if port.port else -1)
            causes += one_of(f"{at}.ports[{j}].protocol", port.protocol, PROTOCOLS)
            if len(subset.ports) > 1 and not port.name:
                causes.append(required(f"{at}.ports[{j}].name"))
    return causes


def validate_endpoint_slice(es: discovery.EndpointSlice, old: Any) -> list[Cause]:
    causes = one_of("addressType", es.address_type, ("IPv4", "IPv6", "FQDN"))
    for i, endpoint in enumerate(es.endpoints):
        at = f"endpoints[{i}].addresses"
        if not 1 <= len(endpoint.addresses) <= 100:
            causes.append(required(at, "must contain at least 1 address"))
        if es.address_type in ("IPv4", "IPv6"):
            for j, address in enumerate(endpoint.addresses):
                causes += ip_address(at, j, address)
    for i, port in enumerate(es.ports):
        causes += port_number(f"ports[{i}].port", port.port)
    if old is not None:
        causes += immutable("addressType", es.address_type, old.address_type)
    return causes
