"""The Namespace controller: finish the deletion of a Terminating namespace.

kcore's API server already empties a namespace when it is deleted and removes it when no
finalizer is left (kcore/apiserver/handlers/delete.py), and it creates default, kube-system,
kube-public and kube-node-lease at start. This controller is the level-triggered safety net
for whatever that pass left behind (an API server stopped mid-way, objects that outlived it):
for a namespace with a deletionTimestamp it deletes every remaining namespaced object through
the ordinary API (so graceful pod deletion and object finalizers apply), looks again every
`RECHECK` seconds while anything remains, and once the namespace is empty removes the
`kubernetes` finalizer through namespaces/NAME/finalize, upon which the API server drops it.

It also keeps the system namespaces (default, kube-system, kube-public, kube-node-lease) in
existence: one that is deleted is created again once it is gone, as Kubernetes' API server does.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from kcore.api.core import Namespace, NamespaceSpec
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.api.registry import ResourceInfo, all_resources
from kcore.client import EventRecorder, SharedInformer, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers.base import QueueController

log = logging.getLogger(__name__)
FINALIZER = "kubernetes"
RECHECK = 2.0
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def namespaced_resources() -> list[ResourceInfo]:
    """Every namespaced kind that can be listed and deleted, once per (group, resource)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for info in all_resources():
        if not info.namespaced or not {"list", "delete"} <= set(info.verbs):
            continue
        if (info.group, info.plural) not in seen:
            seen.add((info.group, info.plural))
            out.append(info)
    return out


class NamespaceController(QueueController):
    NAME = "namespace"

    def __init__(
        self, client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.namespaces: SharedInformer[Namespace] = factory.informer(Namespace)
        self.namespaces.add_event_handler(
            on_add=self._maybe, on_update=lambda old, new: self._maybe(new), on_delete=self.enqueue
        )
        for name in SYSTEM_NAMESPACES:
            self.queue.add(name)

    def _maybe(self, ns: Namespace) -> None:
        if ns.metadata.deletion_timestamp:
            self.enqueue(ns)

    async def sync(self, key: str) -> None:
        ns = self.namespaces.get(key)
        if ns is None:
            if key in SYSTEM_NAMESPACES:
                await self._recreate(key)
            return
        if not ns.metadata.deletion_timestamp:
            return
        remaining = 0
        for info in namespaced_resources():
            remaining += await self._delete_all(info, key)
        if remaining:
            self.queue.add_after(key, RECHECK)
            return
        await self._finalize(ns)

    async def _delete_all(self, info: ResourceInfo, namespace: str) -> int:
        """Ask for the deletion of every object of one kind; how many still exist."""
        try:
            items = (await self.client.list(info, namespace=namespace)).items
        except StatusError as e:
            if e.code in (404, 405):
                return 0
            raise
        for obj in items:
            if obj.metadata.deletion_timestamp:
                continue
            try:
                await self.client.delete(
                    info, obj.metadata.name, namespace=namespace, propagation_policy="Background"
                )
            except StatusError as e:
                if e.code not in (404, 409):
                    raise
        return len(items)

    async def _recreate(self, name: str) -> None:
        try:
            await self.client.create(Namespace(metadata=ObjectMeta(name=name)))
        except StatusError as e:
            if e.code != 409:  # exists (the cache is behind) or still terminating
                raise

    async def _finalize(self, ns: Namespace) -> None:
        if FINALIZER not in ns.spec.finalizers:
            return
        spec = NamespaceSpec(finalizers=[f for f in ns.spec.finalizers if f != FINALIZER])
        try:
            await self.client.update(msgspec.structs.replace(ns, spec=spec), subresource="finalize")
        except StatusError as e:
            if e.code != 404:
                raise
