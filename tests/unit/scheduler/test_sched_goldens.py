"""Golden scores from kube-scheduler's own plugin unit tests (and worked examples).

The LeastAllocated, MostAllocated and BalancedAllocation tables reproduce cases from
pkg/scheduler/framework/plugins/noderesources/*_test.go: the same node capacities, existing
pods and pod requests, and the scores Kubernetes expects. A pod with no containers has
non-zero requests (0, 0); a container without requests counts 100m / 200Mi.
"""

from collections.abc import Sequence

import pytest

from kcore.scheduler import kernels
from kcore.scheduler.query import (
    PodRequirements,
    Profile,
    Requirement,
    Toleration,
    compile_profile,
    compile_query,
)
from kcore.scheduler.reference import fit_score
from kcore.scheduler.table import NodeTable, nonzero_requests

GPU = "example.com/gpu"
MI = 1024 * 1024
Containers = Sequence[dict[str, int]]
FIT_ONLY = {
    "balanced_weight": 0,
    "taint_weight": 0,
    "node_affinity_weight": 0,
    "interpod_weight": 0,
}
BALANCED_ONLY = {**FIT_ONLY, "fit_weight": 0, "balanced_weight": 1}


def pod_of(containers: Containers, **kwargs: object) -> PodRequirements:
    requests: dict[str, int] = {}
    for c in containers:
        for name, value in c.items():
            requests[name] = requests.get(name, 0) + value
    return PodRequirements(requests=requests, nonzero=nonzero_requests(containers), **kwargs)  # type: ignore[arg-type]


def build(
    nodes: Sequence[dict[str, int]],
    existing: Sequence[tuple[int, Containers]],
    labels: Sequence[dict[str, str]] | None = None,
    taints: Sequence[Sequence[tuple[str, str, str]]] | None = None,
) -> NodeTable:
    table = NodeTable()
    for i, alloc in enumerate(nodes):
        table.add_node(
            f"node{i + 1}",
            allocatable={"pods": 110, **alloc},
            labels=labels[i] if labels else None,
            taints=taints[i] if taints else (),
        )
    for j, (node, containers) in enumerate(existing):
        p = pod_of(containers)
        table.add_pod(f"p{j}", f"node{node}", requests=p.requests, nonzero=p.nonzero)
    return table


def scores(
    nodes: Sequence[dict[str, int]],
    existing: Sequence[tuple[int, Containers]],
    pod: PodRequirements,
    profile: Profile,
    labels: Sequence[dict[str, str]] | None = None,
    taints: Sequence[Sequence[tuple[str, str, str]]] | None = None,
) -> list[int]:
    """Total scores from the kernel (-1 for nodes the filters reject)."""
    table = build(nodes, existing, labels, taints)
    got = kernels.schedule(
        table, compile_query(table, pod), compile_profile(table, profile), scores=True
    )
    assert got.scores is not None
    return got.scores.tolist()


SMALL = {"cpu": 4000, "memory": 10000}
BIG = {"cpu": 10000, "memory": 20000}
TWO_CONTAINERS = [{"cpu": 1000, "memory": 2000}, {"cpu": 2000, "memory": 3000}]
CPU_ONLY = [{"cpu": 3000, "memory": 0}]
CPU_AND_MEMORY = [{"cpu": 3000, "memory": 5000}]
EXT = (("cpu", 1), ("memory", 1), (GPU, 1))
SCORE_ONLY = {"requested resources exceed node capacity"}

LEAST = [
    ("nothing scheduled, nothing requested", [SMALL, SMALL], [], [], None, [100, 100]),
    (
        "nothing scheduled, resources requested, differently sized nodes",
        [SMALL, {"cpu": 6000, "memory": 10000}],
        [],
        TWO_CONTAINERS,
        None,
        [37, 50],
    ),
    (
        "no resources requested, pods scheduled",
        [SMALL, SMALL],
        [(1, []), (1, []), (2, []), (2, [])],
        [],
        None,
        [100, 100],
    ),
    (
        "no resources requested, pods scheduled with resources",
        [BIG, BIG],
        [(1, CPU_ONLY), (1, CPU_ONLY), (2, CPU_ONLY), (2, CPU_AND_MEMORY)],
        [],
        None,
        [70, 57],
    ),
    (
        "resources requested, pods scheduled with resources",
        [BIG, BIG],
        [(1, CPU_ONLY), (2, CPU_AND_MEMORY)],
        TWO_CONTAINERS,
        None,
        [57, 45],
    ),
    (
        "resources requested, pods scheduled with resources, differently sized nodes",
        [BIG, {"cpu": 10000, "memory": 50000}],
        [(1, CPU_ONLY), (2, CPU_AND_MEMORY)],
        TWO_CONTAINERS,
        None,
        [57, 60],
    ),
    (
        "requested resources exceed node capacity",
        [SMALL, SMALL],
        [(1, CPU_ONLY), (2, CPU_AND_MEMORY)],
        CPU_ONLY,
        None,
        [50, 25],
    ),
    (
        "zero node resources, pods scheduled with resources",
        [{}, {}],
        [(1, []), (2, [])],
        [],
        None,
        [0, 0],
    ),
    (
        "different weight on CPU and memory",
        [SMALL, {"cpu": 6000, "memory": 10000}],
        [],
        TWO_CONTAINERS,
        (("memory", 2), ("cpu", 1)),
        [41, 50],
    ),
    (
        "bypass extended resource if the pod does not request",
        [{"cpu": 6000, "memory": 10000}, {"cpu": 6000, "memory": 10000, GPU: 4}],
        [],
        TWO_CONTAINERS,
        EXT,
        [50, 50],
    ),
    (
        "honor extended resource if the pod requests",
        [{"cpu": 6000, "memory": 10000, GPU: 4}, {"cpu": 6000, "memory": 10000, GPU: 10}],
        [],
        [{"cpu": 3000, "memory": 5000, GPU: 2}],
        EXT,
        [50, 60],
    ),
]

MOST = [
    ("nothing scheduled, nothing requested", [SMALL, SMALL], [], [], None, [0, 0]),
    (
        "nothing scheduled, resources requested, differently sized nodes",
        [SMALL, {"cpu": 6000, "memory": 10000}],
        [],
        TWO_CONTAINERS,
        None,
        [62, 50],
    ),
    (
        "no resources requested, pods scheduled with resources",
        [BIG, BIG],
        [(1, CPU_ONLY), (1, CPU_ONLY), (2, CPU_ONLY), (2, CPU_AND_MEMORY)],
        [],
        None,
        [30, 42],
    ),
    (
        "resources requested, pods scheduled with resources",
        [BIG, BIG],
        [(1, CPU_ONLY), (2, CPU_AND_MEMORY)],
        TWO_CONTAINERS,
        None,
        [42, 55],
    ),
    (
        "resources requested equal node capacity",
        [{"cpu": 5000, "memory": 10000}, {"cpu": 10000, "memory": 9000}],
        [],
        [{"cpu": 2000, "memory": 4000}, {"cpu": 3000, "memory": 5000}],
        None,
        [95, 75],
    ),
    (
        "different weight on CPU and memory",
        [SMALL, {"cpu": 6000, "memory": 10000}],
        [],
        TWO_CONTAINERS,
        (("memory", 2), ("cpu", 1)),
        [58, 50],
    ),
    (
        "no resources requested, pods scheduled, nonzero request for resource",
        [{"cpu": 250, "memory": 1000 * MI}] * 2,
        [(1, [{}]), (1, [{}])],
        [{}],
        None,
        [80, 30],
    ),
    (
        "honor extended resource if the pod request",
        [{"cpu": 6000, "memory": 10000, GPU: 4}, {"cpu": 6000, "memory": 10000, GPU: 10}],
        [],
        [{"cpu": 3000, "memory": 5000, GPU: 2}],
        EXT,
        [50, 40],
    ),
    (
        "if the node doesn't have a resource",
        [{"cpu": 6000, "memory": 10000}, {"cpu": 6000, "memory": 10000, GPU: 4}],
        [],
        [{"cpu": 3000, "memory": 4000}],
        ((GPU, 2), ("cpu", 1), ("memory", 1)),
        [45, 45],
    ),
]


def _fit_case(strategy: str, case: tuple) -> None:  # type: ignore[type-arg]
    _name, nodes, existing, containers, resources, want = case
    kwargs = {"fit_resources": resources} if resources else {}
    profile = Profile(strategy=strategy, **FIT_ONLY, **kwargs)  # type: ignore[arg-type]
    pod = pod_of(containers)
    if _name in SCORE_ONLY:
        # Kubernetes scores these nodes although NodeResourcesFit would filter them out;
        # the kernel never scores infeasible nodes, so the reference's plugin score is used.
        table = build(nodes, existing)
        compiled = compile_profile(table, profile)
        got = fit_score(table.arrays(), compile_query(table, pod), compiled).tolist()
        assert got == want
        assert scores(nodes, existing, pod, profile) == [-1] * len(nodes)
        return
    assert scores(nodes, existing, pod, profile) == want


@pytest.mark.parametrize("case", LEAST, ids=[c[0] for c in LEAST])
def test_least_allocated(case: tuple) -> None:  # type: ignore[type-arg]
    _fit_case("LeastAllocated", case)


@pytest.mark.parametrize("case", MOST, ids=[c[0] for c in MOST])
def test_most_allocated(case: tuple) -> None:  # type: ignore[type-arg]
    _fit_case("MostAllocated", case)


BAL_NODES_1 = [{"cpu": 4000, "memory": 10000}, {"cpu": 6000, "memory": 10000}]
GPU_NODE = {"cpu": 3500, "memory": 40000, GPU: 8}
BALANCED = [
    (
        "nothing scheduled, resources requested, differently sized nodes",
        BAL_NODES_1,
        [],
        CPU_AND_MEMORY,
        ("cpu", "memory"),
        [87, 100],
    ),
    (
        "resources requested, pods scheduled with resources",
        [BIG, BIG],
        [(1, CPU_ONLY), (2, CPU_AND_MEMORY)],
        CPU_AND_MEMORY,
        ("cpu", "memory"),
        [82, 95],
    ),
    (
        "resources requested, pods scheduled with resources, differently sized nodes",
        [BIG, {"cpu": 10000, "memory": 50000}],
        [(1, CPU_ONLY), (2, CPU_AND_MEMORY)],
        CPU_AND_MEMORY,
        ("cpu", "memory"),
        [82, 80],
    ),
    (
        "requested resources at node capacity",
        [{"cpu": 6000, "memory": 10000}] * 2,
        [(1, CPU_ONLY), (2, CPU_AND_MEMORY)],
        CPU_ONLY,
        ("cpu", "memory"),
        [50, 75],
    ),
    (
        "include scalar resource on a node for balanced resource allocation",
        [GPU_NODE] * 2,
        [
            (2, CPU_AND_MEMORY),
            (1, [{"cpu": 1000, "memory": 2000}, {"cpu": 2000, "memory": 3000, GPU: 3}]),
        ],
        [{"memory": 0, GPU: 1}],
        ("cpu", "memory", GPU),
        [70, 65],
    ),
    (
        "node without the scalar resource should skip the scalar resource",
        [GPU_NODE, {"cpu": 3500, "memory": 40000}],
        [],
        CPU_AND_MEMORY,
        ("cpu", "memory", GPU),
        [63, 63],
    ),
]


@pytest.mark.parametrize("case", BALANCED, ids=[c[0] for c in BALANCED])
def test_balanced_allocation(case: tuple) -> None:  # type: ignore[type-arg]
    _name, nodes, existing, containers, resources, want = case
    profile = Profile(balanced_resources=resources, **BALANCED_ONLY)  # type: ignore[arg-type]
    assert scores(nodes, existing, pod_of(containers), profile) == want


def test_requested_to_capacity_ratio_default_shape() -> None:
    # node1: cpu util 3000*100/4000 = 75 -> 100 + (0-100)*75/100 = 25; memory 50 -> 50;
    # round((25 + 50) / 2) = 38. node2: cpu 50 -> 50, memory 50 -> 50 -> 50.
    profile = Profile(strategy="RequestedToCapacityRatio", **FIT_ONLY)  # type: ignore[arg-type]
    assert scores(BAL_NODES_1, [], pod_of(TWO_CONTAINERS), profile) == [38, 50]
    assert scores([SMALL, SMALL], [], pod_of([]), profile) == [100, 100]


def test_requested_to_capacity_ratio_truncates_like_go() -> None:
    # shape (0,3) (40,9) (100,2) scaled x10; util 77: 90 + (20-90)*(77-40)/(100-40)
    # = 90 + (-2590 / 60); Go truncates to -43 (flooring would give -44) -> 47.
    profile = Profile(
        strategy="RequestedToCapacityRatio",
        fit_resources=(("cpu", 1),),
        shape=((0, 3), (40, 9), (100, 2)),
        **FIT_ONLY,
    )  # type: ignore[arg-type]
    assert scores([{"cpu": 100, "memory": 1}], [], pod_of([{"cpu": 77}]), profile) == [47]


TAINT_ONLY = {**FIT_ONLY, "fit_weight": 0, "taint_weight": 1}


@pytest.mark.parametrize(
    ("tolerations", "taints", "want"),
    [
        # Nodes with taints the pod tolerates score as high as untainted ones.
        (
            [Toleration("foo", "Equal", "bar", "PreferNoSchedule")],
            [[], [("foo", "bar", "PreferNoSchedule")], [("foo", "blah", "PreferNoSchedule")]],
            [100, 100, 0],
        ),
        # The more intolerable PreferNoSchedule taints, the lower: 100 - 100*count/max.
        (
            [Toleration("foo", "Equal", "bar", "PreferNoSchedule")],
            [
                [],
                [("cpu-type", "arm64", "PreferNoSchedule")],
                [
                    ("cpu-type", "arm64", "PreferNoSchedule"),
                    ("disk-type", "ssd", "PreferNoSchedule"),
                ],
            ],
            [100, 50, 0],
        ),
        # Only PreferNoSchedule taints count toward the score.
        (
            [Toleration("cpu-type", "Equal", "arm64", "NoSchedule")],
            [
                [],
                [("cpu-type", "arm64", "NoSchedule")],
                [("cpu-type", "arm64", "PreferNoSchedule")],
            ],
            [100, 100, 0],
        ),
    ],
)
def test_taint_toleration_score(
    tolerations: list[Toleration], taints: list[list[tuple[str, str, str]]], want: list[int]
) -> None:
    profile = Profile(**TAINT_ONLY)  # type: ignore[arg-type]
    pod = pod_of([], tolerations=tolerations)
    assert scores([SMALL] * 3, [], pod, profile, taints=taints) == want


def test_node_affinity_preferred_score() -> None:
    # Weights 2 (foo=bar), 4 (key=value), 5 (az in [az1]); raw sums 2, 6, 11, 0 are
    # normalized by the max: 100*2/11 = 18, 100*6/11 = 54, 100, 0.
    preferred = [
        (2, [Requirement("foo", "In", ("bar",))]),
        (4, [Requirement("key", "In", ("value",))]),
        (5, [Requirement("az", "In", ("az1",))]),
    ]
    labels = [
        {"foo": "bar"},
        {"foo": "bar", "key": "value"},
        {"foo": "bar", "key": "value", "az": "az1"},
        {},
    ]
    profile = Profile(**{**FIT_ONLY, "fit_weight": 0, "node_affinity_weight": 1})  # type: ignore[arg-type]
    pod = pod_of([], preferred_terms=preferred)
    assert scores([SMALL] * 4, [], pod, profile, labels=labels) == [18, 54, 100, 0]


def test_default_profile_weights_combine_plugins() -> None:
    # node1: least (25+50)/2=37, balanced 1-|.75-.5|/2 -> 87, no taints -> 100*3.
    # node2: least 50, balanced 100, one intolerable PreferNoSchedule taint -> 0*3.
    got = scores(
        BAL_NODES_1,
        [],
        pod_of(CPU_AND_MEMORY),
        Profile(),
        taints=[[], [("spot", "", "PreferNoSchedule")]],
    )
    assert got == [37 + 87 + 300, 50 + 100 + 0]
