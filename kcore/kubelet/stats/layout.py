"""Where a container's cgroup files are, for cgroup v1 and v2, and what to read from each.

A layout is detected once from the cgroup mount root: v2 (unified) when the root has
`cgroup.controllers`, otherwise v1 with one directory per controller (`cpu`, `cpuacct`,
`memory`, `pids`, or combined mounts such as `cpu,cpuacct`). A container's directory is found
from its id under Docker's two drivers: cgroupfs (`docker/<id>`) and systemd
(`system.slice/docker-<id>.scope`), or from an explicit relative path the kubelet hands in.

Each file is described by a `FileSpec`: the keys to pick (`b""` for a file holding one
number) with the column and the integer scale that turns its unit into the column's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kcore.kubelet.stats import columns as c

NS_PER_TICK = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class FileSpec:
    controller: str  # v1 controller directory; "" for v2
    name: str
    keys: tuple[tuple[bytes, int, int], ...]  # (key, column, scale)
    required: bool = True


V1_FILES: tuple[FileSpec, ...] = (
    FileSpec("cpuacct", "cpuacct.usage", ((b"", c.CPU_NS, 1),)),
    FileSpec(
        "cpuacct",
        "cpuacct.stat",
        ((b"user", c.CPU_USER_NS, NS_PER_TICK), (b"system", c.CPU_SYSTEM_NS, NS_PER_TICK)),
        required=False,
    ),
    FileSpec(
        "cpu",
        "cpu.stat",
        (
            (b"nr_periods", c.CFS_PERIODS, 1),
            (b"nr_throttled", c.CFS_THROTTLED_PERIODS, 1),
            (b"throttled_time", c.CFS_THROTTLED_NS, 1),
        ),
        required=False,
    ),
    FileSpec("memory", "memory.usage_in_bytes", ((b"", c.MEM_USAGE, 1),)),
    FileSpec(
        "memory",
        "memory.stat",
        (
            (b"total_rss", c.MEM_RSS, 1),
            (b"total_cache", c.MEM_CACHE, 1),
            (b"total_inactive_file", c.MEM_INACTIVE_FILE, 1),
            (b"total_pgfault", c.MEM_PGFAULT, 1),
            (b"total_pgmajfault", c.MEM_PGMAJFAULT, 1),
            (b"total_swap", c.MEM_SWAP, 1),
        ),
    ),
    FileSpec("memory", "memory.oom_control", ((b"oom_kill", c.OOM_KILLS, 1),), required=False),
    FileSpec("pids", "pids.current", ((b"", c.PIDS, 1),), required=False),
)

V2_FILES: tuple[FileSpec, ...] = (
    FileSpec(
        "",
        "cpu.stat",
        (
            (b"usage_usec", c.CPU_NS, 1000),
            (b"user_usec", c.CPU_USER_NS, 1000),
            (b"system_usec", c.CPU_SYSTEM_NS, 1000),
            (b"nr_periods", c.CFS_PERIODS, 1),
            (b"nr_throttled", c.CFS_THROTTLED_PERIODS, 1),
            (b"throttled_usec", c.CFS_THROTTLED_NS, 1000),
        ),
    ),
    FileSpec("", "memory.current", ((b"", c.MEM_USAGE, 1),)),
    FileSpec(
        "",
        "memory.stat",
        (
            (b"anon", c.MEM_RSS, 1),
            (b"file", c.MEM_CACHE, 1),
            (b"inactive_file", c.MEM_INACTIVE_FILE, 1),
            (b"pgfault", c.MEM_PGFAULT, 1),
            (b"pgmajfault", c.MEM_PGMAJFAULT, 1),
        ),
    ),
    FileSpec("", "memory.swap.current", ((b"", c.MEM_SWAP, 1),), required=False),
    FileSpec("", "memory.events", ((b"oom_kill", c.OOM_KILLS, 1),), required=False),
    FileSpec("", "pids.current", ((b"", c.PIDS, 1),), required=False),
)

_V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")


@dataclass(frozen=True, slots=True)
class Layout:
    """A detected cgroup hierarchy: its version and the mount directory of each controller."""

    version: Literal[1, 2]
    root: Path
    mounts: dict[str, Path]  # controller -> mount dir; v2 has the single key ""

    @property
    def files(self) -> tuple[FileSpec, ...]:
        return V1_FILES if self.version == 1 else V2_FILES

    @property
    def anchor(self) -> str:
        """The controller whose directory decides whether a container exists."""
        return "memory" if self.version == 1 else ""

    def container_paths(self, container_id: str) -> tuple[str, ...]:
        """Candidate cgroup paths (relative to a controller mount) for a Docker container."""
        return (f"docker/{container_id}", f"system.slice/docker-{container_id}.scope")

    def find(self, container_id: str) -> str | None:
        """The relative cgroup path of a running container, or None if it has none (yet)."""
        anchor = self.mounts.get(self.anchor)
        if anchor is None:
            return None
        for rel in self.container_paths(container_id):
            if (anchor / rel).is_dir():
                return rel
        return None

    def file_path(self, spec: FileSpec, rel: str) -> Path | None:
        mount = self.mounts.get(spec.controller)
        return None if mount is None else mount / rel / spec.name

    def docker_parents(self) -> tuple[Path, ...]:
        """Directories whose children are Docker containers (for discovery)."""
        anchor = self.mounts.get(self.anchor)
        if anchor is None:
            return ()
        return (anchor / "docker", anchor / "system.slice")


def detect(root: str | os.PathLike[str]) -> Layout:
    base = Path(root)
    if (base / "cgroup.controllers").is_file():
        return Layout(2, base, {"": base})
    return Layout(1, base, _v1_mounts(base))


def _v1_mounts(base: Path) -> dict[str, Path]:
    mounts: dict[str, Path] = {}
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return mounts
    for name in entries:
        for controller in name.split(","):
            if controller in _V1_CONTROLLERS and (base / name).is_dir():
                mounts.setdefault(controller, base / name)
    return mounts


def container_id_of(dirname: str) -> str | None:
    """The container id in a Docker cgroup directory name (`<id>` or `docker-<id>.scope`)."""
    name = dirname
    if name.startswith("docker-") and name.endswith(".scope"):
        name = name[len("docker-") : -len(".scope")]
    if len(name) == 64 and all(ch in "0123456789abcdef" for ch in name):
        return name
    return None
