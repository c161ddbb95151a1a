"""Node IPAM: give every node a /24 pod CIDR out of 127.64.0.0/10 (spec.podCIDR/podCIDRs).

Like Kubernetes' range allocator, the allocation map lives in memory and is rebuilt from the
nodes themselves: every node the informer delivers marks its CIDR used (so a restarted
controller never hands out a CIDR twice), a deleted node releases its CIDR, and a sync of a
node without one takes a free /24 (the one the kubelet derives from a trailing -N in the
node's name when that is free, else the lowest) and writes it with the node's
resourceVersion as a precondition (the API server refuses to change a podCIDR once set).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

from kcore.api.core import Node
from kcore.api.errors import StatusError
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers.base import QueueController

log = logging.getLogger(__name__)
CLUSTER_CIDR = "127.64.0.0/10"
NODE_MASK = 24
_TRAILING_NUMBER = re.compile(r"-(\d+)$")


class CIDRSet:
    """Which /`mask` subnets of a cluster range are taken, by index."""

    def __init__(self, cluster_cidr: str = CLUSTER_CIDR, mask: int = NODE_MASK) -> None:
        self.network = ipaddress.IPv4Network(cluster_cidr)
        if mask < self.network.prefixlen:
            raise ValueError(f"node mask /{mask} is wider than the cluster range {cluster_cidr}")
        self.mask = mask
        self.size = 1 << (mask - self.network.prefixlen)
        self._used: set[int] = set()
        self._next = 0

    def _index(self, cidr: str) -> int | None:
        try:
            net = ipaddress.IPv4Network(cidr)
        except ValueError:
            return None
        if net.prefixlen != self.mask or not net.subnet_of(self.network):
            return None
        return (int(net.network_address) - int(self.network.network_address)) >> (32 - self.mask)

    def _cidr(self, index: int) -> str:
        base = int(self.network.network_address) + (index << (32 - self.mask))
        return f"{ipaddress.IPv4Address(base)}/{self.mask}"

    def occupy(self, cidr: str) -> bool:
        """Mark a CIDR taken; False if it is not one of this set's subnets."""
        index = self._index(cidr)
        if index is None:
            return False
        self._used.add(index)
        return True

    def release(self, cidr: str) -> None:
        index = self._index(cidr)
        if index is not None:
            self._used.discard(index)
            self._next = min(self._next, index)

    def allocate(self, preferred: int | None = None) -> str:
        """Subnet `preferred` if free, else the lowest free one; RuntimeError when exhausted."""
        if preferred is not None and 0 <= preferred < self.size and preferred not in self._used:
            self._used.add(preferred)
            return self._cidr(preferred)
        for index in range(self._next, self.size):
            if index not in self._used:
                self._used.add(index)
                self._next = index + 1
                return self._cidr(index)
        raise RuntimeError(f"no free /{self.mask} left in {self.network}")

    def used(self) -> int:
        return len(self._used)


class NodeIpamController(QueueController):
    NAME = "nodeipam"

    def __init__(
        self,
        client: Client,
        factory: SharedInformerFactory,
        recorder: EventRecorder,
        *,
        cluster_cidr: str = CLUSTER_CIDR,
        node_mask: int = NODE_MASK,
        **kw: Any,
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.cidrs = CIDRSet(cluster_cidr, node_mask)
        self.nodes = factory.informer(Node)
        self.nodes.add_event_handler(
            on_add=self._node_seen, on_update=self._node_updated, on_delete=self._node_deleted
        )

    def _node_seen(self, node: Node) -> None:
        for cidr in _cidrs_of(node):
            self.cidrs.occupy(cidr)
        if not _cidrs_of(node):
            self.enqueue(node)

    def _node_updated(self, old: Node, new: Node) -> None:
        self._node_seen(new)

    def _node_deleted(self, node: Node) -> None:
        for cidr in _cidrs_of(node):
            self.cidrs.release(cidr)

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None or _cidrs_of(node) or node.metadata.deletion_timestamp:
            return
        try:
            cidr = self.cidrs.allocate(preferred_index(node.metadata.name, self.cidrs.size))
        except RuntimeError as e:
            self.recorder.event(node, "Warning", "CIDRNotAvailable", str(e))
            raise
        written = False
        try:
            written = await self._write(node, cidr)
        finally:
            if not written:
                self.cidrs.release(cidr)

    async def _write(self, node: Node, cidr: str) -> bool:
        patch = {
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        }
        try:
            await self.client.patch(Node, node.metadata.name, patch)
        except StatusError as e:
            if e.code == 404:
                return False
            if e.code == 409:
                self.enqueue(node)  # changed meanwhile: look again at the fresh object
                return False
            raise
        self.recorder.event(node, "Normal", "CIDRAssignmentSucceeded", f"Assigned {cidr}")
        log.info("node %s: podCIDR %s", node.metadata.name, cidr)
        return True


def preferred_index(node_name: str, size: int) -> int | None:
    """The subnet a kubelet derives for itself before it is given one: the trailing number
    of names like kcore-node-3 (kcore.kubelet.podip uses the same rule). Handing that one out
    when free keeps the pod IPs of a node that started early unchanged."""
    match = _TRAILING_NUMBER.search(node_name)
    return int(match.group(1)) % size if match else None


def _cidrs_of(node: Node) -> list[str]:
    if node.spec.pod_cidrs:
        return list(node.spec.pod_cidrs)
    return [node.spec.pod_cidr] if node.spec.pod_cidr else []
