"""NodeTable bookkeeping and the place()/place_many() library entry points."""

import random

import numpy as np
import pytest

from kcore.scheduler import (
    NodeTable,
    PodRequirements,
    Requirement,
    TopologyTerm,
    Unschedulable,
    kernels,
    place,
    place_many,
)
from kcore.scheduler.clustergen import random_cluster, random_pod, random_profile
from kcore.scheduler.query import Profile, compile_profile, compile_query
from kcore.scheduler.reference import reference_schedule
from kcore.scheduler.table import DEFAULT_MEMORY_REQUEST, division_magic, parse_int64

ALLOC = {"cpu": 4000, "memory": 8 << 30, "pods": 10}


def test_pods_update_requested_and_nonzero_incrementally() -> None:
    table = NodeTable()
    table.add_node("n0", allocatable=ALLOC)
    table.add_pod("a", "n0", requests={"cpu": 500, "example.com/gpu": 1})
    table.add_pod("b", "n0", requests={"memory": 1 << 20})
    i = table.index_of("n0")
    gpu = table.resources.index("example.com/gpu")
    assert table.arrays().requested[i, [0, 1, 2, gpu]].tolist() == [500, 1 << 20, 2, 1]
    assert table.arrays().nonzero[i].tolist() == [600, DEFAULT_MEMORY_REQUEST + (1 << 20)]
    table.remove_pod("a")
    table.remove_pod("b")
    assert not table.arrays().requested[i].any() and not table.arrays().nonzero[i].any()


def test_remove_node_moves_the_last_row_and_drops_its_pods() -> None:
    table = NodeTable(capacity=2)
    for i in range(5):
        table.add_node(
            f"n{i}",
            allocatable={**ALLOC, "cpu": 1000 * (i + 1)},
            labels={"idx": str(i)},
            taints=[(f"t{i}", "", "NoSchedule")],
        )
        table.add_pod(f"p{i}", f"n{i}", requests={"cpu": 10 * i})
    table.remove_node("n1")
    assert table.names == ["n0", "n4", "n2", "n3"]
    assert table.index_of("n4") == 1
    assert table.arrays().alloc[1, 0] == 5000 and table.arrays().requested[1, 0] == 40
    assert table.node_labels("n4") == {"idx": "4"}
    assert table.pods_on("n4") == {"p4"}
    with pytest.raises(KeyError):
        table.remove_pod("p1")
    pod = PodRequirements(required_terms=[[Requirement("idx", "Gt", ("3",))]], tolerations=[])
    assert (
        kernels.schedule(table, compile_query(table, pod), compile_profile(table, Profile())).index
        == -1
    )


def test_update_node_replaces_labels_and_taints_but_keeps_pods() -> None:
    table = NodeTable()
    table.add_node("n0", allocatable=ALLOC, labels={"zone": "a"}, taints=[("x", "", "NoSchedule")])
    table.add_pod("p", "n0", requests={"cpu": 100})
    table.update_node("n0", allocatable=ALLOC, labels={"zone": "b"})
    assert place(table, PodRequirements(node_selector={"zone": "b"})) == "n0"
    with pytest.raises(Unschedulable):
        place(table, PodRequirements(node_selector={"zone": "a"}))
    assert table.arrays().requested[0, 0] == 100


def test_wide_vocabularies_still_agree_with_the_reference() -> None:
    table = NodeTable()
    rng = random.Random(4)
    for i in range(40):
        labels = {f"key{rng.randrange(50)}": f"v{rng.randrange(3)}" for _ in range(8)}
        taints = [(f"t{rng.randrange(80)}", "", "PreferNoSchedule") for _ in range(3)]
        table.add_node(f"n{i}", allocatable=ALLOC, labels=labels, taints=taints)
    assert table.label_width >= 3 and table.taints.shape[1] >= 2
    profile = compile_profile(table, Profile())
    for j in range(20):
        pod = PodRequirements(
            required_terms=[[Requirement(f"key{rng.randrange(50)}", "In", ("v0", "v1"))]]
        )
        query = compile_query(table, pod)
        got = kernels.schedule(table, query, profile, scores=True)
        _, _, scores = reference_schedule(table.arrays(), query, profile, lowest=False, state=[0])
        assert got.scores is not None
        np.testing.assert_array_equal(got.scores, scores, err_msg=str(j))


def test_a_query_from_an_older_layout_is_refused() -> None:
    table = random_cluster(1, 5)
    query = compile_query(table, PodRequirements())
    table.add_node("late", allocatable=ALLOC)
    with pytest.raises(ValueError, match="layout"):
        kernels.schedule(table, query, compile_profile(table, Profile()))


def test_place_accounts_pods_until_the_cluster_is_full() -> None:
    table = NodeTable()
    table.add_node("a", allocatable={"cpu": 1000, "memory": 1 << 30, "pods": 110})
    table.add_node("b", allocatable={"cpu": 2000, "memory": 1 << 30, "pods": 110})
    pod = PodRequirements(requests={"cpu": 500})
    placed = [place(table, pod, key=f"web-{i}") for i in range(6)]
    assert sorted(placed) == ["a", "a", "b", "b", "b", "b"]
    with pytest.raises(Unschedulable) as err:
        place(table, pod)
    assert str(err.value) == "0/2 nodes are available: 2 Insufficient cpu."


def test_place_many_runs_the_batch_kernel_and_accounts_pods() -> None:
    table = random_cluster(11, 30)
    pod = random_pod(random.Random(5), table, interpod=False)
    names = place_many(table.clone(), pod, 40, rng=kernels.Rng(7))
    again = table.clone()
    profile = compile_profile(again, Profile())
    rows, _ = kernels.place_batch(again, compile_query(again, pod), profile, 40, rng=kernels.Rng(7))
    assert names == [again.names[r] if r >= 0 else None for r in rows.tolist()]
    keyed = table.clone()
    placed = place_many(keyed, pod, 40, key_prefix="rs")
    assert sum(len(keyed.pods_on(n)) for n in keyed.names) == sum(
        len(table.pods_on(n)) for n in table.names
    ) + sum(p is not None for p in placed)


def test_random_profiles_compile_on_any_cluster() -> None:
    for seed in range(10):
        rng = random.Random(seed)
        table = random_cluster(seed, 10)
        compiled = compile_profile(table, random_profile(rng))
        assert len(compiled.fit_res) == len(compiled.fit_weight)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("12", 12),
        ("-3", -3),
        ("+7", 7),
        ("1_0", None),
        (" 1", None),
        ("x", None),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
    ],
)
def test_parse_int64_follows_go(text: str, want: int | None) -> None:
    assert parse_int64(text) == want


def test_a_new_topology_domain_invalidates_compiled_queries() -> None:
    table = NodeTable()
    table.add_node("n0", allocatable=ALLOC, labels={"zone": "a"})
    pod = PodRequirements(pod_anti_affinity=[TopologyTerm("zone", {"a": 1})])
    query = compile_query(table, pod)
    table.update_node("n0", allocatable=ALLOC, labels={"zone": "b"})
    with pytest.raises(ValueError, match="layout"):
        kernels.schedule(table, query, compile_profile(table, Profile()))
    assert (
        kernels.schedule(table, compile_query(table, pod), compile_profile(table, Profile())).index
        == 0
    )


def test_an_empty_table_places_nothing() -> None:
    table = NodeTable()
    with pytest.raises(Unschedulable) as err:
        place(table, PodRequirements(requests={"cpu": 1}))
    assert str(err.value) == "0/0 nodes are available:"
    assert place_many(table, PodRequirements(), 3) == [None, None, None]


def test_least_allocated_spreads_replicas_evenly_and_most_allocated_packs_them() -> None:
    def cluster() -> NodeTable:
        table = NodeTable()
        for i in range(10):
            table.add_node(f"n{i}", allocatable={"cpu": 4000, "memory": 8 << 30, "pods": 110})
        return table

    pod = PodRequirements(requests={"cpu": 100, "memory": 128 << 20})
    spread = cluster()
    for i in range(100):
        place(spread, pod, key=f"web-{i}", rng=kernels.Rng(i))
    assert sorted(len(spread.pods_on(n)) for n in spread.names) == [10] * 10
    packed = cluster()
    profile = Profile(strategy="MostAllocated", balanced_weight=0)
    for i in range(45):
        place(packed, pod, profile=profile, key=f"batch-{i}", rng=kernels.Rng(i))
    assert sorted(len(packed.pods_on(n)) for n in packed.names)[-2:] == [5, 40]


def test_division_magic_is_exact_for_every_63_bit_numerator() -> None:
    rng = random.Random(12)
    divisors = [1, 2, 3, 7, 100, 2**32 - 1, 2**32 + 1, 2**62, 2**63 - 1]
    divisors += [rng.randrange(1, 2**63) for _ in range(300)]
    for d in divisors:
        magic, shift = division_magic(d)
        assert 0 < magic < 2**64
        for n in [0, 1, d - 1, d, d + 1, 100 * d - 1, 2**63 - 1, rng.randrange(2**63)]:
            if 0 <= n < 2**63:
                assert (n * magic) >> shift == n // d, (n, d)
    assert division_magic(0) == (0, 0)
