"""StatsProvider: periodic passes on a worker thread, queued tracking, and the three exports."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from stats_cgtree import CgroupTree, Figures

from kcore.kubelet.stats import ContainerRef, StatsProvider

A, B = "a" * 64, "b" * 64


def provider(tree: CgroupTree, proc: Path, **kw: object) -> StatsProvider:
    return StatsProvider(node_name="n1", cgroup_root=str(tree.root), proc_root=str(proc), **kw)  # type: ignore[arg-type]


async def wait_for_history(p: StatsProvider, cid: str, count: int) -> None:
    for _ in range(500):
        if len(p.history(cid)) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{cid[:8]}: fewer than {count} samples")


async def test_runs_passes_until_stopped(tree: CgroupTree, proc: Path) -> None:
    tree.add(A, Figures(cpu_ns=10_000, usage=4096))
    p = provider(tree, proc, interval=0.02, history=0.1)
    p.track(A, ContainerRef("pod", "ns", "uid", "c"))
    await p.start()
    try:
        await wait_for_history(p, A, 6)  # history=0.1 s at 0.02 s keeps 6 passes
        for _ in range(5):
            await asyncio.sleep(0.02)
            assert len(p.history(A)) == 6
    finally:
        await p.stop()
    assert p.container(A) is None  # stop forgets tracked containers and closes their files


async def test_sync_replaces_tracked_set(tree: CgroupTree, proc: Path) -> None:
    tree.add(A, Figures(usage=1))
    tree.add(B, Figures(usage=2))
    p = provider(tree, proc)
    p.sync({A: ContainerRef("pa", "ns", "ua", "c"), B: ContainerRef("pb", "ns", "ub", "c")})
    p.sample_once()
    assert sorted(pod["podRef"]["name"] for pod in p.summary()["pods"]) == ["pa", "pb"]
    p.sync({B: ContainerRef("pb", "ns", "ub", "c")})
    p.sample_once()
    assert [pod["podRef"]["name"] for pod in p.summary()["pods"]] == ["pb"]
    assert 'pod="pb"' in p.prometheus_text() and 'pod="pa"' not in p.prometheus_text()
    assert 'pod_memory_working_set_bytes{namespace="ns",pod="pb"} 2' in p.resource_metrics_text()
    await p.stop()


async def test_discovery_without_kubelet(tree: CgroupTree, proc: Path) -> None:
    tree.add(A, Figures(usage=7))
    p = provider(tree, proc, discover=True, kernel=False)
    p.sample_once()
    assert [s.container_id for s in p.containers()] == [A]
    assert p.summary()["pods"] == []  # no pod names: only in /metrics/cadvisor
    assert f'id="/{tree.rel(A)}"' in p.prometheus_text()
    await p.stop()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_descriptors_are_closed_on_untrack_and_stop(tree: CgroupTree, proc: Path) -> None:
    ids = [f"{i:064x}" for i in range(10)]
    for cid in ids:
        tree.add(cid, Figures(usage=1))
    before = _open_fds()
    p = provider(tree, proc)
    for cid in ids:
        p.track(cid)
    p.sample_once()
    assert _open_fds() >= before + 10 * 5  # every file of every container held open
    p.untrack(ids[0])
    p.sample_once()
    assert len(p.containers()) == 9
    await p.stop()
    assert _open_fds() == before
