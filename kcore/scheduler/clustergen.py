"""Seeded random clusters and pods, shared by the scheduler's tests and benchmarks.

Everything derives from one `random.Random(seed)`, so a failing test prints its seed and the
same cluster comes back. Clusters mix node sizes, zones, integer and non-integer labels,
taints of every effect, cordoned nodes, extended resources and pods already placed (some with
host ports); pods mix requests (some missing, for the non-zero defaults), selectors, every
affinity operator, tolerations, host ports and inter-pod / spread counts per domain.
"""

import random
from collections.abc import Sequence

from kcore.scheduler.query import (
    Operator,
    PodRequirements,
    Profile,
    Requirement,
    SpreadConstraint,
    Toleration,
    TopologyTerm,
)
from kcore.scheduler.table import NodeTable, Taint

GI = 1024**3
OPERATORS: tuple[Operator, ...] = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
ZONES = tuple(f"zone-{i}" for i in range(5))
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
GPU = "example.com/gpu"
TAINTS: tuple[Taint, ...] = (
    ("dedicated", "infra", "NoSchedule"),
    ("dedicated", "batch", "NoSchedule"),
    ("spot", "true", "PreferNoSchedule"),
    ("slow-disk", "", "PreferNoSchedule"),
    ("maintenance", "soon", "NoExecute"),
    ("gpu", "true", "PreferNoSchedule"),
)
PORTS = (("", "TCP", 80), ("127.0.0.1", "TCP", 8080), ("", "UDP", 53), ("127.0.0.2", "TCP", 8080))


def random_labels(rng: random.Random, name: str) -> dict[str, str]:
    labels = {HOSTNAME: name}
    if rng.random() < 0.95:
        labels[ZONE] = rng.choice(ZONES)
    if rng.random() < 0.7:
        labels["tier"] = rng.choice(["1", "5", "10", "-3", "x", "20"])
    for k in range(6):
        if rng.random() < 0.3:
            labels[f"k{k}"] = f"v{rng.randrange(4)}"
    return labels


def random_node(rng: random.Random, name: str) -> dict[str, object]:
    allocatable = {
        "cpu": rng.choice([1000, 2000, 4000, 8000, 16000]),
        "memory": rng.choice([2, 4, 8, 16, 64]) * GI,
        "pods": rng.choice([1, 2, 16, 110]),
    }
    if rng.random() < 0.5:
        allocatable["ephemeral-storage"] = rng.choice([10, 100]) * GI
    if rng.random() < 0.2:
        allocatable[GPU] = rng.randrange(1, 5)
    return {
        "allocatable": allocatable,
        "labels": random_labels(rng, name),
        "taints": rng.sample(TAINTS, rng.choice([0, 0, 0, 1, 2])),
        "unschedulable": rng.random() < 0.05,
    }


def random_requests(rng: random.Random, scale: float = 1.0) -> dict[str, int]:
    requests: dict[str, int] = {}
    if rng.random() < 0.8:
        requests["cpu"] = int(rng.choice([0, 50, 100, 250, 500, 1000, 3000]) * scale)
    if rng.random() < 0.8:
        requests["memory"] = int(rng.choice([0, 64, 256, 1024, 4096]) * scale) * 1024 * 1024
    if rng.random() < 0.1:
        requests["ephemeral-storage"] = rng.choice([1, 5]) * GI
    if rng.random() < 0.1:
        requests[GPU] = rng.randrange(1, 3)
    return requests


def random_cluster(seed: int, nodes: int, pods_per_node: int = 3) -> NodeTable:
    rng = random.Random(seed)
    table = NodeTable(capacity=nodes)
    for i in range(nodes):
        name = f"node-{i}"
        spec = random_node(rng, name)
        table.add_node(name, **spec)  # type: ignore[arg-type]
        for j in range(rng.randrange(pods_per_node + 1)):
            ports = [rng.choice(PORTS)] if rng.random() < 0.1 else []
            table.add_pod(
                f"{name}/p{j}", name, requests=random_requests(rng, 0.5), host_ports=ports
            )
    return table


def random_requirement(rng: random.Random) -> Requirement:
    op: Operator = rng.choice(OPERATORS)
    if op in ("Gt", "Lt"):
        return Requirement("tier", op, (str(rng.choice([-5, 0, 4, 10, 30])),))
    key = rng.choice([ZONE, "k0", "k1", "k2", "missing"])
    if op in ("Exists", "DoesNotExist"):
        return Requirement(key, op)
    if key == ZONE:
        return Requirement(key, op, tuple(rng.sample(ZONES, rng.randrange(1, 4))))
    return Requirement(key, op, tuple(f"v{v}" for v in rng.sample(range(5), 2)))


def random_terms(rng: random.Random, count: int) -> list[list[Requirement]]:
    return [[random_requirement(rng) for _ in range(rng.randrange(0, 3))] for _ in range(count)]


def random_toleration(rng: random.Random) -> Toleration:
    key, value, effect = rng.choice(TAINTS)
    choice = rng.random()
    if choice < 0.1:
        return Toleration(operator="Exists")
    if choice < 0.4:
        return Toleration(key=key, operator="Exists", effect=rng.choice(["", effect]))
    if choice < 0.5:
        return Toleration(
            key="node.kubernetes.io/unschedulable", operator="Exists", effect="NoSchedule"
        )
    return Toleration(key=key, value=rng.choice([value, "other"]), effect=rng.choice(["", effect]))


def random_counts(rng: random.Random, domains: Sequence[str]) -> dict[str, int]:
    return {d: rng.choice([0, 0, 1, 2, 5]) for d in domains if rng.random() < 0.9}


def random_topology_term(rng: random.Random, table: NodeTable, score: bool) -> TopologyTerm:
    key = rng.choice([ZONE, ZONE, HOSTNAME])
    domains = ZONES if key == ZONE else rng.sample(table.names, min(len(table), 20))
    counts = random_counts(rng, domains)
    if score:
        counts = {d: c * rng.choice([-7, 3, 10]) for d, c in counts.items()}
    return TopologyTerm(key, counts)


def random_spread(rng: random.Random) -> SpreadConstraint:
    counts = {z: rng.randrange(0, 6) for z in ZONES if rng.random() < 0.9}
    return SpreadConstraint(
        ZONE, rng.randrange(1, 4), counts, rng.random() < 0.8, rng.choice([1, 1, 6])
    )


def random_pod(
    rng: random.Random, table: NodeTable, *, interpod: bool = True, ports: bool = True
) -> PodRequirements:
    """A random pod; `interpod=False` leaves out inter-pod and spread terms (batchable)."""
    r = rng.random
    return PodRequirements(
        requests=random_requests(rng),
        node_name=rng.choice([*table.names, "absent"]) if r() < 0.05 else None,
        node_selector={ZONE: rng.choice(ZONES)} if r() < 0.2 else {},
        required_terms=random_terms(rng, rng.randrange(1, 3)) if r() < 0.4 else None,
        preferred_terms=[(rng.randrange(0, 100), t) for t in random_terms(rng, 2)]
        if r() < 0.5
        else (),
        tolerations=[random_toleration(rng) for _ in range(rng.randrange(4))],
        host_ports=[rng.choice(PORTS)] if ports and r() < 0.15 else (),
        pod_affinity=[random_topology_term(rng, table, False)] if interpod and r() < 0.2 else (),
        pod_anti_affinity=[random_topology_term(rng, table, False)]
        if interpod and r() < 0.2
        else (),
        existing_anti_affinity=[random_topology_term(rng, table, False)]
        if interpod and r() < 0.1
        else (),
        affinity_bootstrap=r() < 0.3,
        preferred_pod_affinity=[random_topology_term(rng, table, True) for _ in range(2)]
        if interpod and r() < 0.3
        else (),
        spread=[random_spread(rng)] if interpod and r() < 0.2 else (),
    )


def random_profile(rng: random.Random) -> Profile:
    strategy = rng.choice(["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"])
    resources: tuple[tuple[str, int], ...] = (
        ("cpu", rng.randrange(1, 4)),
        ("memory", rng.randrange(1, 4)),
    )
    if rng.random() < 0.4:
        resources += ((GPU, rng.randrange(1, 4)), ("ephemeral-storage", 1))
    shape = rng.choice([((0, 10), (100, 0)), ((0, 0), (100, 10)), ((0, 3), (40, 9), (100, 2))])
    balanced = ("cpu", "memory") if rng.random() < 0.6 else ("cpu", "memory", GPU, "pods")
    return Profile(
        strategy=strategy,  # type: ignore[arg-type]
        fit_resources=resources,
        shape=shape,
        balanced_resources=balanced,
        interpod_weight=rng.choice([0, 2]),
        skip_balanced_for_best_effort=rng.random() < 0.5,
    )


def typical_pod() -> PodRequirements:
    """A web-server-like pod for benchmarks: requests, a toleration, a preferred zone."""
    return PodRequirements(
        requests={"cpu": 250, "memory": 256 * 1024 * 1024},
        tolerations=[Toleration(key="spot", operator="Exists")],
        preferred_terms=[(10, [Requirement(ZONE, "In", (ZONES[0], ZONES[1]))])],
    )
