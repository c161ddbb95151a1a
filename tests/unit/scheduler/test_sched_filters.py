"""Filter semantics on hand-built tables, checked on the kernel, the reference and the loop."""

import numpy as np
import pytest

from kcore.scheduler import kernels
from kcore.scheduler.loop import loop_schedule
from kcore.scheduler.query import (
    PodRequirements,
    Profile,
    Requirement,
    SpreadConstraint,
    Toleration,
    TopologyTerm,
    compile_profile,
    compile_query,
)
from kcore.scheduler.reference import reference_schedule
from kcore.scheduler.table import NodeTable

ZONE = "topology.kubernetes.io/zone"
ALLOC = {"cpu": 4000, "memory": 8 << 30, "pods": 10}


def feasible(table: NodeTable, pod: PodRequirements) -> list[str]:
    """Names of the nodes that pass every filter, asserting kernel == reference == loop."""
    profile = compile_profile(table, Profile())
    query = compile_query(table, pod)
    got = kernels.schedule(table, query, profile, scores=True, lowest=True)
    _, fails, scores = reference_schedule(table.arrays(), query, profile, lowest=True, state=[0])
    assert got.scores is not None
    np.testing.assert_array_equal(got.scores, scores)
    np.testing.assert_array_equal(got.fails, fails)
    _, loop_fails, totals = loop_schedule(table.arrays(), query, profile, lowest=True, state=[0])
    assert loop_fails == fails.tolist()
    assert totals == {i: s for i, s in enumerate(scores.tolist()) if s >= 0}
    return [table.names[i] for i in np.flatnonzero(got.scores >= 0)]


def nodes(*specs: dict[str, object]) -> NodeTable:
    table = NodeTable()
    for i, spec in enumerate(specs):
        table.add_node(f"n{i}", allocatable=ALLOC, **spec)  # type: ignore[arg-type]
    return table


def test_tolerations_match_like_kubernetes() -> None:
    table = nodes(
        {"taints": [("k", "v", "NoSchedule")]},
        {"taints": [("k", "w", "NoExecute")]},
        {"taints": [("k", "v", "PreferNoSchedule")]},
        {},
    )
    assert feasible(table, PodRequirements()) == ["n2", "n3"]
    assert feasible(table, PodRequirements(tolerations=[Toleration(operator="Exists")])) == [
        "n0",
        "n1",
        "n2",
        "n3",
    ]
    equal = Toleration("k", "Equal", "v")
    assert feasible(table, PodRequirements(tolerations=[equal])) == ["n0", "n2", "n3"]
    by_effect = Toleration("k", "Exists", effect="NoExecute")
    assert feasible(table, PodRequirements(tolerations=[by_effect])) == ["n1", "n2", "n3"]


def test_unschedulable_node_passes_only_with_the_unschedulable_toleration() -> None:
    table = nodes({"unschedulable": True}, {})
    assert feasible(table, PodRequirements()) == ["n1"]
    tol = Toleration("node.kubernetes.io/unschedulable", "Exists", effect="NoSchedule")
    assert feasible(table, PodRequirements(tolerations=[tol])) == ["n0", "n1"]


@pytest.mark.parametrize(
    ("requirement", "want"),
    [
        (Requirement("tier", "In", ("5", "x")), ["n0", "n2"]),
        (Requirement("tier", "NotIn", ("5",)), ["n1", "n2", "n3"]),
        (Requirement("tier", "Exists"), ["n0", "n1", "n2"]),
        (Requirement("tier", "DoesNotExist"), ["n3"]),
        (Requirement("tier", "Gt", ("4",)), ["n0"]),
        (Requirement("tier", "Lt", ("4",)), ["n1"]),
        (Requirement("tier", "In", ("never-seen",)), []),
    ],
)
def test_node_affinity_operators(requirement: Requirement, want: list[str]) -> None:
    table = nodes(
        {"labels": {"tier": "5"}},
        {"labels": {"tier": "-3"}},
        {"labels": {"tier": "x"}},
        {"labels": {}},
    )
    assert feasible(table, PodRequirements(required_terms=[[requirement]])) == want


def test_required_terms_are_ored_and_node_selector_anded() -> None:
    table = nodes(
        {"labels": {"a": "1", ZONE: "z1"}},
        {"labels": {"b": "1", ZONE: "z2"}},
        {"labels": {"b": "1", ZONE: "z1"}},
    )
    terms = [[Requirement("a", "Exists")], [Requirement("b", "Exists")]]
    assert feasible(table, PodRequirements(required_terms=terms)) == ["n0", "n1", "n2"]
    pod = PodRequirements(required_terms=terms, node_selector={ZONE: "z1"})
    assert feasible(table, pod) == ["n0", "n2"]
    assert feasible(table, PodRequirements(required_terms=[[]])) == []  # empty term: none


def test_host_ports_conflict_by_ip_protocol_and_port() -> None:
    table = nodes({}, {}, {})
    table.add_pod("a", "n0", requests={}, host_ports=[("127.0.0.1", "TCP", 8080)])
    table.add_pod("b", "n1", requests={}, host_ports=[("", "TCP", 8080)])
    want = PodRequirements(host_ports=[("127.0.0.2", "TCP", 8080)])
    assert feasible(table, want) == ["n0", "n2"]
    assert feasible(table, PodRequirements(host_ports=[("", "TCP", 8080)])) == ["n2"]
    assert feasible(table, PodRequirements(host_ports=[("", "UDP", 8080)])) == ["n0", "n1", "n2"]
    table.remove_pod("b")
    assert feasible(table, want) == ["n0", "n1", "n2"]


def test_node_name_and_failure_message() -> None:
    table = nodes({}, {}, {"unschedulable": True})
    table.add_node("small", allocatable={"cpu": 100, "memory": 1 << 30, "pods": 1})
    table.add_pod("p", "small", requests={})
    assert feasible(table, PodRequirements(node_name="n1")) == ["n1"]
    assert feasible(table, PodRequirements(node_name="gone")) == []
    query = compile_query(table, PodRequirements(requests={"cpu": 3000}, node_name="small"))
    got = kernels.schedule(table, query, compile_profile(table, Profile()))
    assert got.index == -1
    message = kernels.failure_message(got.fails, table.resources, len(table))
    assert message == (
        "0/4 nodes are available: 1 Insufficient cpu, 1 Too many pods, "
        "1 node(s) were unschedulable, 2 node(s) didn't match the requested node name."
    )


def test_topology_spread_max_skew() -> None:
    table = nodes({"labels": {ZONE: "a"}}, {"labels": {ZONE: "b"}}, {"labels": {ZONE: "c"}}, {})
    spread = SpreadConstraint(ZONE, max_skew=1, counts={"a": 2, "b": 1, "c": 1})
    # count + 1 - min(1) <= 1 holds for b and c only; n3 lacks the zone label.
    assert feasible(table, PodRequirements(spread=[spread])) == ["n1", "n2"]
    fewer = SpreadConstraint(ZONE, max_skew=2, counts={"a": 2, "b": 1}, min_domains=3)
    # Fewer eligible domains than minDomains: the global minimum counts as 0.
    assert feasible(table, PodRequirements(spread=[fewer])) == ["n1", "n2"]


def test_inter_pod_affinity_and_anti_affinity() -> None:
    table = nodes({"labels": {ZONE: "a"}}, {"labels": {ZONE: "b"}}, {"labels": {ZONE: "c"}}, {})
    affinity = TopologyTerm(ZONE, {"a": 3})
    assert feasible(table, PodRequirements(pod_affinity=[affinity])) == ["n0"]
    nobody = TopologyTerm(ZONE, {})
    assert feasible(table, PodRequirements(pod_affinity=[nobody])) == []
    first = PodRequirements(pod_affinity=[nobody], affinity_bootstrap=True)
    assert feasible(table, first) == ["n0", "n1", "n2"]  # n3 lacks the topology key
    anti = TopologyTerm(ZONE, {"b": 1})
    assert feasible(table, PodRequirements(pod_anti_affinity=[anti])) == ["n0", "n2", "n3"]
    existing = PodRequirements(existing_anti_affinity=[TopologyTerm(ZONE, {"c": 2})])
    assert feasible(table, existing) == ["n0", "n1", "n3"]


def test_preferred_inter_pod_affinity_scores_min_max() -> None:
    table = nodes({"labels": {ZONE: "a"}}, {"labels": {ZONE: "b"}}, {"labels": {ZONE: "c"}})
    pod = PodRequirements(preferred_pod_affinity=[TopologyTerm(ZONE, {"a": 30, "b": -10})])
    profile = compile_profile(
        table,
        Profile(
            fit_weight=0,
            balanced_weight=0,
            taint_weight=0,
            node_affinity_weight=0,
            interpod_weight=1,
        ),
    )
    got = kernels.schedule(table, compile_query(table, pod), profile, scores=True)
    assert got.scores is not None
    # (s - min) / (max - min) * 100: a -> 100, b -> 0, c -> int(100 * 10 / 40) = 25.
    assert got.scores.tolist() == [100, 0, 25]
