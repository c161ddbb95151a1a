"""InterPodAffinity: required pod affinity and anti-affinity (the incoming pod's and the
existing pods'), and the preferred terms' weighted score, from per-domain pod counts.

pre_filter counts, per topology domain, the existing pods each term matches and hands the
counts to the kernel as TopologyTerms; the kernel filters (a node passes an affinity term
when its domain holds a match, an anti-affinity term when it holds none) and scores
(`100*(v-min)//(max-min)` over the summed weights). As in Kubernetes, a pod whose affinity
matches no pod anywhere may still land if it matches its own terms (the first of a group).
Existing pods' preferred terms (and their required affinity, at weight 1) that match the
incoming pod count in its score too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from kcore.api.core import Pod, PodAffinityTerm
from kcore.api.labels import from_label_selector
from kcore.scheduler.framework.interface import CycleState, KernelPlugin
from kcore.scheduler.framework.status import Result
from kcore.scheduler.query import TopologyTerm

NAME = "InterPodAffinity"
HARD_POD_AFFINITY_WEIGHT = 1
Counts = dict[str, int]


def term_matches(term: PodAffinityTerm, owner_namespace: str, pod: Pod) -> bool:
    """Does `term` (of a pod in `owner_namespace`) select `pod`?"""
    if term.label_selector is None:
        return False
    namespaces = set(term.namespaces)
    all_namespaces = term.namespace_selector is not None and not (
        term.namespace_selector.match_labels or term.namespace_selector.match_expressions
    )
    if not namespaces and term.namespace_selector is None:
        namespaces = {owner_namespace}
    if not all_namespaces and pod.metadata.namespace not in namespaces:
        return False
    return from_label_selector(term.label_selector).matches(pod.metadata.labels)


def has_pod_affinity(pod: Pod) -> bool:
    a = pod.spec.affinity
    return a is not None and (a.pod_affinity is not None or a.pod_anti_affinity is not None)


class _Terms:
    """The incoming pod's terms, grouped by kind."""

    def __init__(self, pod: Pod) -> None:
        a = pod.spec.affinity
        pa = a.pod_affinity if a else None
        paa = a.pod_anti_affinity if a else None
        self.affinity = list(pa.required_during_scheduling_ignored_during_execution) if pa else []
        self.anti = list(paa.required_during_scheduling_ignored_during_execution) if paa else []
        self.preferred: list[tuple[int, PodAffinityTerm]] = []
        for terms, sign in ((pa, 1), (paa, -1)):
            for w in terms.preferred_during_scheduling_ignored_during_execution if terms else []:
                self.preferred.append((sign * w.weight, w.pod_affinity_term))

    def any(self) -> bool:
        return bool(self.affinity or self.anti or self.preferred)


class InterPodAffinity(KernelPlugin):
    NAME = NAME
    PROFILE_WEIGHT = "interpod_weight"

    def _domain(self, node: str, key: str) -> str | None:
        return self.handle.cache.node_labels(node).get(key)

    def pre_filter(self, state: CycleState, pod: Pod) -> Result:
        terms = _Terms(pod)
        existing_anti, scores = self._existing(pod)
        if terms.any():
            self._incoming(state, pod, terms, scores)
        if existing_anti and self.filter_enabled:
            state.requirements["existing_anti_affinity"] = [
                TopologyTerm(k, c) for k, c in existing_anti.items()
            ]
        if scores:
            state.requirements["preferred_pod_affinity"] = [
                TopologyTerm(k, c) for k, c in scores.items()
            ]
        return None

    def _count(self, pod: Pod, term: PodAffinityTerm) -> Counts:
        counts: Counts = defaultdict(int)
        for other, node in self.handle.cache.placed():
            if term_matches(term, pod.metadata.namespace, other):
                domain = self._domain(node, term.topology_key)
                if domain is not None:
                    counts[domain] += 1
        return dict(counts)

    def _incoming(
        self, state: CycleState, pod: Pod, terms: _Terms, scores: dict[str, Counts]
    ) -> None:
        affinity = [(t, self._count(pod, t)) for t in terms.affinity]
        if self.filter_enabled:
            state.requirements["pod_affinity"] = [
                TopologyTerm(t.topology_key, c) for t, c in affinity
            ]
            state.requirements["pod_anti_affinity"] = [
                TopologyTerm(t.topology_key, self._count(pod, t)) for t in terms.anti
            ]
            nobody = all(not c for _, c in affinity)
            own = all(term_matches(t, pod.metadata.namespace, pod) for t in terms.affinity)
            state.requirements["affinity_bootstrap"] = bool(affinity) and nobody and own
        for weight, term in terms.preferred:
            for domain, n in self._count(pod, term).items():
                _bump(scores, term.topology_key, domain, weight * n)

    def _existing(self, pod: Pod) -> tuple[dict[str, Counts], dict[str, Counts]]:
        """Existing pods' terms that select the incoming pod: anti-affinity counts, scores."""
        anti: dict[str, Counts] = {}
        scores: dict[str, Counts] = {}
        cache = self.handle.cache
        for key in list(cache.affinity_pods):
            cached = cache.pods.get(key)
            if cached is None or cached.node not in cache.nodes:
                continue
            for kind, weight, term in _terms_of(cached.pod):
                if not term_matches(term, cached.pod.metadata.namespace, pod):
                    continue
                domain = self._domain(cached.node, term.topology_key)
                if domain is None:
                    continue
                if kind == "anti":
                    _bump(anti, term.topology_key, domain, 1)
                else:
                    _bump(scores, term.topology_key, domain, weight)
        return anti, scores


def _bump(table: dict[str, Counts], key: str, domain: str, by: int) -> None:
    counts = table.setdefault(key, {})
    counts[domain] = counts.get(domain, 0) + by


def _terms_of(pod: Pod) -> Iterable[tuple[str, int, PodAffinityTerm]]:
    """An existing pod's terms: ("anti", 0, t) for required anti-affinity, ("score", w, t)."""
    a = pod.spec.affinity
    if a is None:
        return
    if a.pod_anti_affinity is not None:
        for t in a.pod_anti_affinity.required_during_scheduling_ignored_during_execution:
            yield "anti", 0, t
        for w in a.pod_anti_affinity.preferred_during_scheduling_ignored_during_execution:
            yield "score", -w.weight, w.pod_affinity_term
    if a.pod_affinity is not None:
        for t in a.pod_affinity.required_during_scheduling_ignored_during_execution:
            yield "score", HARD_POD_AFFINITY_WEIGHT, t
        for w in a.pod_affinity.preferred_during_scheduling_ignored_during_execution:
            yield "score", w.weight, w.pod_affinity_term


PLUGIN = InterPodAffinity
