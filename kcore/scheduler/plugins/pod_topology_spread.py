"""PodTopologySpread: DoNotSchedule constraints as a kernel filter from per-domain counts.

For each constraint, pre_filter counts the pods in the pod's namespace that the constraint's
selector matches, per domain of its topology key, over the eligible nodes: those carrying
every constraint's key and (nodeAffinityPolicy Honor, the default) matching the pod's
nodeSelector and required node affinity. Every eligible domain is listed, zeros included, so
the kernel's global minimum is right: a node passes when
`count[domain] + selfMatch - min <= maxSkew`. ScheduleAnyway constraints score in Python
(`score_nodes`), beside the kernel's totals, for the pods that have them.
"""

from __future__ import annotations

import math

from kcore.api.core import Pod, TopologySpreadConstraint
from kcore.api.labels import Operator, Selector, from_label_selector, new_requirement, nothing
from kcore.scheduler import adapter
from kcore.scheduler.framework.interface import CycleState, KernelPlugin
from kcore.scheduler.framework.status import Result, Status
from kcore.scheduler.query import MAX_NODE_SCORE, Requirement, SpreadConstraint

NAME = "PodTopologySpread"


def _requirement_holds(r: Requirement, labels: dict[str, str]) -> bool:
    value = labels.get(r.key)
    if r.operator == "In":
        return value is not None and value in r.values
    if r.operator == "NotIn":
        return value is None or value not in r.values
    if r.operator == "Exists":
        return value is not None
    if r.operator == "DoesNotExist":
        return value is None
    number = adapter_int(value)
    limit = adapter_int(r.values[0]) if len(r.values) == 1 else None
    if number is None or limit is None:
        return False
    return number > limit if r.operator == "Gt" else number < limit


def adapter_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def node_matches(pod: Pod, labels: dict[str, str]) -> bool:
    """nodeSelector and required node affinity against a node's labels."""
    if any(labels.get(k) != v for k, v in pod.spec.node_selector.items()):
        return False
    required, _ = adapter.node_affinity(pod)
    if required is None:
        return True
    return any(term and all(_requirement_holds(r, labels) for r in term) for term in required)


def _selector(pod: Pod, c: TopologySpreadConstraint) -> Selector:
    if c.label_selector is None:
        return nothing()
    selector = from_label_selector(c.label_selector)
    for key in c.match_label_keys:
        if key in pod.metadata.labels:
            value = pod.metadata.labels[key]
            selector = selector.add(new_requirement(key, Operator.EQUALS, [value]))
    return selector


class PodTopologySpread(KernelPlugin):
    NAME = NAME
    PYTHON_SCORE = True

    def pre_filter(self, state: CycleState, pod: Pod) -> Result:
        hard = [
            c
            for c in pod.spec.topology_spread_constraints
            if c.when_unsatisfiable in ("", "DoNotSchedule")
        ]
        if not hard or not self.filter_enabled:
            return None
        try:
            state.requirements["spread"] = self._constraints(pod, hard)
        except ValueError as exc:
            return Status.unschedulable(str(exc), resolvable=False)
        return None

    def _eligible(
        self, pod: Pod, hard: list[TopologySpreadConstraint]
    ) -> dict[str, dict[str, str]]:
        cache = self.handle.cache
        out = {}
        for name in cache.nodes:
            labels = cache.table.node_labels(name)
            if not all(c.topology_key in labels for c in hard):
                continue
            honor = any(c.node_affinity_policy in (None, "", "Honor") for c in hard)
            if honor and not node_matches(pod, labels):
                continue
            out[name] = labels
        return out

    def _counts(
        self, pod: Pod, constraints: list[TopologySpreadConstraint]
    ) -> tuple[dict[str, dict[str, str]], list[Selector], list[dict[str, int]]]:
        """Eligible nodes (name -> labels), selectors, and matching pods per domain."""
        eligible = self._eligible(pod, constraints)
        selectors = [_selector(pod, c) for c in constraints]
        counts: list[dict[str, int]] = [
            {labels[c.topology_key]: 0 for labels in eligible.values()} for c in constraints
        ]
        for other, node in self.handle.cache.placed():
            labels = eligible.get(node)
            if labels is None or other.metadata.namespace != pod.metadata.namespace:
                continue
            if other.metadata.deletion_timestamp:
                continue
            for i, c in enumerate(constraints):
                if selectors[i].matches(other.metadata.labels):
                    counts[i][labels[c.topology_key]] += 1
        return eligible, selectors, counts

    def _constraints(
        self, pod: Pod, hard: list[TopologySpreadConstraint]
    ) -> list[SpreadConstraint]:
        _, selectors, counts = self._counts(pod, hard)
        return [
            SpreadConstraint(
                topology_key=c.topology_key,
                max_skew=max(1, c.max_skew),
                counts=counts[i],
                self_match=selectors[i].matches(pod.metadata.labels),
                min_domains=c.min_domains or 1,
            )
            for i, c in enumerate(hard)
        ]

    def score_nodes(self, state: CycleState, pod: Pod) -> dict[str, int] | None:
        """ScheduleAnyway constraints: fewer matching pods in a node's domains score higher.

        Per node, raw = sum over constraints of count[domain] * log(domains + 2) + maxSkew - 1
        (rounded); normalized as `100 * (max + min - raw) // max` (100 everywhere when max is
        0); nodes lacking a constraint's key (or failing the pod's node affinity) score 0.
        None when the pod has no ScheduleAnyway constraint (the kernel alone then decides).
        """
        soft = [
            c
            for c in pod.spec.topology_spread_constraints
            if c.when_unsatisfiable == "ScheduleAnyway"
        ]
        if not soft:
            return None
        eligible, _, counts = self._counts(pod, soft)
        weights = [math.log(len(counts[i]) + 2) for i in range(len(soft))]
        raw = {
            node: round(
                sum(
                    counts[i][labels[c.topology_key]] * weights[i] + max(1, c.max_skew) - 1
                    for i, c in enumerate(soft)
                )
            )
            for node, labels in eligible.items()
        }
        top, low = max(raw.values(), default=0), min(raw.values(), default=0)
        out = dict.fromkeys(self.handle.cache.nodes, 0)
        for node, value in raw.items():
            out[node] = MAX_NODE_SCORE if top == 0 else MAX_NODE_SCORE * (top + low - value) // top
        return out


PLUGIN = PodTopologySpread
