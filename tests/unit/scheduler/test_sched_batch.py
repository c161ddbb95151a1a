"""The batch kernel places K identical pods exactly as K single-pod decisions would."""

import random

import pytest

from kcore.scheduler import kernels
from kcore.scheduler.clustergen import random_cluster, random_pod, random_profile
from kcore.scheduler.query import (
    PodRequirements,
    Profile,
    TopologyTerm,
    compile_profile,
    compile_query,
)
from kcore.scheduler.table import NodeTable


def one_by_one(table: NodeTable, pod: PodRequirements, profile: Profile, count: int) -> list[int]:
    table = table.clone()
    out = []
    for j in range(count):
        compiled = compile_profile(table, profile)  # may add a resource column: first
        index = kernels.schedule(table, compile_query(table, pod), compiled, lowest=True).index
        out.append(index)
        if index >= 0:
            table.add_pod(
                f"batch-{j}",
                table.names[index],
                requests=pod.requests,
                nonzero=pod.nonzero_request(),
                host_ports=pod.host_ports,
            )
    return out


def batch(table: NodeTable, pod: PodRequirements, profile: Profile, count: int) -> list[int]:
    compiled = compile_profile(table, profile)
    rows, _ = kernels.place_batch(table, compile_query(table, pod), compiled, count, lowest=True)
    return rows.tolist()


@pytest.mark.parametrize("seed", range(40), ids=lambda s: f"seed_{s}")
def test_batch_equals_sequential(seed: int) -> None:
    rng = random.Random(seed)
    table = random_cluster(seed, rng.choice([1, 3, 10, 60, 250]))
    profile = random_profile(rng)
    pod = random_pod(rng, table, interpod=False)
    count = rng.choice([1, 7, 60, 300])
    assert batch(table, pod, profile, count) == one_by_one(table, pod, profile, count), seed


def test_batch_renormalizes_when_the_most_tainted_node_fills_up() -> None:
    # node0 holds the only two PreferNoSchedule taints (normalized 0 while it is feasible);
    # once it is full, the max count drops to 1 and node1's normalized score changes.
    table = NodeTable()
    taints = [
        [("a", "", "PreferNoSchedule"), ("b", "", "PreferNoSchedule")],
        [("a", "", "PreferNoSchedule")],
        [],
    ]
    for i, t in enumerate(taints):
        table.add_node(
            f"node{i}", allocatable={"cpu": 1000 * (3 - i), "memory": 1 << 30, "pods": 4}, taints=t
        )
    pod = PodRequirements(requests={"cpu": 200})
    want = one_by_one(table, pod, Profile(), 14)
    assert batch(table, pod, Profile(), 14) == want
    assert want.count(-1) == 2 and set(want) == {-1, 0, 1, 2}


def test_batch_with_host_ports_puts_one_pod_per_node() -> None:
    table = random_cluster(5, 0)
    for i in range(4):
        table.add_node(f"n{i}", allocatable={"cpu": 8000, "memory": 8 << 30, "pods": 50})
    pod = PodRequirements(requests={"cpu": 100}, host_ports=[("", "TCP", 8080)])
    assert sorted(batch(table, pod, Profile(), 6)) == [-1, -1, 0, 1, 2, 3]


def test_batch_random_ties_are_seeded() -> None:
    table = random_cluster(9, 40)
    pod = PodRequirements(requests={"cpu": 100})
    query = compile_query(table, pod)
    profile = compile_profile(table, Profile())
    first, _ = kernels.place_batch(table, query, profile, 50, rng=kernels.Rng(3))
    second, _ = kernels.place_batch(table, query, profile, 50, rng=kernels.Rng(3))
    assert first.tolist() == second.tolist()


def test_batch_rejects_inter_pod_terms() -> None:
    table = random_cluster(2, 5)
    pod = PodRequirements(pod_anti_affinity=[TopologyTerm("kubernetes.io/hostname", {})])
    with pytest.raises(ValueError, match="inter-pod"):
        kernels.place_batch(table, compile_query(table, pod), compile_profile(table, Profile()), 3)
