"""Stats sampler benchmarks: one sampling pass, per container, beside Docker's own stats API.

* A pass over 100 real Docker containers (`sleep`, host network) with the Cython kernel, the
  Python reference reader, and the kernel with no held descriptors (open/read/close per file
  per pass), and in the same run the Docker engine's stats API for the same 100 containers
  (one-shot stats, one request per container, as a stats collector asking the engine would).
* A pass over synthetic cgroup trees of 2,000 containers (v1 cgroupfs and v2 systemd layouts,
  regular files, so the kernel's cgroup text generation is not in the figure).

A pass is measured whole: queued work, reads, working-set derivation, the history write and
the node's /proc files. The sampler's pass is single-threaded and CPU-bound, so its wall time
is its CPU time; Docker's figure adds the engine's CPU, measured from /proc.

Goal: <= 20 us per container per pass. Figures are per container, from the median pass.
Run with `pytest benchmarks/test_stats_bench.py --benchmark-only`.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest
from figures import record

sys.path.insert(0, str(Path(__file__).parents[1] / "tests/unit/kubelet/stats"))

from stats_cgtree import CgroupTree, Driver, random_figures, write_proc

from kcore.kubelet.stats.layout import NS_PER_TICK, detect
from kcore.kubelet.stats.sampler import Sampler

REAL = 100
SYNTHETIC = 2_000
LABEL = {"io.kcore.test": "stats-bench"}


@pytest.fixture(scope="module")
def real_containers() -> Iterator[list[Any]]:
    client = docker.from_env()
    with ThreadPoolExecutor(8) as pool:
        containers = list(pool.map(lambda _: _start(client), range(REAL)))
    try:
        yield containers
    finally:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda ctr: ctr.remove(force=True), containers))
        client.close()


def _start(client: Any) -> Any:
    return client.containers.run(
        "kcore-test/busybox:1", ["sleep", "3600"], detach=True, network_mode="host", labels=LABEL
    )


def _per_container(benchmark: Any, name: str, count: int, **more: Any) -> None:
    median_us = benchmark.stats.stats.median * 1e6
    record(name, benchmark, {"containers": count, "us_per_container": round(median_us / count, 2),
                             "pass_ms": round(median_us / 1000, 2), **more})  # fmt: skip


@pytest.mark.parametrize(
    ("kernel", "max_open"), [(True, 8192), (False, 8192), (True, 0)],
    ids=["kernel", "reference", "kernel-reopen"],
)  # fmt: skip
def test_pass_over_real_containers(
    benchmark: Any, real_containers: list[Any], kernel: bool, max_open: int
) -> None:
    sampler = Sampler(detect("/sys/fs/cgroup"), kernel=kernel, max_open_files=max_open)
    for ctr in real_containers:
        sampler.track(ctr.id)
    sampler.sample()
    assert len(sampler.containers()) == REAL
    benchmark.pedantic(sampler.sample, rounds=50, iterations=1, warmup_rounds=2)
    assert len(sampler.containers()) == REAL
    for ctr in real_containers:
        sampler.untrack(ctr.id)
    name = {True: "kernel", False: "reference"}[kernel] + ("" if max_open else "-reopen")
    _per_container(benchmark, f"stats pass, {REAL} real containers, {name}", REAL)


def test_docker_stats_api_same_containers(benchmark: Any, real_containers: list[Any]) -> None:
    """One-shot stats for every container, 25 requests in flight (the engine answers a repeated
    one-shot request only at its next 1 s collection tick, so one at a time would take 100 s).
    Beside wall time: the CPU the engine spends (dockerd, containerd and the shims read the
    cgroups for it) and this client's, per container."""
    api = real_containers[0].client.api
    cpu: list[tuple[int, float]] = []

    def all_stats() -> None:
        engine0, client0 = _engine_cpu_ns(), time.process_time()
        with ThreadPoolExecutor(25) as pool:
            found = list(pool.map(lambda c: api.stats(c.id, stream=False, one_shot=True),
                                  real_containers))  # fmt: skip
        cpu.append((_engine_cpu_ns() - engine0, time.process_time() - client0))
        assert all(s["memory_stats"]["usage"] > 0 for s in found)

    benchmark.pedantic(all_stats, rounds=3, iterations=1, warmup_rounds=1)
    engine_ns, client_s = sorted(cpu)[len(cpu) // 2]
    _per_container(
        benchmark, f"docker stats API one-shot, {REAL} real containers", REAL,
        engine_cpu_us_per_container=round(engine_ns / 1000 / REAL, 1),
        client_cpu_us_per_container=round(client_s * 1e6 / REAL, 1),
    )  # fmt: skip


def _engine_cpu_ns() -> int:
    """utime+stime of dockerd, containerd and every containerd-shim, in nanoseconds."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        if comm in ("dockerd", "containerd") or comm.startswith("containerd-shim"):
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) * NS_PER_TICK
    return total


@pytest.fixture(scope="module", params=["v1", "v2-systemd"])
def synthetic(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    driver: Driver = request.param
    base = tmp_path_factory.mktemp(f"synthetic-{driver}")
    tree = CgroupTree(base / "cgroup", driver)
    rng = random.Random(2000)
    ids = [f"{rng.getrandbits(256):064x}" for _ in range(SYNTHETIC)]
    for cid in ids:
        tree.add(cid, random_figures(rng))
    write_proc(base / "proc")
    return tree, base / "proc", ids


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "reference"])
def test_pass_over_synthetic_tree(benchmark: Any, synthetic: Any, kernel: bool) -> None:
    tree, proc, ids = synthetic
    sampler = Sampler(detect(tree.root), proc_root=str(proc), kernel=kernel)
    for cid in ids:
        sampler.track(cid)
    sampler.sample()
    assert len(sampler.containers()) == SYNTHETIC
    benchmark.pedantic(sampler.sample, rounds=10 if kernel else 3, iterations=1, warmup_rounds=1)
    sampler_name = "kernel" if kernel else "reference"
    _per_container(
        benchmark, f"stats pass, {SYNTHETIC} synthetic ({tree.driver}), {sampler_name}", SYNTHETIC
    )
    for cid in ids:
        sampler.untrack(cid)
