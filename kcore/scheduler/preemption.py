"""Preemption: which lower-priority pods to evict so that a pod that fits nowhere fits.

Following kube-scheduler's DefaultPreemption: a node is a candidate when removing every pod
of lower priority on it would let the pod pass all filters (one kernel pass with all those
pods lifted off the table answers this for every node at once). On each candidate, victims
are then reprieved highest priority first: a pod is put back if the preemptor still fits
with it. Among candidates the scheduler picks the one whose worst victim has the lowest
priority, then the lowest sum of victim priorities, then the fewest victims. Pods already
terminating are not counted as victims (they are going anyway), and a pod with
preemptionPolicy Never preempts nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kcore.api.core import Pod
from kcore.client.meta import key_of
from kcore.scheduler import adapter
from kcore.scheduler.cache import SchedulerCache
from kcore.scheduler.query import PodRequirements

if TYPE_CHECKING:
    from kcore.scheduler.framework.runtime import Framework

MAX_CANDIDATES = 64
"""Nodes examined closely (reprieve) per preemption; kube-scheduler samples similarly."""


@dataclass(frozen=True)
class Candidate:
    node: str
    victims: list[Pod]

    def cost(self) -> tuple[int, int, int]:
        prios = [adapter.priority(v) for v in self.victims]
        return (max(prios, default=-(2**31)), sum(prios), len(prios))


def _lower(cache: SchedulerCache, pod: Pod) -> dict[str, list[Pod]]:
    """Per node, the running pods of lower priority than `pod`."""
    mine = adapter.priority(pod)
    out: dict[str, list[Pod]] = {}
    for other, node in cache.placed():
        if other.metadata.deletion_timestamp or adapter.priority(other) >= mine:
            continue
        out.setdefault(node, []).append(other)
    return out


def _waiting_for_victims(cache: SchedulerCache, pod: Pod) -> bool:
    """The pod already nominated a node whose lower-priority pods are still terminating."""
    node = pod.status.nominated_node_name
    if not node or node not in cache.nodes:
        return False
    mine = adapter.priority(pod)
    return any(
        p.metadata.deletion_timestamp and adapter.priority(p) < mine for p in cache.pods_on(node)
    )


def _reprieve(
    cache: SchedulerCache,
    framework: Framework,
    requirements: PodRequirements,
    node: str,
    pods: list[Pod],
) -> list[Pod]:
    """Victims on `node` after putting back every pod the preemptor can live with."""
    ordered = sorted(pods, key=lambda p: -adapter.priority(p))
    victims: list[Pod] = []
    keys = [key_of(p) for p in ordered]
    with cache.without(keys):
        for pod, key in zip(ordered, keys, strict=True):
            cache.restore(key)
            if not framework.fits(requirements, node):
                cache.lift(key)
                victims.append(pod)
    return victims


def find_candidate(
    cache: SchedulerCache, framework: Framework, pod: Pod, requirements: PodRequirements
) -> Candidate | None:
    if pod.spec.preemption_policy == "Never" or _waiting_for_victims(cache, pod):
        return None
    lower = _lower(cache, pod)
    if not lower:
        return None
    everyone = [key_of(p) for pods in lower.values() for p in pods]
    with cache.without(everyone):
        feasible = [n for n in framework.feasible(requirements) if n in lower]
    candidates = []
    for node in feasible[:MAX_CANDIDATES]:
        victims = _reprieve(cache, framework, requirements, node, lower[node])
        if victims:
            candidates.append(Candidate(node, victims))
    return min(candidates, key=Candidate.cost, default=None)


__all__ = ["MAX_CANDIDATES", "Candidate", "find_candidate"]
