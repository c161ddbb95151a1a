"""Fixture cgroup trees (v1 cgroupfs, v2 systemd and v2 cgroupfs) and a fake /proc, on disk.

`CgroupTree.add(id, Figures(...))` writes a container's files in the exact text format the
kernel uses for that layout (with decoy keys such as total_rss_huge or oom_group_kill next to
the wanted ones); `update` rewrites them, `remove` deletes the container's directories. The
unit tests and benchmarks/test_stats_bench.py (synthetic tree of 2,000) share it.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

Driver = Literal["v1", "v2-systemd", "v2-cgroupfs"]
TICK_NS = 10_000_000  # USER_HZ 100


@dataclass(frozen=True)
class Figures:
    cpu_ns: int = 0
    user_ns: int = 0  # multiple of TICK_NS, so v1 ticks convert exactly
    system_ns: int = 0
    periods: int = 0
    throttled: int = 0
    throttled_ns: int = 0  # multiple of 1000, so v2 usec convert exactly
    usage: int = 0
    rss: int = 0
    cache: int = 0
    inactive_file: int = 0
    pgfault: int = 0
    pgmajfault: int = 0
    swap: int = 0
    oom_kills: int = 0
    pids: int = 1
    limit: int | None = None

    def plus(self, **deltas: int) -> Figures:
        return replace(self, **{k: getattr(self, k) + v for k, v in deltas.items()})


def random_figures(rng: random.Random) -> Figures:
    usage = rng.randrange(1 << 20, 1 << 34)
    return Figures(
        cpu_ns=rng.randrange(0, 1 << 50) // 1000 * 1000,
        user_ns=rng.randrange(0, 1 << 20) * TICK_NS,
        system_ns=rng.randrange(0, 1 << 20) * TICK_NS,
        periods=rng.randrange(0, 1 << 30),
        throttled=rng.randrange(0, 1 << 20),
        throttled_ns=rng.randrange(0, 1 << 40) // 1000 * 1000,
        usage=usage,
        rss=rng.randrange(0, usage),
        cache=rng.randrange(0, usage),
        inactive_file=rng.randrange(0, usage * 2),  # sometimes above usage: working set 0
        pgfault=rng.randrange(0, 1 << 40),
        pgmajfault=rng.randrange(0, 1 << 20),
        swap=rng.randrange(0, 1 << 20),
        oom_kills=rng.randrange(0, 5),
        pids=rng.randrange(1, 500),
        limit=rng.choice([None, rng.randrange(1 << 20, 1 << 36)]),
    )


class CgroupTree:
    def __init__(self, root: Path, driver: Driver) -> None:
        self.root, self.driver = root, driver
        if driver == "v1":
            for name in ("cpu", "cpuacct", "memory", "pids"):
                (root / name / "docker").mkdir(parents=True, exist_ok=True)
            (root / "unified").mkdir(exist_ok=True)  # hybrid hosts mount an empty v2 here
        else:
            root.mkdir(parents=True, exist_ok=True)
            (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")

    def rel(self, container_id: str) -> str:
        if self.driver == "v2-systemd":
            return f"system.slice/docker-{container_id}.scope"
        return f"docker/{container_id}"

    def dirs(self, container_id: str) -> list[Path]:
        rel = self.rel(container_id)
        if self.driver == "v1":
            return [self.root / name / rel for name in ("cpu", "cpuacct", "memory", "pids")]
        return [self.root / rel]

    def add(self, container_id: str, figures: Figures) -> None:
        for path in self.dirs(container_id):
            path.mkdir(parents=True, exist_ok=True)
        self.update(container_id, figures)

    def update(self, container_id: str, f: Figures) -> None:
        files = _v1_files(f) if self.driver == "v1" else _v2_files(f)
        rel = self.rel(container_id)
        for name, text in files.items():
            controller, _, filename = name.rpartition("/")
            (self.root / controller / rel / filename).write_text(text)

    def remove(self, container_id: str) -> None:
        for path in self.dirs(container_id):
            shutil.rmtree(path, ignore_errors=True)


def _v1_files(f: Figures) -> dict[str, str]:
    stat_local = (
        f"cache {f.cache}\nrss {f.rss}\nrss_huge 0\nshmem 0\nmapped_file 0\nswap {f.swap}\n"
        f"pgfault {f.pgfault}\npgmajfault {f.pgmajfault}\ninactive_file {f.inactive_file}\n"
    )
    stat_total = (
        f"hierarchical_memory_limit {f.limit or 9223372036854771712}\n"
        f"total_cache {f.cache}\ntotal_rss {f.rss}\ntotal_rss_huge 7\ntotal_shmem 0\n"
        f"total_swap {f.swap}\ntotal_pgfault {f.pgfault}\ntotal_pgmajfault {f.pgmajfault}\n"
        f"total_inactive_anon 4096\ntotal_active_anon 0\n"
        f"total_inactive_file {f.inactive_file}\ntotal_active_file 0\ntotal_unevictable 0\n"
    )
    return {
        "cpuacct/cpuacct.usage": f"{f.cpu_ns}\n",
        "cpuacct/cpuacct.stat": f"user {f.user_ns // TICK_NS}\nsystem {f.system_ns // TICK_NS}\n",
        "cpu/cpu.stat": (
            f"nr_periods {f.periods}\nnr_throttled {f.throttled}\n"
            f"throttled_time {f.throttled_ns}\nnr_bursts 0\nburst_time 0\n"
        ),
        "memory/memory.usage_in_bytes": f"{f.usage}\n",
        "memory/memory.limit_in_bytes": f"{f.limit or 9223372036854771712}\n",
        "memory/memory.stat": stat_local + stat_total,
        "memory/memory.oom_control": f"oom_kill_disable 0\nunder_oom 0\noom_kill {f.oom_kills}\n",
        "pids/pids.current": f"{f.pids}\n",
    }


def _v2_files(f: Figures) -> dict[str, str]:
    stat = (
        f"anon {f.rss}\nfile {f.cache}\nkernel 8192\nkernel_stack 16384\nsock 0\nshmem 0\n"
        f"file_mapped 4096\nfile_dirty 0\nanon_thp 0\ninactive_anon 0\nactive_anon {f.rss}\n"
        f"inactive_file {f.inactive_file}\nactive_file 0\nunevictable 0\n"
        f"workingset_refault_file 3\npgfault {f.pgfault}\npgmajfault {f.pgmajfault}\n"
    )
    return {
        "cpu.stat": (
            f"usage_usec {f.cpu_ns // 1000}\nuser_usec {f.user_ns // 1000}\n"
            f"system_usec {f.system_ns // 1000}\ncore_sched.force_idle_usec 0\n"
            f"nr_periods {f.periods}\nnr_throttled {f.throttled}\n"
            f"throttled_usec {f.throttled_ns // 1000}\nnr_bursts 0\nburst_usec 0\n"
        ),
        "memory.current": f"{f.usage}\n",
        "memory.max": f"{f.limit}\n" if f.limit else "max\n",
        "memory.stat": stat,
        "memory.swap.current": f"{f.swap}\n",
        "memory.events": (
            f"low 0\nhigh 0\nmax 3\noom 1\noom_kill {f.oom_kills}\noom_group_kill 9\n"
        ),
        "pids.current": f"{f.pids}\n",
    }


def write_proc(
    root: Path, *, busy_ticks: int = 1000, mem_total_kb: int = 8 << 20, free_kb: int = 4 << 20
) -> None:
    """A minimal /proc: stat (2 CPUs), meminfo, vmstat, loadavg, sys/kernel/pid_max."""
    (root / "sys/kernel").mkdir(parents=True, exist_ok=True)
    user, system, idle = busy_ticks // 2, busy_ticks - busy_ticks // 2, 123456
    (root / "stat").write_text(
        f"cpu  {user} 0 {system} {idle} 77 0 0 0 0 0\n"
        f"cpu0 {user} 0 {system} {idle} 77 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\n"
        "intr 1 2 3\nctxt 42\nbtime 1700000000\nprocesses 99\n"
    )
    (root / "meminfo").write_text(
        f"MemTotal:       {mem_total_kb} kB\nMemFree:        {free_kb} kB\n"
        f"MemAvailable:   {free_kb} kB\nInactive(file):   1024 kB\nAnonPages:   2048 kB\n"
    )
    (root / "vmstat").write_text("nr_free_pages 5\npgfault 777\npgmajfault 7\n")
    (root / "loadavg").write_text("0.50 0.40 0.30 2/345 6789\n")
    (root / "sys/kernel/pid_max").write_text("32768\n")
