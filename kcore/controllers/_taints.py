"""Node placement rules the node controllers share: taints, tolerations, node selectors.

Kubernetes keeps these in `k8s.io/component-helpers` (`TolerationsTolerateTaint`,
`MatchNodeSelectorTerms`) because the scheduler, the DaemonSet controller and the taint
manager must agree on them; controllers may not import the scheduler here, so this module is
that shared helper for kcore's controllers: small pure functions over api Structs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kcore.api.core import Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_EXECUTE = "NoExecute"
NO_SCHEDULE = "NoSchedule"


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Kubernetes' Toleration.ToleratesTaint: effect, key and (for Equal) value match."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator == "Exists":
        return True
    if toleration.operator in ("", "Equal"):
        return toleration.value == taint.value
    return False


def tolerated(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def untolerated(
    tolerations: Sequence[Toleration], taints: Iterable[Taint], effects: Sequence[str]
) -> list[Taint]:
    """The taints with one of `effects` that no toleration covers."""
    return [t for t in taints if t.effect in effects and not tolerated(tolerations, t)]


def toleration_seconds(tolerations: Sequence[Toleration], taints: Sequence[Taint]) -> float | None:
    """How long a pod may stay on a node with these NoExecute taints (all tolerated).

    The minimum tolerationSeconds over the tolerations that match some taint; None means
    forever (no matching toleration sets a limit); a negative limit means zero.
    """
    limits = [
        max(t.toleration_seconds, 0)
        for taint in taints
        for t in tolerations
        if tolerates(t, taint) and t.toleration_seconds is not None
    ]
    return float(min(limits)) if limits else None


def has_taint(taints: Iterable[Taint], key: str, effect: str) -> bool:
    return any(t.key == key and t.effect == effect for t in taints)


# -- node selection ----------------------------------------------------------------------------


def matches_node_selector(pod: Pod, node: Node) -> bool:
    """spec.nodeSelector and the required node affinity both accept the node."""
    labels = node.metadata.labels
    if any(labels.get(k) != v for k, v in pod.spec.node_selector.items()):
        return False
    affinity = pod.spec.affinity
    node_affinity = affinity.node_affinity if affinity is not None else None
    required = (
        node_affinity.required_during_scheduling_ignored_during_execution
        if node_affinity is not None
        else None
    )
    if required is None:
        return True
    return any(term_matches(term, node) for term in required.node_selector_terms)


def term_matches(term: NodeSelectorTerm, node: Node) -> bool:
    """A term matches when all its expressions (labels) and fields (metadata.name) do; an
    empty term matches nothing, as in Kubernetes."""
    if not term.match_expressions and not term.match_fields:
        return False
    labels = node.metadata.labels
    fields = {"metadata.name": node.metadata.name}
    return all(requirement_matches(r, labels) for r in term.match_expressions) and all(
        requirement_matches(r, fields) for r in term.match_fields
    )


def requirement_matches(req: NodeSelectorRequirement, values: dict[str, str]) -> bool:
    have = values.get(req.key)
    match req.operator:
        case "In":
            return have is not None and have in req.values
        case "NotIn":
            return have is None or have not in req.values
        case "Exists":
            return have is not None
        case "DoesNotExist":
            return have is None
        case "Gt" | "Lt":
            return _compare(req, have)
    return False


def _compare(req: NodeSelectorRequirement, have: str | None) -> bool:
    if have is None or len(req.values) != 1:
        return False
    try:
        left, right = int(have), int(req.values[0])
    except ValueError:
        return False
    return left > right if req.operator == "Gt" else left < right


def target_node_of(pod: Pod) -> str:
    """The node a pod is bound to, or the one its matchFields metadata.name pins it to."""
    if pod.spec.node_name:
        return pod.spec.node_name
    affinity = pod.spec.affinity
    node_affinity = affinity.node_affinity if affinity is not None else None
    required = (
        node_affinity.required_during_scheduling_ignored_during_execution
        if node_affinity is not None
        else None
    )
    for term in required.node_selector_terms if required is not None else []:
        for req in term.match_fields:
            if req.key == "metadata.name" and req.operator == "In" and len(req.values) == 1:
                return req.values[0]
    return ""
