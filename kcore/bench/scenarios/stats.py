"""`kcore bench stats`: one stats sampling pass over real Docker containers (`sleep`, host
network) with the kubelet's cgroup sampler (Cython kernel, and its Python reference reader),
beside the Docker engine's stats API for the same containers (one one-shot request per
container, as a collector asking the engine would). Figures are microseconds per container
from the median pass. The containers come from benchmarks/test_stats_bench.py's starter and
are removed at cleanup, by label, whatever happens.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kcore.bench.harness import Context, Unavailable
from kcore.bench.results import Series, result
from kcore.bench.scenarios.pod_startup import _docker_ok, _no_leftovers
from kcore.bench.workloads import driver


def _median_pass(fn: Callable[[], object], rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _sampler_pass_us(bench: Any, ids: list[str], *, kernel: bool, rounds: int) -> float:
    sampler = bench.Sampler(bench.detect("/sys/fs/cgroup"), kernel=kernel)
    for cid in ids:
        sampler.track(cid)
    sampler.sample()
    if len(sampler.containers()) != len(ids):
        raise RuntimeError(f"sampler sees {len(sampler.containers())} of {len(ids)} containers")
    per_pass = _median_pass(sampler.sample, rounds)
    for cid in ids:
        sampler.untrack(cid)
    return per_pass * 1e6 / len(ids)


def run(ctx: Context) -> None:
    _docker_ok()
    try:
        bench: Any = driver("test_stats_bench", "the kubelet stats workload")
    except ImportError as exc:
        raise Unavailable(f"kubelet stats not available: {exc}") from exc
    label = "=".join(next(iter(bench.LABEL.items())))
    ctx.cleanup.callback("stats containers", lambda: _no_leftovers([label]))
    count = 30 if ctx.quick else bench.REAL
    client = bench.docker.from_env()
    ctx.cleanup.callback("docker client", client.close)
    with (
        ctx.phase(f"start {count} containers", total=count) as phase,
        ThreadPoolExecutor(8) as pool,
    ):
        containers = []
        for ctr in pool.map(lambda _: bench._start(client), range(count)):
            containers.append(ctr)
            phase.advance()
    ids = [c.id for c in containers]
    rounds = 10 if ctx.quick else 50
    with ctx.phase("sampler passes"):
        kernel = _sampler_pass_us(bench, ids, kernel=True, rounds=rounds)
        reference = _sampler_pass_us(bench, ids, kernel=False, rounds=rounds)
    api = client.api
    with ctx.phase("Docker stats API passes"):
        docker_pass = _median_pass(
            lambda: [api.stats(cid, stream=False, one_shot=True) for cid in ids], 3
        )
    docker_us = docker_pass * 1e6 / len(ids)
    metric = f"stats pass per container ({count} containers)"
    for peer, value in (("Docker stats API (one-shot)", docker_us), ("Python reader", reference)):
        ctx.add(result(scenario="stats", metric=metric, unit="us/container", kcore=kernel,
                       peer=peer, peer_value=value, higher_is_better=False))  # fmt: skip
    ctx.plot(Series(name="stats-pass", kind="bar", title=f"stats pass, {count} containers",
                    xlabel="collector", ylabel="us per container (lower is better)",
                    groups=["per container"],
                    bars={"kcore kernel": [kernel], "kcore Python reader": [reference],
                          "Docker stats API": [docker_us]}))  # fmt: skip
