"""Compiled queries reused across pods with the same spec.

Compiling a pod against the node table (pre_filter, then masks over the vocabularies) costs
about as much as the kernel pass itself. Pods of one template compile to the same query, so
for pods whose requirements depend on their spec alone (no inter-pod terms, no spread
constraints, no host ports, and no existing pod with inter-pod terms in the cache) the query
is kept, keyed by the encoded spec. It stays valid while the table's layout and
vocabularies are unchanged: a new label value, taint, port, resource or topology key (or any
node added or removed) invalidates it, because masks and node indexes would be stale.
"""

from __future__ import annotations

import msgspec

from kcore.api.core import Pod
from kcore.scheduler.cache import SchedulerCache
from kcore.scheduler.query import PodRequirements, Query
from kcore.scheduler.table import NodeTable

MAX_ENTRIES = 1024
Fingerprint = tuple[int, ...]


def fingerprint(table: NodeTable) -> Fingerprint:
    return (
        table.layout_version,
        len(table.label_vocab),
        len(table.taint_vocab),
        len(table.port_vocab),
        len(table.resources),
        len(table.numeric_keys),
        len(table.topology_keys),
        sum(len(d) for d in table.domains),
    )


def _spec_only(pod: Pod, cache: SchedulerCache) -> bool:
    spec = pod.spec
    if cache.affinity_pods or spec.topology_spread_constraints:
        return False
    a = spec.affinity
    if a is not None and (a.pod_affinity is not None or a.pod_anti_affinity is not None):
        return False
    containers = [*spec.init_containers, *spec.containers]
    return not any(p.host_port for c in containers for p in c.ports)


class QueryCache:
    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[Fingerprint, PodRequirements, Query]] = {}
        self.hits = 0

    def key(self, pod: Pod, cache: SchedulerCache) -> bytes | None:
        return msgspec.msgpack.encode(pod.spec) if _spec_only(pod, cache) else None

    def get(self, key: bytes | None, table: NodeTable) -> tuple[PodRequirements, Query] | None:
        found = self._entries.get(key) if key is not None else None
        if found is None or found[0] != fingerprint(table):
            return None
        self.hits += 1
        return found[1], found[2]

    def put(self, key: bytes | None, table: NodeTable, req: PodRequirements, query: Query) -> None:
        if key is None:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (fingerprint(table), req, query)


__all__ = ["QueryCache", "fingerprint"]
