"""`kcore bench stats`: one stats sampling pass over real Docker containers (`sleep`, host
network) with the kubelet's cgroup sampler (Cython kernel, and its Python reference reader),
beside the Docker engine's stats API for the same containers (one one-shot request per
container, 25 in flight, as a collector asking the engine would). Figures are microseconds
per container from the median pass: wall time, and CPU (the sampler's own process CPU against
the CPU dockerd, containerd and the shims spend answering). The containers come from
benchmarks/test_stats_bench.py's starter and are removed at cleanup, by label, whatever
happens.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kcore.bench.harness import Context, Unavailable
from kcore.bench.results import Series, result
from kcore.bench.scenarios.pod_startup import _docker_ok, _no_leftovers, labelled_containers
from kcore.bench.workloads import driver


def _median_pass(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(median wall seconds, median process CPU seconds) of one call of `fn`."""
    fn()
    walls, cpus = [], []
    for _ in range(rounds):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def _sampler_pass(bench: Any, ids: list[str], *, kernel: bool, rounds: int) -> tuple[float, float]:
    """(wall us, CPU us) per container of one sampler pass."""
    sampler = bench.Sampler(bench.detect("/sys/fs/cgroup"), kernel=kernel)
    for cid in ids:
        sampler.track(cid)
    sampler.sample()
    if len(sampler.containers()) != len(ids):
        raise RuntimeError(f"sampler sees {len(sampler.containers())} of {len(ids)} containers")
    wall, cpu = _median_pass(sampler.sample, rounds)
    for cid in ids:
        sampler.untrack(cid)
    return wall * 1e6 / len(ids), cpu * 1e6 / len(ids)


def _docker_pass(bench: Any, api: Any, ids: list[str]) -> tuple[float, float]:
    """(wall us, engine CPU us) per container of one-shot stats for every container, 25 in
    flight (the engine answers at its 1 s collection tick, so one at a time would crawl)."""
    walls, engine = [], []
    with ThreadPoolExecutor(25) as pool:
        for _ in range(3):
            e, t = bench._engine_cpu_ns(), time.perf_counter()
            found = list(pool.map(lambda c: api.stats(c, stream=False, one_shot=True), ids))
            walls.append(time.perf_counter() - t)
            engine.append(bench._engine_cpu_ns() - e)
            if not all(f["memory_stats"].get("usage", 0) > 0 for f in found):
                raise RuntimeError("the Docker stats API answered without memory usage")
    n = len(ids)
    return statistics.median(walls) * 1e6 / n, statistics.median(engine) / 1e3 / n


def _remove_labelled(label: str) -> None:
    for cid in labelled_containers(label):
        subprocess.run(["docker", "rm", "-f", "-v", cid], capture_output=True, check=True)


def run(ctx: Context) -> None:
    _docker_ok()
    try:
        bench: Any = driver("test_stats_bench", "the kubelet stats workload")
    except ImportError as exc:
        raise Unavailable(f"kubelet stats not available: {exc}") from exc
    label = "=".join(next(iter(bench.LABEL.items())))
    ctx.cleanup.callback("stats containers left", lambda: _no_leftovers([label]))
    ctx.cleanup.callback("stats containers", lambda: _remove_labelled(label))
    count = 30 if ctx.quick else bench.REAL
    client = bench.docker.from_env()
    ctx.cleanup.callback("docker client", client.close)
    with (
        ctx.phase(f"start {count} containers", total=count) as phase,
        ThreadPoolExecutor(8) as pool,
    ):
        ids = []
        for ctr in pool.map(lambda _: bench._start(client), range(count)):
            ids.append(ctr.id)
            phase.advance()
    rounds = 10 if ctx.quick else 50
    with ctx.phase("sampler passes"):
        kernel = _sampler_pass(bench, ids, kernel=True, rounds=rounds)
        reference = _sampler_pass(bench, ids, kernel=False, rounds=rounds)
    with ctx.phase("Docker stats API passes"):
        docker = _docker_pass(bench, client.api, ids)
    _rows(ctx, count, kernel, reference, docker)


def _rows(ctx: Context, count: int, kernel: Any, reference: Any, docker: Any) -> None:
    per = f"({count} containers)"
    rows = [
        (f"stats pass wall time per container {per}", "Docker stats API, 25 in flight", 0),
        (f"stats pass wall time per container {per}", "Python reader", 0),
        (f"stats CPU per container {per}", "Docker engine CPU (dockerd, containerd, shims)", 1),
        (f"stats CPU per container {per}", "Python reader", 1),
    ]
    for metric, peer, i in rows:
        other = docker if peer.startswith("Docker") else reference
        ctx.add(result(scenario="stats", metric=metric, unit="us/container", kcore=kernel[i],
                       peer=peer, peer_value=other[i], higher_is_better=False))  # fmt: skip
    ctx.plot(Series(name="stats-pass", kind="bar", title=f"stats pass, {count} containers",
                    xlabel="per container", ylabel="microseconds (lower is better)",
                    groups=["wall time", "CPU"],
                    bars={"kcore kernel": list(kernel), "kcore Python reader": list(reference),
                          "Docker stats API": list(docker)}))  # fmt: skip
