"""Sampling passes over fixture trees: rates, history, containers appearing and vanishing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from stats_cgtree import CgroupTree, Figures

from kcore.kubelet.stats import columns as c
from kcore.kubelet.stats.layout import detect
from kcore.kubelet.stats.refs import ContainerRef
from kcore.kubelet.stats.sampler import Sampler

A, B, C = "a" * 64, "b" * 64, "c" * 64
BASE = Figures(cpu_ns=5_000_000_000, usage=100 << 20, inactive_file=30 << 20, rss=60 << 20,
               cache=40 << 20, pids=3, limit=256 << 20)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def mono(self) -> float:
        return self.t

    def wall(self) -> float:
        return 1_700_000_000.0 + self.t


def make(tree: CgroupTree, proc: Path, clock: Clock, kernel: bool, **kw: object) -> Sampler:
    return Sampler(
        detect(tree.root), proc_root=str(proc), kernel=kernel, mono=clock.mono, wall=clock.wall,
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture(params=[8192, 0], ids=["held", "transient"])
def max_open(request: pytest.FixtureRequest) -> int:
    value: int = request.param
    return value


def test_cpu_rate_from_deltas_and_memory(
    tree: CgroupTree, proc: Path, kernel: bool, max_open: int
) -> None:
    clock = Clock()
    sampler = make(tree, proc, clock, kernel, max_open_files=max_open)
    tree.add(A, BASE)
    sampler.track(A, ContainerRef("p", "ns", "uid-1", "app"))
    sampler.sample()
    first = sampler.container(A)
    assert first is not None and first.cpu_nano_cores is None
    tree.update(A, BASE.plus(cpu_ns=750_000_000))
    clock.t += 0.5
    sampler.sample()
    stats = sampler.container(A)
    assert stats is not None
    assert stats.cpu_nano_cores == 1_500_000_000  # 0.75 s of CPU in 0.5 s
    assert stats.get(c.CPU_NS) == 5_750_000_000
    assert stats.get(c.MEM_WORKING_SET) == 70 << 20
    assert stats.memory_limit == 256 << 20
    assert stats.time == clock.wall() and stats.start_time == first.time


def test_history_is_bounded(tree: CgroupTree, proc: Path, kernel: bool) -> None:
    clock = Clock()
    sampler = make(tree, proc, clock, kernel, slots=5)
    tree.add(A, BASE)
    sampler.track(A)
    for i in range(12):
        tree.update(A, BASE.plus(cpu_ns=i * 1000))  # v2 counts microseconds
        sampler.sample()
        clock.t += 1
    history = sampler.history(A)
    assert [values[c.CPU_NS] - BASE.cpu_ns for _, values in history] == [
        7000,
        8000,
        9000,
        10000,
        11000,
    ]
    assert [t for t, _ in history] == sorted(t for t, _ in history)


def test_container_appears_after_being_tracked(tree: CgroupTree, proc: Path, kernel: bool) -> None:
    sampler = make(tree, proc, Clock(), kernel)
    sampler.track(A)
    sampler.sample()
    assert sampler.container(A) is None and sampler.containers() == []
    tree.add(A, BASE)
    sampler.sample()
    stats = sampler.container(A)
    assert stats is not None and stats.get(c.MEM_USAGE) == BASE.usage


def test_vanished_directory_leaves_at_once(
    tree: CgroupTree, proc: Path, kernel: bool, max_open: int
) -> None:
    """Transient rows fail to open (ENOENT); held rows notice through discovery's listing."""
    sampler = make(tree, proc, Clock(), kernel, max_open_files=max_open, discover=max_open > 0)
    for cid in (A, B, C):
        tree.add(cid, BASE)
        sampler.track(cid)
    sampler.sample()
    tree.remove(B)
    sampler.sample()
    assert sorted(s.container_id for s in sampler.containers()) == [A, C]
    assert B in sampler.tracked()  # still wanted by the kubelet: pending
    tree.add(B, BASE.plus(cpu_ns=1000))
    sampler.sample()
    again = sampler.container(B)
    assert again is not None and again.get(c.CPU_NS) == BASE.cpu_ns + 1000
    assert again.cpu_nano_cores is None  # new cgroup: no rate from the old one's counters
    assert len(sampler.history(B)) == 1


def test_container_vanishing_mid_read_records_no_partial_sample(
    tree: CgroupTree, proc: Path, kernel: bool
) -> None:
    """A file turning unreadable mid-row (EISDIR here, ENODEV on a real cgroup) drops the row."""
    sampler = make(tree, proc, Clock(), kernel, max_open_files=0)
    for cid in (A, B, C):
        tree.add(cid, BASE)
        sampler.track(cid)
    sampler.sample()
    stat = detect(tree.root).file_path(detect(tree.root).files[-1], tree.rel(B))
    assert stat is not None
    stat.unlink()
    stat.mkdir()  # opens fine, then pread fails after the row's earlier files were read
    sampler.sample()
    assert sorted(s.container_id for s in sampler.containers()) == [A, C]
    assert len(sampler.history(B)) == 0 and len(sampler.history(A)) == 2
    stat.rmdir()
    tree.update(B, BASE)
    sampler.sample()
    assert sampler.container(B) is not None


def test_discovery_finds_and_forgets_docker_cgroups(
    tree: CgroupTree, proc: Path, kernel: bool
) -> None:
    sampler = make(tree, proc, Clock(), kernel, discover=True)
    tree.add(A, BASE)
    tree.add(B, BASE)
    (tree.root / ("memory" if tree.driver == "v1" else "") / "docker" / "not-a-container").mkdir(
        parents=True
    )
    sampler.sample()
    assert sorted(s.container_id for s in sampler.containers()) == [A, B]
    assert sampler.tracked() == []
    tree.remove(A)
    sampler.sample()
    assert [s.container_id for s in sampler.containers()] == [B]


def test_rows_are_reused_and_table_grows(tree: CgroupTree, proc: Path, kernel: bool) -> None:
    sampler = make(tree, proc, Clock(), kernel)
    ids = [f"{i:064x}" for i in range(40)]
    for i, cid in enumerate(ids):
        tree.add(cid, BASE.plus(cpu_ns=i * 1000))
        sampler.track(cid)
    sampler.sample()
    for cid in ids[:20]:
        sampler.untrack(cid)
    sampler.sample()
    for i, cid in enumerate(ids[:10]):
        tree.update(cid, BASE.plus(cpu_ns=(100 + i) * 1000))
        sampler.track(cid)
    sampler.sample()
    got = {s.container_id: s.get(c.CPU_NS) for s in sampler.containers()}
    want = {cid: BASE.cpu_ns + (100 + i) * 1000 for i, cid in enumerate(ids[:10])}
    want |= {cid: BASE.cpu_ns + i * 1000 for i, cid in enumerate(ids) if i >= 20}
    assert got == want
    assert all(len(sampler.history(cid)) == 1 for cid in ids[:10])


def test_explicit_cgroup_path(tmp_path: Path, proc: Path, kernel: bool) -> None:
    tree = CgroupTree(tmp_path / "cg", "v2-cgroupfs")
    tree.add(A, BASE)
    shutil.move(tree.root / "docker" / A, tree.root / "kubepods-pod1")
    sampler = make(tree, proc, Clock(), kernel)
    sampler.track(A, cgroup_path="kubepods-pod1")
    sampler.sample()
    stats = sampler.container(A)
    assert stats is not None and stats.cgroup_path == "kubepods-pod1"


def test_node_figures_from_proc(tree: CgroupTree, proc: Path) -> None:
    clock = Clock()
    sampler = make(tree, proc, clock, True)
    sampler.sample()
    node = sampler.node()
    assert node is not None and node.cpu_nano_cores is None
    (proc / "stat").write_text(
        (proc / "stat").read_text().replace("cpu  500 0 500", "cpu  550 0 550")
    )
    clock.t += 2
    sampler.sample()
    node = sampler.node()
    assert node is not None
    assert node.cpu_nano_cores == 500_000_000  # 100 ticks = 1 s of CPU over 2 s
    assert node.cores == 2 and node.start_time == 1_700_000_000
    s = node.sample
    assert (s.mem_usage, s.mem_working_set) == ((4 << 30), (4 << 30) - (1 << 20))
    assert (s.pgfault, s.pgmajfault, s.procs, s.pid_max) == (777, 7, 345, 32768)
