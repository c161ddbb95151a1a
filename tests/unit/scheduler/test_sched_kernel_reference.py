"""Cython kernel vs NumPy reference vs per-node Python loop, bit for bit, on seeded clusters.

Every case prints its seed on failure; rerun one with `-k "seed_NNN"`.
"""

import random

import numpy as np
import pytest

from kcore.scheduler import kernels
from kcore.scheduler.clustergen import random_cluster, random_pod, random_profile
from kcore.scheduler.loop import loop_schedule
from kcore.scheduler.query import PodRequirements, Profile, compile_profile, compile_query
from kcore.scheduler.reference import reference_schedule

SIZES = [1, 2, 3, 7, 30, 150, 600]


def _case(seed: int) -> tuple[random.Random, int]:
    rng = random.Random(seed)
    return rng, rng.choice(SIZES)


@pytest.mark.parametrize("seed", range(60), ids=lambda s: f"seed_{s}")
def test_kernel_equals_reference(seed: int) -> None:
    rng, n = _case(seed)
    table = random_cluster(seed, n)
    profile = compile_profile(table, random_profile(rng))
    for j in range(6):
        query = compile_query(table, random_pod(rng, table))
        lowest = rng.random() < 0.5
        got = kernels.schedule(
            table, query, profile, rng=kernels.Rng(seed + j), lowest=lowest, scores=True
        )
        state = [seed + j]
        index, fails, scores = reference_schedule(
            table.arrays(), query, profile, lowest=lowest, state=state
        )
        where = f"seed={seed} pod={j} nodes={n}"
        assert got.scores is not None
        np.testing.assert_array_equal(got.scores, scores, err_msg=where)
        np.testing.assert_array_equal(got.fails, fails, err_msg=where)
        assert got.index == index, where


@pytest.mark.parametrize("seed", [1000, 1001])
def test_kernel_equals_reference_on_5000_nodes(seed: int) -> None:
    rng = random.Random(seed)
    table = random_cluster(seed, 5000)
    profile = compile_profile(table, random_profile(rng))
    for j in range(3):
        query = compile_query(table, random_pod(rng, table))
        got = kernels.schedule(table, query, profile, rng=kernels.Rng(j), scores=True)
        index, fails, scores = reference_schedule(
            table.arrays(), query, profile, lowest=False, state=[j]
        )
        assert got.scores is not None
        np.testing.assert_array_equal(got.scores, scores, err_msg=f"seed={seed} pod={j}")
        np.testing.assert_array_equal(got.fails, fails, err_msg=f"seed={seed} pod={j}")
        assert got.index == index, f"seed={seed} pod={j}"


@pytest.mark.parametrize("seed", range(2000, 2025), ids=lambda s: f"seed_{s}")
def test_python_loop_equals_kernel(seed: int) -> None:
    rng, n = _case(seed)
    table = random_cluster(seed, min(n, 150))
    profile = compile_profile(table, random_profile(rng))
    for j in range(4):
        query = compile_query(table, random_pod(rng, table))
        got = kernels.schedule(table, query, profile, rng=kernels.Rng(j), scores=True)
        index, fails, totals = loop_schedule(
            table.arrays(), query, profile, lowest=False, state=[j]
        )
        assert got.scores is not None
        feasible = {i: int(s) for i, s in enumerate(got.scores.tolist()) if s >= 0}
        assert (got.index, got.fails.tolist(), feasible) == (index, fails, totals), seed


def test_random_cases_exercise_every_filter_and_tie_breaking() -> None:
    """Guards the generator: the comparisons above must see each failure kind and ties."""
    seen = np.zeros(kernels.FAIL_RESOURCE_BASE + 6, np.int64)
    ties = chosen = 0
    for seed in range(40):
        rng = random.Random(seed)
        table = random_cluster(seed, 200)
        profile = compile_profile(table, random_profile(rng))
        for _ in range(6):
            got = kernels.schedule(
                table, compile_query(table, random_pod(rng, table)), profile, scores=True
            )
            seen[: len(got.fails)] += got.fails[: len(seen)]
            if got.index >= 0 and got.scores is not None:
                chosen += 1
                ties += int((got.scores == got.scores.max()).sum() > 1)
    assert (seen[:5] > 0).all() and (seen[6:10] > 0).all(), seen
    assert (seen[10:15] > 0).all(), seen  # cpu, memory, pods, ephemeral-storage, gpu
    assert chosen > 50 and ties > 10


def test_random_tie_breaking_is_seeded_and_spreads_over_tied_nodes() -> None:
    table = random_cluster(7, 0)
    for i in range(8):
        table.add_node(f"n{i}", allocatable={"cpu": 1000, "memory": 1 << 30, "pods": 10})
    profile = compile_profile(table, random_profile(random.Random(1)))
    query = compile_query(table, PodRequirements(requests={"cpu": 100}))
    rng = kernels.Rng(42)
    picks = [kernels.schedule(table, query, profile, rng=rng).index for _ in range(400)]
    again = kernels.Rng(42)
    assert picks == [kernels.schedule(table, query, profile, rng=again).index for _ in range(400)]
    counts = np.bincount(picks, minlength=8)
    assert (counts > 20).all(), counts
    assert kernels.schedule(table, query, profile, lowest=True).index == 0


@pytest.mark.parametrize("seed", range(10), ids=lambda s: f"seed_{s}")
def test_huge_quantities_divide_exactly(seed: int) -> None:
    """Allocatable near 2**55 (beyond float64's exact integers) and requests close to it:
    the kernel's float-estimated divisions must still equal Go's integer division."""
    rng = random.Random(seed)
    table = random_cluster(seed, 0)
    for i in range(200):
        alloc = {"cpu": rng.randrange(1, 2**55), "memory": rng.randrange(1, 2**55), "pods": 9}
        table.add_node(f"n{i}", allocatable=alloc)
        used = {k: rng.randrange(0, v) for k, v in alloc.items() if k != "pods"}
        table.add_pod(f"p{i}", f"n{i}", requests=used, nonzero=(used["cpu"], used["memory"]))
    for strategy in ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"):
        profile = compile_profile(
            table, Profile(strategy=strategy, fit_resources=(("cpu", 3), ("memory", 7)))
        )
        pod = PodRequirements(requests={"cpu": rng.randrange(2**40), "memory": 1})
        query = compile_query(table, pod)
        got = kernels.schedule(table, query, profile, scores=True, lowest=True)
        _, _, scores = reference_schedule(table.arrays(), query, profile, lowest=True, state=[0])
        assert got.scores is not None
        np.testing.assert_array_equal(got.scores, scores, err_msg=f"seed={seed} {strategy}")
