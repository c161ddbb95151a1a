"""NodeHeartbeat: the kubelet's Node object and Lease over time.

Registers the Node (or takes over the existing one), patches its status at start and then
whenever a condition changes or `status_report_period` has passed (checked every
`status_period`), and renews the Lease in kube-node-lease every `lease_period` — the cheap
heartbeat the node lifecycle controller watches. Each check compares the machine's facts
with the Node as stored in the API (a GET), not with what this kubelet last wrote, so a
condition someone else changed (the node lifecycle controller marking it Unknown after a
network cut) is corrected at the next check; the fetched Node also carries a podCIDR
assigned since the last check to `on_node`. Embedded kubelets read it from a shared informer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from kcore.api import codec
from kcore.api.coordination import Lease
from kcore.api.core import Node
from kcore.api.errors import StatusError
from kcore.client import Client
from kcore.kubelet import node as facts
from kcore.kubelet.config import KubeletConfig

log = logging.getLogger(__name__)


class NodeHeartbeat:
    def __init__(
        self,
        config: KubeletConfig,
        client: Client,
        *,
        port: int,
        runtime_version: str,
        on_node: Callable[[Node], None] = lambda _: None,
        images: Callable[[], Awaitable[list[tuple[list[str], int]]]] | None = None,
        stored: Callable[[str], Node | None] | None = None,
    ) -> None:
        """`stored`: the Node as a shared informer has it (else each check GETs it)."""
        self.config, self.client = config, client
        self.port, self.runtime_version = port, runtime_version
        self.node: Node | None = None
        self._on_node = on_node
        self._images = images
        self._reported_at = 0.0
        self._stored = stored

    async def register(self) -> Node:
        wanted = facts.node_object(
            self.config, port=self.port, runtime_version=self.runtime_version
        )
        try:
            self.node = await self.client.create(wanted)
        except StatusError as e:
            if e.code != 409:
                raise
            self.node = await self.client.get(Node, self.config.node_name)
        await self.report()
        assert self.node is not None
        return self.node

    async def report(self) -> None:
        assert self.node is not None
        cap, alloc = facts.capacity(self.config)
        status = facts.node_status(
            self.config,
            self.node.status.conditions,
            port=self.port,
            runtime_version=self.runtime_version,
            capacity=cap,
            allocatable=alloc,
            images=await self._images() if self._images is not None else [],
        )
        body = {"status": codec.to_dict(status)}
        self.node = await self.client.patch(Node, self.config.node_name, body, subresource="status")
        self._on_node(self.node)
        self._reported_at = asyncio.get_running_loop().time()

    async def status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.status_period)
            with contextlib.suppress(Exception):
                await self._maybe_report()

    async def _maybe_report(self) -> None:
        name = self.config.node_name
        node = self._stored(name) if self._stored is not None else None
        if node is None:
            node = await self.client.get(Node, name)
        self.node = node
        self._on_node(node)
        old = {c.type: c.status for c in node.status.conditions}
        fresh = {c.type: c.status for c in facts.conditions(self.config, [])}
        age = asyncio.get_running_loop().time() - self._reported_at
        if old != fresh or age >= self.config.status_report_period:
            await self.report()

    async def lease_loop(self) -> None:
        lease: Lease | None = None
        while True:
            try:
                lease = await self._renew(lease)
            except Exception as e:
                log.warning("lease renewal of %s failed: %s", self.config.node_name, e)
                lease = None
            await asyncio.sleep(self.config.lease_period)

    async def _renew(self, lease: Lease | None) -> Lease:
        fresh = facts.lease_object(self.config, self.node.metadata.uid if self.node else "")
        if lease is None:
            try:
                return await self.client.create(fresh)
            except StatusError as e:
                if e.code != 409:
                    raise
            lease = await self.client.get(
                Lease, self.config.node_name, namespace=facts.LEASE_NAMESPACE
            )
        lease.spec = fresh.spec
        return await self.client.update(lease)
