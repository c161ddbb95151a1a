"""Service ClusterIPs from 127.32.0.0/12 and NodePorts from 30000-32767.

Allocation reads the services that exist (the store is the allocation table, so nothing can
drift after a restart) under one lock held until the write lands; an explicit IP or port that
is out of range or taken is 422 Invalid. One API server per store is assumed for allocation.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from kcore.api import errors
from kcore.api.errors import Cause
from kcore.apiserver.objects import Obj, name_of
from kcore.apiserver.resource_store import ResourceStore

SERVICE_CIDR = ipaddress.ip_network("127.32.0.0/12")
NODE_PORTS = range(30000, 32768)
_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


class ServiceAllocator:
    def __init__(self, services: ResourceStore) -> None:
        self.services = services
        self.lock = asyncio.Lock()

    async def _in_use(self, skip_uid: str) -> tuple[set[str], set[int]]:
        page = await self.services.list("")
        ips: set[str] = set()
        ports: set[int] = set()
        for svc in page.items:
            if (svc.get("metadata") or {}).get("uid") == skip_uid:
                continue
            spec = svc.get("spec") or {}
            ips.update(spec.get("clusterIPs") or [spec.get("clusterIP") or ""])
            ports.update(int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort"))
        return ips, ports

    async def allocate(self, svc: Obj, old: Obj | None = None) -> None:
        """Fill spec.clusterIP(s) and node ports in place (keeping `old`'s on update). Call
        with `self.lock` held until the service is stored."""
        spec: dict[str, Any] = svc.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs") or [old_spec["clusterIP"]]
        ips, ports = await self._in_use((svc.get("metadata") or {}).get("uid", ""))
        causes = self._cluster_ip(svc, spec, ips) + self._node_ports(spec, old_spec, ports)
        if causes:
            raise errors.invalid("Service", name_of(svc), causes)

    def _cluster_ip(self, svc: Obj, spec: dict[str, Any], used: set[str]) -> list[Cause]:
        if spec.get("type") == "ExternalName":
            return []
        want = spec.get("clusterIP") or ((spec.get("clusterIPs") or [""])[0])
        if want == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            return []
        if want:
            return self._check_ip(want, used, spec)
        for host in SERVICE_CIDR.hosts():
            if str(host) not in used:
                spec["clusterIP"], spec["clusterIPs"] = str(host), [str(host)]
                return []
        return [Cause("spec.clusterIPs", "failed to allocate IP: range is full")]

    @staticmethod
    def _check_ip(want: str, used: set[str], spec: dict[str, Any]) -> list[Cause]:
        try:
            ok = ipaddress.ip_address(want) in SERVICE_CIDR
        except ValueError:
            ok = False
        if not ok:
            msg = (
                f'Invalid value: ["{want}"]: failed to allocate IP {want}: the provided IP '
                f"({want}) is not in the valid range. The range of valid IPs is {SERVICE_CIDR}"
            )
            return [Cause("spec.clusterIPs", msg)]
        if want in used:
            msg = (
                f'Invalid value: ["{want}"]: failed to allocate IP {want}: '
                "provided IP is already allocated"
            )
            return [Cause("spec.clusterIPs", msg)]
        spec["clusterIP"], spec["clusterIPs"] = want, [want]
        return []

    @staticmethod
    def _node_ports(spec: dict[str, Any], old_spec: dict[str, Any], used: set[int]) -> list[Cause]:
        ports = spec.get("ports") or []
        if spec.get("type") not in _NODE_PORT_TYPES:
            for p in ports:
                p.pop("nodePort", None)
            return []
        old_by_port = {p.get("port"): p.get("nodePort") for p in old_spec.get("ports") or []}
        causes: list[Cause] = []
        for i, p in enumerate(ports):
            if not p.get("nodePort") and old_by_port.get(p.get("port")):
                p["nodePort"] = old_by_port[p.get("port")]
            causes += _one_node_port(i, p, used)
        return causes


def _one_node_port(i: int, port: dict[str, Any], used: set[int]) -> list[Cause]:
    field = f"spec.ports[{i}].nodePort"
    want = port.get("nodePort")
    if want:
        if int(want) not in NODE_PORTS:
            return [
                Cause(
                    field,
                    f"Invalid value: {want}: provided port is not in the valid "
                    f"range. The range of valid ports is 30000-32767",
                )
            ]
        if int(want) in used:
            return [Cause(field, f"Invalid value: {want}: provided port is already allocated")]
        used.add(int(want))
        return []
    for candidate in NODE_PORTS:
        if candidate not in used:
            port["nodePort"] = candidate
            used.add(candidate)
            return []
    return [Cause(field, "failed to allocate a nodePort: range is full")]
