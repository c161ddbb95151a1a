"""The node's own figures from /proc: CPU time, memory, page faults, load and process count.

Read once per housekeeping pass. CPU time is the busy part of the `cpu` line of /proc/stat
(user+nice+system+irq+softirq+steal; guest time is already inside user) in nanoseconds.
Memory follows the kubelet's node semantics: usage = MemTotal - MemFree, working set = usage -
Inactive(file), available = MemTotal - working set, rss = AnonPages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kcore.kubelet.stats.layout import NS_PER_TICK

_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal


@dataclass(frozen=True, slots=True)
class NodeSample:
    cpu_ns: int
    mem_total: int
    mem_free: int
    mem_inactive_file: int
    mem_anon: int
    pgfault: int
    pgmajfault: int
    load1: float
    procs: int
    pid_max: int

    @property
    def mem_usage(self) -> int:
        return self.mem_total - self.mem_free

    @property
    def mem_working_set(self) -> int:
        return max(0, self.mem_usage - self.mem_inactive_file)

    @property
    def mem_available(self) -> int:
        return max(0, self.mem_total - self.mem_working_set)


def read_node(proc_root: str | os.PathLike[str] = "/proc") -> NodeSample:
    root = Path(proc_root)
    meminfo = _key_values(root / "meminfo", scale=1024)
    vmstat = _key_values(root / "vmstat")
    load = _read(root / "loadavg").split()
    return NodeSample(
        cpu_ns=_busy_ns(_read(root / "stat")),
        mem_total=meminfo.get("MemTotal", 0),
        mem_free=meminfo.get("MemFree", 0),
        mem_inactive_file=meminfo.get("Inactive(file)", 0),
        mem_anon=meminfo.get("AnonPages", 0),
        pgfault=vmstat.get("pgfault", 0),
        pgmajfault=vmstat.get("pgmajfault", 0),
        load1=float(load[0]) if load else 0.0,
        procs=int(load[3].split("/")[1]) if len(load) > 3 and "/" in load[3] else 0,
        pid_max=_int_or(root / "sys/kernel/pid_max", 0),
    )


def cpu_count(proc_root: str | os.PathLike[str] = "/proc") -> int:
    lines = _read(Path(proc_root) / "stat").splitlines()
    return sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit()) or 1


def _busy_ns(stat: str) -> int:
    for line in stat.splitlines():
        if line.startswith("cpu "):
            fields = [int(v) for v in line.split()[1:]]
            return sum(fields[i] for i in _BUSY_FIELDS if i < len(fields)) * NS_PER_TICK
    return 0


def _key_values(path: Path, *, scale: int = 1) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in _read(path).splitlines():
        key, _, rest = line.partition(":" if ":" in line else " ")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key.strip()] = int(parts[0]) * (scale if parts[1:] == ["kB"] else 1)
    return values


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _int_or(path: Path, default: int) -> int:
    text = _read(path).strip()
    return int(text) if text.isdigit() else default


def boot_time(proc_root: str | os.PathLike[str] = "/proc") -> float:
    for line in _read(Path(proc_root) / "stat").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0
