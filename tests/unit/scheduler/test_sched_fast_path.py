"""The kernel's branch-free filter pass (pods with no nodeName, selector, required affinity,
inter-pod or spread terms) equals the NumPy reference: scores, failure counts and choice."""

import dataclasses
import random

import numpy as np
import pytest

from kcore.scheduler import kernels
from kcore.scheduler.clustergen import random_cluster, random_pod, random_profile
from kcore.scheduler.query import (
    CompiledProfile,
    PodRequirements,
    Profile,
    Query,
    compile_profile,
    compile_query,
)
from kcore.scheduler.reference import reference_schedule
from kcore.scheduler.table import NodeTable


def fast_pod(rng: random.Random, table: NodeTable) -> PodRequirements:
    """A random pod stripped of everything the fast path leaves to the per-node filter."""
    pod = random_pod(rng, table, interpod=False)
    return dataclasses.replace(pod, node_name=None, node_selector={}, required_terms=None)


def assert_as_reference(
    table: NodeTable, query: Query, profile: CompiledProfile, seed: int, lowest: bool, where: str
) -> None:
    """The kernel's scores, failure counts and choice equal the reference's (same draws)."""
    got = kernels.schedule(table, query, profile, rng=kernels.Rng(seed), lowest=lowest, scores=True)
    index, fails, scores = reference_schedule(
        table.arrays(), query, profile, lowest=lowest, state=[seed]
    )
    assert got.scores is not None
    np.testing.assert_array_equal(got.scores, scores, err_msg=where)
    np.testing.assert_array_equal(got.fails, fails, err_msg=where)
    assert got.index == index, where


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [1, 7, 300, 2000])
def test_fast_path_equals_reference(seed: int, n: int) -> None:
    rng = random.Random(seed * 7919 + n)
    table = random_cluster(seed, n)
    profile = compile_profile(table, random_profile(rng))
    for j in range(8):
        query = compile_query(table, fast_pod(rng, table))
        assert_as_reference(table, query, profile, j, rng.random() < 0.5, f"{seed}/{n}/{j}")


EDGE_ALLOCATABLE = [0, 1, 3, 7, 100, 999, 4_000, 1 << 33, (1 << 50) + 3, (1 << 56) - 5]


@pytest.mark.parametrize("seed", range(4))
def test_default_profile_columns_exact_at_the_edges(seed: int) -> None:
    """The default profile's vectorised LeastAllocated (a reciprocal estimate corrected in
    integers) and BalancedAllocation columns equal the reference on allocatables of 0, 1,
    odd and huge sizes, with requests at, just below and over them and quotients that are
    exact integers (where a floating estimate could land either side)."""
    rng = random.Random(seed)
    table = NodeTable()
    for i in range(400):
        cpu, mem = rng.choice(EDGE_ALLOCATABLE), rng.choice(EDGE_ALLOCATABLE)
        table.add_node(f"n{i}", allocatable={"cpu": cpu, "memory": mem, "pods": 1000})
        used = [rng.choice([0, a, max(0, a - 1), a + 1, a // 2, a // 100 * 3]) for a in (cpu, mem)]
        table.add_pod(f"p{i}", f"n{i}", requests={"cpu": used[0], "memory": used[1]})
    profile = compile_profile(table, Profile())
    for j in range(6):
        requests = {"cpu": rng.choice([0, 1, 100, 250]), "memory": rng.choice([0, 1, 1 << 20])}
        query = compile_query(table, PodRequirements(requests=requests))
        got = kernels.schedule(table, query, profile, rng=kernels.Rng(j), scores=True)
        index, fails, scores = reference_schedule(
            table.arrays(), query, profile, lowest=False, state=[j]
        )
        assert got.scores is not None
        np.testing.assert_array_equal(got.scores, scores, err_msg=f"seed={seed} pod={j}")
        np.testing.assert_array_equal(got.fails, fails)
        assert got.index == index


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("n", [1, 5, 513, 3000])
def test_whole_column_decisions_equal_reference(seed: int, n: int) -> None:
    """Under the default profile a fast-path pod is decided in node-indexed columns (totals
    with -1 for infeasible nodes, ties counted and the winning tie located): same scores,
    failure counts and choice as the reference, ties drawn alike, `lowest` or not."""
    rng = random.Random(seed * 104729 + n)
    table = random_cluster(seed, n)
    profile = compile_profile(table, Profile())
    for j in range(10):
        query = compile_query(table, fast_pod(rng, table))
        assert_as_reference(table, query, profile, j, j % 3 == 0, f"{seed}/{n}/{j}")


def test_whole_column_ties_draw_like_the_reference() -> None:
    """Identical nodes: every feasible node ties, so the choice is the tie-break alone."""
    table = NodeTable()
    for i in range(700):
        table.add_node(f"n{i}", allocatable={"cpu": 4000, "memory": 8 << 30, "pods": 110})
    profile = compile_profile(table, Profile())
    query = compile_query(table, PodRequirements(requests={"cpu": 100}))
    chosen = set()
    for j in range(40):
        got = kernels.schedule(table, query, profile, rng=kernels.Rng(j))
        index, _, _ = reference_schedule(table.arrays(), query, profile, lowest=False, state=[j])
        assert got.index == index
        chosen.add(got.index)
    assert len(chosen) > 20  # ties really are drawn among, not always the first
