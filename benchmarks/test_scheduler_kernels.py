"""Scheduler kernel benchmarks: decisions/s and batch placements/s, beside the baselines.

* One decision = filter and score every node for one pod and pick the best (a web-server
  pod with requests, a toleration and a preferred zone) on seeded clusters of 1,000, 5,000 and
  15,000 nodes (kcore.scheduler.clustergen), through the Cython kernel, the NumPy reference
  and the per-node Python loop. Goal: >= 50,000 decisions/s at 5,000 nodes for the kernel.
* Batch: 100,000 identical small pods placed on 5,000 nodes in one place_batch call.
  Goal: >= 1,000,000 placements/s.

Run with `pytest benchmarks/test_scheduler_kernels.py --benchmark-only`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import SUMMARY

from kcore.scheduler import kernels
from kcore.scheduler.clustergen import random_cluster, typical_pod
from kcore.scheduler.loop import loop_schedule
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

SIZES = [1_000, 5_000, 15_000]
BATCH_PODS = 100_000
Case = tuple[NodeTable, Query, CompiledProfile]


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n}_nodes")
def cluster(request: pytest.FixtureRequest) -> Case:
    table = random_cluster(seed=request.param, nodes=request.param)
    profile = compile_profile(table, Profile())
    return table, compile_query(table, typical_pod()), profile


def _record(benchmark: Any, name: str, per_call: float, unit: str) -> None:
    """Rates from the median call: the machine is shared, so the mean carries others' load."""
    rate = per_call / benchmark.stats.stats.median
    benchmark.extra_info[unit] = round(rate)
    SUMMARY[name] = {
        unit: f"{rate:,.0f}",
        "mean_based": f"{per_call / benchmark.stats.stats.mean:,.0f}",
    }


def _decide(
    benchmark: Any, cluster: Case, name: str, run: Callable[[], object], rounds: int
) -> None:
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)
    _record(benchmark, f"{name}[{len(cluster[0])} nodes]", 1.0, "decisions_per_s")


def test_kernel_decisions(benchmark: Any, cluster: Case) -> None:
    table, query, profile = cluster
    rng = kernels.Rng(1)
    assert kernels.schedule(table, query, profile, rng=rng).index >= 0
    _decide(
        benchmark, cluster, "kernel", lambda: kernels.schedule(table, query, profile, rng=rng), 2000
    )


def test_numpy_reference_decisions(benchmark: Any, cluster: Case) -> None:
    table, query, profile = cluster
    state = [1]
    _decide(
        benchmark,
        cluster,
        "numpy reference",
        lambda: reference_schedule(table.arrays(), query, profile, lowest=False, state=state),
        30,
    )


def test_python_loop_decisions(benchmark: Any, cluster: Case) -> None:
    table, query, profile = cluster
    state = [1]
    _decide(
        benchmark,
        cluster,
        "python loop",
        lambda: loop_schedule(table.arrays(), query, profile, lowest=False, state=state),
        3,
    )


def test_batch_placements(benchmark: Any) -> None:
    table = random_cluster(seed=5_000, nodes=5_000)
    profile = compile_profile(table, Profile())
    query = compile_query(table, PodRequirements(requests={"cpu": 10, "memory": 16 << 20}))
    rows, _ = kernels.place_batch(table, query, profile, BATCH_PODS)
    assert (rows >= 0).sum() > BATCH_PODS // 2
    benchmark.pedantic(
        lambda: kernels.place_batch(table, query, profile, BATCH_PODS),
        rounds=10,
        iterations=1,
        warmup_rounds=1,
    )
    _record(benchmark, "batch[5000 nodes, 100000 pods]", BATCH_PODS, "placements_per_s")
