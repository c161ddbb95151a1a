"""The garbage collector: the ownerReferences graph, and deletion that follows it.

It watches every kind that can be owned or own (shared informers, so the watches the other
controllers opened are reused) and keeps a graph: each object by uid with its owner
references, and for each owner uid the uids of its dependents. The queue holds
"delete:<uid>" (is this object garbage? / may this foreground deletion finish?) and
"orphan:<uid>" (strip this owner from its dependents). As in Kubernetes:

- **background**: an object all of whose owners are gone is deleted. "Gone" is checked
  against the API server (a live GET by name, uid compared) whenever the owner is missing from
  the graph, because watches of different kinds arrive in any order;
- **foreground** (`foregroundDeletion` finalizer, set by the API server on DELETE with
  propagationPolicy=Foreground): the owner's dependents are deleted (foreground again if they
  have dependents of their own); once no dependent with blockOwnerDeletion=true remains the
  finalizer is removed and the API server drops the owner;
- **orphan** (`orphan` finalizer): the owner's reference is removed from every dependent, then
  the finalizer from the owner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kcore.api.errors import StatusError
from kcore.api.meta import OwnerReference
from kcore.api.registry import ResourceInfo, all_resources, by_kind
from kcore.client import EventRecorder, SharedInformerFactory
from kcore.client.rest import Client
from kcore.controllers.base import QueueController
from kcore.controllers.controller_utils import ref_dict

log = logging.getLogger(__name__)
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
_IGNORED = {("", "events"), ("events.k8s.io", "events"), ("coordination.k8s.io", "leases")}


def monitored_resources() -> list[ResourceInfo]:
    """Every listable, watchable, deletable kind, once per (group, resource)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for info in all_resources():
        gr = (info.group, info.plural)
        if gr in seen or gr in _IGNORED:
            continue
        if not {"list", "watch", "delete"} <= set(info.verbs):
            continue
        seen.add(gr)
        out.append(info)
    return out


@dataclass(slots=True)
class Node:
    info: ResourceInfo
    namespace: str
    name: str
    uid: str
    owners: list[OwnerReference] = field(default_factory=list)
    finalizers: tuple[str, ...] = ()
    deleting: bool = False

    @property
    def deleting_dependents(self) -> bool:
        return self.deleting and FOREGROUND in self.finalizers


def node_of(info: ResourceInfo, obj: Any) -> Node:
    m = obj.metadata
    return Node(
        info=info,
        namespace=m.namespace,
        name=m.name,
        uid=m.uid,
        owners=list(m.owner_references),
        finalizers=tuple(m.finalizers),
        deleting=bool(m.deletion_timestamp),
    )


class Graph:
    """Objects by uid and dependents by owner uid (owners may be absent: "virtual")."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.dependents: dict[str, set[str]] = {}

    def upsert(self, node: Node) -> Node | None:
        old = self.nodes.get(node.uid)
        if old is not None:
            self._unlink(old)
        self.nodes[node.uid] = node
        for ref in node.owners:
            self.dependents.setdefault(ref.uid, set()).add(node.uid)
        return old

    def remove(self, uid: str) -> Node | None:
        node = self.nodes.pop(uid, None)
        if node is not None:
            self._unlink(node)
        return node

    def _unlink(self, node: Node) -> None:
        for ref in node.owners:
            deps = self.dependents.get(ref.uid)
            if deps is not None:
                deps.discard(node.uid)
                if not deps:
                    del self.dependents[ref.uid]

    def dependents_of(self, uid: str) -> list[Node]:
        return [self.nodes[d] for d in self.dependents.get(uid, ()) if d in self.nodes]

    def blocking_dependents(self, uid: str) -> list[Node]:
        return [
            dep
            for dep in self.dependents_of(uid)
            if any(r.uid == uid and r.block_owner_deletion for r in dep.owners)
        ]


class GarbageCollector(QueueController):
    NAME = "garbagecollector"

    def __init__(
        self, client: Client, factory: SharedInformerFactory, recorder: EventRecorder, **kw: Any
    ) -> None:
        super().__init__(client, factory, recorder, **kw)
        self.graph = Graph()
        for info in monitored_resources():
            self._watch(info)

    def _watch(self, info: ResourceInfo) -> None:
        informer = self.factory.informer_for(info)
        informer.add_event_handler(
            on_add=lambda obj: self._observe(info, obj),
            on_update=lambda old, new: self._observe(info, new),
            on_delete=lambda obj: self._forget(obj),
        )

    # -- graph maintenance (event handlers) --------------------------------------------------

    def _observe(self, info: ResourceInfo, obj: Any) -> None:
        node = node_of(info, obj)
        if not node.uid:
            return
        old = self.graph.upsert(node)
        if node.owners and (old is None or old.owners != node.owners):
            self.queue.add(f"delete:{node.uid}")
        if node.deleting and ORPHAN in node.finalizers:
            self.queue.add(f"orphan:{node.uid}")
        if node.deleting_dependents:
            self.queue.add(f"delete:{node.uid}")
        if node.deleting and (old is None or not old.deleting):
            self._poke_waiting_owners(node)

    def _forget(self, obj: Any) -> None:
        node = self.graph.remove(obj.metadata.uid)
        if node is None:
            return
        for dep in self.graph.dependents_of(node.uid):
            self.queue.add(f"delete:{dep.uid}")
        self._poke_waiting_owners(node)

    def _poke_waiting_owners(self, node: Node) -> None:
        for ref in node.owners:
            owner = self.graph.nodes.get(ref.uid)
            if owner is not None and owner.deleting_dependents:
                self.queue.add(f"delete:{owner.uid}")

    # -- reconcile ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        action, _, uid = key.partition(":")
        node = self.graph.nodes.get(uid)
        if node is None:
            return
        if action == "orphan":
            await self._orphan_dependents(node)
        elif node.deleting_dependents:
            await self._process_foreground(node)
        elif not node.deleting and node.owners:
            await self._attempt_delete(node)

    async def _attempt_delete(self, node: Node) -> None:
        solid, dangling, waiting = [], [], []
        for ref in node.owners:
            owner = self.graph.nodes.get(ref.uid)
            if owner is not None and owner.deleting_dependents:
                waiting.append(ref)
            elif owner is not None or not await self._owner_absent(node, ref):
                solid.append(ref)
            else:
                dangling.append(ref)
        if solid:
            if dangling or waiting:
                await self._drop_refs(node, {r.uid for r in dangling}, {r.uid for r in waiting})
            return
        if waiting and self.graph.dependents_of(node.uid):
            await self._delete(node, "Foreground")
        else:
            await self._delete(node, self._own_policy(node))

    @staticmethod
    def _own_policy(node: Node) -> str:
        if ORPHAN in node.finalizers:
            return "Orphan"
        if FOREGROUND in node.finalizers:
            return "Foreground"
        return "Background"

    async def _owner_absent(self, node: Node, ref: OwnerReference) -> bool:
        """Ask the API server: is the owner really gone (or replaced by a namesake)?"""
        info = by_kind(ref.api_version, ref.kind)
        if info is None:
            log.warning("%s: owner kind %s %s unknown", node.name, ref.api_version, ref.kind)
            return False
        ns = node.namespace if info.namespaced else None
        try:
            owner = await self.client.get(info, ref.name, namespace=ns)
        except StatusError as e:
            if e.code == 404:
                return True
            raise
        return bool(owner.metadata.uid != ref.uid)

    async def _delete(self, node: Node, policy: str) -> None:
        log.debug("gc: deleting %s %s/%s (%s)", node.info.kind, node.namespace, node.name, policy)
        try:
            await self.client.delete(
                node.info,
                node.name,
                namespace=node.namespace or None,
                propagation_policy=policy,
                preconditions={"uid": node.uid},
            )
        except StatusError as e:
            if e.code not in (404, 409):
                raise

    async def _drop_refs(self, node: Node, remove: set[str], unblock: set[str]) -> None:
        refs = []
        for ref in node.owners:
            if ref.uid in remove:
                continue
            d = ref_dict(ref)
            if ref.uid in unblock:
                d["blockOwnerDeletion"] = False
            refs.append(d)
        await self._patch_meta(node, {"ownerReferences": refs, "uid": node.uid})

    async def _patch_meta(self, node: Node, meta: dict[str, Any]) -> None:
        try:
            await self.client.patch(
                node.info, node.name, {"metadata": meta}, namespace=node.namespace or None
            )
        except StatusError as e:
            if e.code not in (404, 409, 422):
                raise

    async def _process_foreground(self, owner: Node) -> None:
        blocking = self.graph.blocking_dependents(owner.uid)
        if not blocking:
            await self._remove_finalizer(owner, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting:
                self.queue.add(f"delete:{dep.uid}")

    async def _orphan_dependents(self, owner: Node) -> None:
        for dep in self.graph.dependents_of(owner.uid):
            await self._drop_refs(dep, {owner.uid}, set())
        await self._remove_finalizer(owner, ORPHAN)

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        """Re-read the object and write its finalizers without `finalizer` (rv-guarded)."""
        try:
            live = await self.client.get(node.info, node.name, namespace=node.namespace or None)
        except StatusError as e:
            if e.code == 404:
                return
            raise
        if live.metadata.uid != node.uid or finalizer not in live.metadata.finalizers:
            return
        remaining = [f for f in live.metadata.finalizers if f != finalizer]
        meta = {"finalizers": remaining, "resourceVersion": live.metadata.resource_version}
        await self.client.patch(
            node.info, node.name, {"metadata": meta}, namespace=node.namespace or None
        )
