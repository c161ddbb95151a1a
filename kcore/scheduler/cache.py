"""The scheduler's cache: the node table kept current from node and pod informers, plus
the pods the scheduler has assumed but the API server has not yet confirmed.

Like kube-scheduler's cache, a pod is accounted on its node as soon as the scheduler decides
(`assume`), before the binding is written, so the next decision already sees it. A failed
binding `forget`s it. Once the binding call returns, the assumed pod waits for the informer to
confirm it (an add or update with spec.nodeName); if no confirmation arrives within `ttl`
seconds the assumption expires (`cleanup`). Pods bound to a node the cache does not know yet
are kept aside and accounted when the node arrives. Terminated pods hold no resources.
Preemptors waiting for their victims to leave are `nominate`d: while another pod is decided,
the nominated pods that outrank it are accounted on their nodes (`with_nominated`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kcore.api.core import Node, Pod
from kcore.client.meta import key_of
from kcore.scheduler import adapter
from kcore.scheduler.table import NodeTable

DEFAULT_ASSUME_TTL = 30.0
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass
class CachedPod:
    pod: Pod
    node: str
    assumed: bool = False
    deadline: float | None = None
    """For an assumed pod whose binding call returned: when the assumption expires."""


def holds_resources(pod: Pod) -> bool:
    return bool(pod.spec.node_name) and pod.status.phase not in TERMINAL_PHASES


class SchedulerCache:
    def __init__(
        self,
        *,
        table: NodeTable | None = None,
        ttl: float = DEFAULT_ASSUME_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table or NodeTable()
        self.ttl = ttl
        self.clock = clock
        self.nodes: dict[str, Node] = {}
        self.pods: dict[str, CachedPod] = {}
        self._by_node: dict[str, set[str]] = {}
        self.affinity_pods: dict[str, None] = {}
        self._lifted: set[str] = set()
        self.nominated: dict[str, tuple[Pod, str]] = {}
        """Preemptors (key -> pod, node) waiting for their victims to terminate."""
        """Keys of cached pods with pod (anti-)affinity terms, for InterPodAffinity."""

    # -- nodes ------------------------------------------------------------------------------

    def add_node(self, node: Node) -> None:
        name = node.metadata.name
        if name in self.nodes:
            self.update_node(node)
            return
        self.nodes[name] = node
        self.table.add_node(name, **adapter.node_fields(node).as_kwargs())  # type: ignore[arg-type]
        for key in self._by_node.get(name, set()):
            self._account(key)

    def update_node(self, node: Node) -> None:
        name = node.metadata.name
        if name not in self.nodes:
            self.add_node(node)
            return
        self.nodes[name] = node
        self.table.update_node(name, **adapter.node_fields(node).as_kwargs())  # type: ignore[arg-type]

    def remove_node(self, name: str) -> None:
        """The node leaves the table; its pods stay known, waiting for it or their deletion."""
        if self.nodes.pop(name, None) is not None:
            self.table.remove_node(name)

    # -- pods -------------------------------------------------------------------------------

    def add_pod(self, pod: Pod) -> None:
        """A pod the informer reports bound (confirms an assumed one)."""
        key = key_of(pod)
        if not holds_resources(pod):
            self.remove_pod(key)
            return
        known = self.pods.get(key)
        if known is not None and known.node == pod.spec.node_name:
            known.pod, known.assumed, known.deadline = pod, False, None
            return
        if known is not None:
            self.remove_pod(key)
        self._insert(key, CachedPod(pod, pod.spec.node_name))

    update_pod = add_pod

    def remove_pod(self, key: str) -> None:
        cached = self.pods.pop(key, None)
        if cached is None:
            return
        self._by_node.get(cached.node, set()).discard(key)
        self.affinity_pods.pop(key, None)
        if cached.node in self.nodes:
            self.table.remove_pod(key)

    def assume(self, pod: Pod, node: str) -> None:
        key = key_of(pod)
        if key in self.pods:
            raise ValueError(f"pod {key} is already in the cache")
        self._insert(key, CachedPod(pod, node, assumed=True))

    def finish_binding(self, key: str) -> None:
        cached = self.pods.get(key)
        if cached is not None and cached.assumed:
            cached.deadline = self.clock() + self.ttl

    def forget(self, key: str) -> None:
        cached = self.pods.get(key)
        if cached is not None and cached.assumed:
            self.remove_pod(key)

    def is_assumed(self, key: str) -> bool:
        cached = self.pods.get(key)
        return cached is not None and cached.assumed

    def cleanup(self) -> list[str]:
        """Expire assumed pods whose binding returned long ago but never showed up."""
        now = self.clock()
        expired = [
            key
            for key, c in self.pods.items()
            if c.assumed and c.deadline is not None and c.deadline <= now
        ]
        for key in expired:
            self.remove_pod(key)
        return expired

    def _insert(self, key: str, cached: CachedPod) -> None:
        self.pods[key] = cached
        self._by_node.setdefault(cached.node, set()).add(key)
        affinity = cached.pod.spec.affinity
        if affinity is not None and (
            affinity.pod_affinity is not None or affinity.pod_anti_affinity is not None
        ):
            self.affinity_pods[key] = None
        if cached.node in self.nodes:
            self._account(key)

    def _account(self, key: str) -> None:
        cached = self.pods[key]
        pod = cached.pod
        self.table.add_pod(
            key,
            cached.node,
            requests=adapter.pod_requests(pod),
            nonzero=adapter.pod_nonzero(pod),
            host_ports=adapter.host_ports(pod),
        )

    # -- nominated pods ---------------------------------------------------------------------

    def nominate(self, pod: Pod, node: str) -> None:
        """A preemptor waits for its victims to go: keep room for it on `node`."""
        self.nominated[key_of(pod)] = (pod, node)

    def unnominate(self, key: str) -> None:
        self.nominated.pop(key, None)

    @contextmanager
    def with_nominated(self, pod: Pod) -> Iterator[None]:
        """For the block, account the nominated pods that outrank (or equal) `pod` on their
        nodes, so a lower-priority pod cannot take the room preemption made for them."""
        mine, me = pod.spec.priority or 0, key_of(pod)
        added = []
        for key, (other, node) in self.nominated.items():
            if key != me and (other.spec.priority or 0) >= mine and node in self.nodes:
                temp = f"nominated:{key}"
                self.table.add_pod(
                    temp,
                    node,
                    requests=adapter.pod_requests(other),
                    nonzero=adapter.pod_nonzero(other),
                    host_ports=adapter.host_ports(other),
                )
                added.append(temp)
        try:
            yield
        finally:
            for temp in added:
                self.table.remove_pod(temp)

    @contextmanager
    def without(self, keys: Iterable[str]) -> Iterator[None]:
        """Takes these pods off the node table for the block (what-if checks: preemption).

        Inside, `restore` puts one back early and `lift` takes it off again; on exit every
        pod still lifted returns. Not reentrant.
        """
        for key in keys:
            cached = self.pods.get(key)
            if cached is not None and cached.node in self.nodes:
                self.lift(key)
        try:
            yield
        finally:
            for key in list(self._lifted):
                self.restore(key)

    def lift(self, key: str) -> None:
        self.table.remove_pod(key)
        self._lifted.add(key)

    def restore(self, key: str) -> None:
        self._lifted.discard(key)
        self._account(key)

    # -- reading ----------------------------------------------------------------------------

    def pods_on(self, node: str) -> list[Pod]:
        return [self.pods[k].pod for k in self._by_node.get(node, ()) if k in self.pods]

    def placed(self) -> Iterator[tuple[Pod, str]]:
        """Every pod accounted on a known node, with that node."""
        for cached in self.pods.values():
            if cached.node in self.nodes:
                yield cached.pod, cached.node

    def node_labels(self, name: str) -> dict[str, str]:
        node = self.nodes.get(name)
        return dict(node.metadata.labels) if node is not None else {}


__all__ = ["DEFAULT_ASSUME_TTL", "CachedPod", "SchedulerCache", "holds_resources"]
