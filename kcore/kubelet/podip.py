"""Pod IPs from the node's /24 inside 127.64.0.0/10 (loopback: every address is local).

The node-IPAM controller writes `node.spec.podCIDR`; until it has (or when none runs), a node
derives its own /24 deterministically: from a trailing `-N` in its name (kcore-node-N), else
from a CRC of the name. Two nodes could then collide by hash; the controller's CIDR wins
whenever there is one. A podCIDR that arrives (or changes) while pods run is used for new pods
at once; the running pods keep the addresses they have (`moved_to`), also when a restarted
kubelet adopts them.
"""

from __future__ import annotations

import ipaddress
import re
import zlib

POD_NETWORK = ipaddress.IPv4Network("127.64.0.0/10")
_SUBNETS = 2 ** (24 - POD_NETWORK.prefixlen)


def derived_cidr(node_name: str) -> str:
    """The /24 a node uses when its podCIDR is empty."""
    match = re.search(r"-(\d+)$", node_name)
    index = int(match.group(1)) if match else zlib.crc32(node_name.encode())
    base = int(POD_NETWORK.network_address) + (index % _SUBNETS) * 256
    return f"{ipaddress.IPv4Address(base)}/24"


def _pod_address(ip: str) -> bool:
    try:
        return ipaddress.IPv4Address(ip) in POD_NETWORK
    except ValueError:
        return False


class PodIPAllocator:
    """Hands out host addresses of one CIDR; an IP stays with its pod uid until released."""

    def __init__(self, cidr: str) -> None:
        self.cidr = cidr
        self._net = ipaddress.IPv4Network(cidr, strict=False)
        self._by_uid: dict[str, str] = {}
        self._used: set[str] = set()

    def moved_to(self, cidr: str) -> PodIPAllocator:
        """An allocator of `cidr` that still holds every address handed out here."""
        moved = PodIPAllocator(cidr)
        for uid, ip in self._by_uid.items():
            moved._take(uid, ip)
        return moved

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.IPv4Address(ip) in self._net
        except ValueError:
            return False

    def allocate(self, uid: str, preferred: str = "") -> str:
        """The pod's IP: its current one, else `preferred` (the address its containers already
        have) when free and a pod address, else a free one of our CIDR."""
        if uid in self._by_uid:
            return self._by_uid[uid]
        if preferred and preferred not in self._used and _pod_address(preferred):
            return self._take(uid, preferred)  # kept across a restart, even from an older CIDR
        for host in self._net.hosts():
            if str(host) not in self._used:
                return self._take(uid, str(host))
        raise RuntimeError(f"no free pod IP left in {self.cidr}")

    def _take(self, uid: str, ip: str) -> str:
        self._by_uid[uid] = ip
        self._used.add(ip)
        return ip

    def release(self, uid: str) -> None:
        ip = self._by_uid.pop(uid, None)
        if ip is not None:
            self._used.discard(ip)

    def ip_of(self, uid: str) -> str:
        return self._by_uid.get(uid, "")
