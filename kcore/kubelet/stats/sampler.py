"""One housekeeping pass over every container: read its cgroup files, keep a bounded history.

The sampler owns a table of rows, one per container with a cgroup, holding open file
descriptors (cgroup files regenerate on every pread at offset 0, so a pass costs one syscall
per file instead of three). Past `max_open_files` (by default the soft RLIMIT_NOFILE less a
reserve; a kubelet for thousands of containers should raise its soft limit) rows become
transient: opened and closed within the pass. A reader (the Cython kernel, or its Python
reference) fills the pass's slot of the history ring directly. Containers come from `track()`
(the kubelet, with pod names) and, with `discover=True`, from Docker's cgroup directories.
A container whose files fail to read (ENODEV once its cgroup is removed) or whose directory
disappears leaves the table at once; a tracked one waits, pending, for a cgroup to appear
again.
"""

from __future__ import annotations

import errno
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from kcore.kubelet.stats import columns as c
from kcore.kubelet.stats.handles import RowFiles, close_row, default_open_budget
from kcore.kubelet.stats.layout import Layout, container_id_of
from kcore.kubelet.stats.procfs import NodeSample, boot_time, cpu_count, read_node
from kcore.kubelet.stats.reference import ReferenceReader
from kcore.kubelet.stats.refs import ContainerRef, ContainerStats, NodeStats
from kcore.kubelet.stats.ring import Ring

Keys = Sequence[tuple[bytes, int, int]]


class RowReader(Protocol):
    def read(
        self,
        fds: npt.NDArray[np.int32],
        n: int,
        out: npt.NDArray[np.int64],
        errs: npt.NDArray[np.int32],
    ) -> int: ...


def make_reader(spec: Sequence[Keys], *, kernel: bool = True) -> RowReader:
    """The Cython kernel when built (and wanted), else the Python reference."""
    if kernel:
        try:
            import kcore._ext.cgstats as cgstats

            reader: RowReader = cgstats.Reader(spec)
            return reader
        except ImportError:
            pass
    return ReferenceReader(spec)


@dataclass(slots=True)
class _Entry:
    container_id: str
    ref: ContainerRef | None
    hint: str | None  # cgroup path handed in by the kubelet
    sticky: bool  # tracked by the kubelet (else discovered: forgotten when it vanishes)
    rel: str | None = None
    files: RowFiles | None = None
    row: int = -1
    held: bool = False
    first_seen: float | None = None
    memory_limit: int | None = None


class Sampler:
    def __init__(
        self,
        layout: Layout,
        *,
        slots: int = 121,
        proc_root: str = "/proc",
        kernel: bool = True,
        max_open_files: int | None = None,
        discover: bool = False,
        mono: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.layout = layout
        self._reader = make_reader([f.keys for f in layout.files], kernel=kernel)
        self._ring = Ring(slots=slots, capacity=16)
        self._fds = np.full((16, len(layout.files)), -1, dtype=np.int32)
        self._errs = np.zeros(16, dtype=np.int32)
        self._entries: dict[str, _Entry] = {}
        self._rows: dict[int, _Entry] = {}
        self._pending: dict[str, _Entry] = {}  # no cgroup (yet, or any more)
        self._transient: set[int] = set()  # rows opened per pass, past the descriptor budget
        self._free: list[int] = []
        self._n = 0
        self._held_files = 0
        self._max_open_files = default_open_budget() if max_open_files is None else max_open_files
        self._discover_on = discover
        self._proc_root = proc_root
        self._mono, self._wall = mono, wall
        self._node: deque[tuple[float, float, NodeSample]] = deque(maxlen=self._ring.slots)
        self._boot = boot_time(proc_root)
        self._cores = cpu_count(proc_root)

    # -- what to sample -------------------------------------------------------------------

    def track(
        self, container_id: str, ref: ContainerRef | None = None, *, cgroup_path: str | None = None
    ) -> None:
        entry = self._entries.get(container_id)
        if entry is None:
            entry = _Entry(container_id, ref, cgroup_path, True)
            self._entries[container_id] = self._pending[container_id] = entry
            return
        entry.sticky = True
        entry.ref = ref or entry.ref
        entry.hint = cgroup_path or entry.hint

    def untrack(self, container_id: str) -> None:
        entry = self._entries.pop(container_id, None)
        self._pending.pop(container_id, None)
        if entry is not None and entry.row >= 0:
            self._release(entry)

    def tracked(self) -> list[str]:
        """Containers the kubelet tracks (discovered ones are not listed)."""
        return [cid for cid, entry in self._entries.items() if entry.sticky]

    # -- one pass -------------------------------------------------------------------------

    def sample(self) -> None:
        if self._discover_on:
            self._discover()
        self._resolve_pending()
        seq, out = self._ring.begin()
        transient, missing = self._open_transient()
        mono, wall = self._mono(), self._wall()
        self._reader.read(self._fds, self._n, out, self._errs)
        self._close_transient(transient)
        self._errs[missing] = errno.ENOENT
        derive(out[: self._n])
        ok = np.zeros(self._ring.capacity, dtype=np.bool_)
        ok[: self._n] = self._errs[: self._n] == 0
        self._ring.commit(seq, mono=mono, wall=wall, ok=ok)
        self._drop_failed()
        self._node.append((mono, wall, read_node(self._proc_root)))

    def _open_transient(self) -> tuple[list[int], list[int]]:
        transient: list[int] = []
        missing: list[int] = []
        for row in self._transient:
            entry = self._rows[row]
            fds = entry.files.open() if entry.files else None
            if fds is None:
                missing.append(row)
                continue
            self._fds[row] = fds
            transient.append(row)
        return transient, missing

    def _close_transient(self, rows: list[int]) -> None:
        for row in rows:
            close_row(self._fds[row].tolist())
            self._fds[row] = -1

    def _drop_failed(self) -> None:
        for row in np.flatnonzero(self._errs[: self._n]).tolist():
            entry = self._rows.get(row)
            if entry is not None:
                self._vanish(entry)
            self._errs[row] = 0

    def _vanish(self, entry: _Entry) -> None:
        if entry.row >= 0:
            self._release(entry)
        if entry.sticky:
            self._pending[entry.container_id] = entry
        else:
            self._entries.pop(entry.container_id, None)
            self._pending.pop(entry.container_id, None)

    # -- rows -----------------------------------------------------------------------------

    def _resolve_pending(self) -> None:
        for entry in list(self._pending.values()):
            self._resolve(entry)

    def _resolve(self, entry: _Entry) -> None:
        rel = entry.hint or self.layout.find(entry.container_id)
        if rel is None:
            return
        nfiles = len(self.layout.files)
        held = self._held_files + nfiles <= self._max_open_files
        files = RowFiles(self.layout, rel)
        fds = files.open()
        if fds is None:
            return
        if not held:
            close_row(fds)
            fds = [-1] * nfiles
        entry.rel, entry.files, entry.held = rel, files, held
        entry.row = self._claim_row(entry)
        self._pending.pop(entry.container_id, None)
        if not held:
            self._transient.add(entry.row)
        self._fds[entry.row] = fds
        self._held_files += nfiles if held else 0
        entry.first_seen = entry.first_seen or self._wall()
        entry.memory_limit = read_memory_limit(self.layout, rel)

    def _claim_row(self, entry: _Entry) -> int:
        if self._free:
            row = self._free.pop()
        else:
            if self._n == self._ring.capacity:
                self._grow(self._ring.capacity * 2)
            row, self._n = self._n, self._n + 1
        self._rows[row] = entry
        self._ring.claim(row)
        return row

    def _release(self, entry: _Entry) -> None:
        row = entry.row
        if entry.held:
            close_row(self._fds[row].tolist())
            self._held_files -= len(self.layout.files)
        self._fds[row] = -1
        self._ring.release(row)
        self._rows.pop(row, None)
        self._transient.discard(row)
        self._free.append(row)
        entry.row, entry.rel, entry.files, entry.held = -1, None, None, False

    def _grow(self, capacity: int) -> None:
        extra = capacity - self._ring.capacity
        self._ring.grow(capacity)
        pad = np.full((extra, self._fds.shape[1]), -1, dtype=np.int32)
        self._fds = np.ascontiguousarray(np.concatenate([self._fds, pad]))
        self._errs = np.concatenate([self._errs, np.zeros(extra, dtype=np.int32)])

    def _discover(self) -> None:
        present: set[str] = set()
        for parent in self.layout.docker_parents():
            present.update(_container_ids(parent))
        for container_id in present - self._entries.keys():
            entry = _Entry(container_id, None, None, False)
            self._entries[container_id] = self._pending[container_id] = entry
        for entry in list(self._entries.values()):
            gone = entry.container_id not in present and entry.hint is None
            if gone and (entry.row >= 0 or not entry.sticky):
                self._vanish(entry)

    # -- views ----------------------------------------------------------------------------

    def containers(self) -> list[ContainerStats]:
        """The latest good sample of every container with a cgroup."""
        stats = (self._stats_of(entry) for entry in self._rows.values())
        return [s for s in stats if s is not None]

    def container(self, container_id: str) -> ContainerStats | None:
        entry = self._entries.get(container_id)
        return None if entry is None or entry.row < 0 else self._stats_of(entry)

    def history(self, container_id: str) -> list[tuple[float, tuple[int, ...]]]:
        """(unix time, columns) of every kept sample of a container, oldest first."""
        entry = self._entries.get(container_id)
        if entry is None or entry.row < 0:
            return []
        seqs = reversed(self._ring.seqs(entry.row))
        return [(self._ring.times_at(s)[1], _values(self._ring, s, entry.row)) for s in seqs]

    def node(self) -> NodeStats | None:
        if not self._node:
            return None
        mono, wall, sample = self._node[-1]
        rate = None
        if len(self._node) > 1:
            mono0, _, sample0 = self._node[-2]
            rate = _rate(sample.cpu_ns - sample0.cpu_ns, mono - mono0)
        return NodeStats(sample, wall, self._boot, rate, self._cores)

    def _stats_of(self, entry: _Entry) -> ContainerStats | None:
        seqs = self._ring.seqs(entry.row, limit=2)
        if not seqs:
            return None
        mono, wall = self._ring.times_at(seqs[0])
        values = _values(self._ring, seqs[0], entry.row)
        rate = None
        if len(seqs) == 2:
            mono0, _ = self._ring.times_at(seqs[1])
            before = int(self._ring.row_at(seqs[1], entry.row)[c.CPU_NS])
            rate = _rate(values[c.CPU_NS] - before, mono - mono0)
        start = entry.ref.start_time if entry.ref and entry.ref.start_time else entry.first_seen
        return ContainerStats(
            entry.container_id,
            entry.rel or "",
            entry.ref,
            wall,
            start or wall,
            values,
            rate,
            entry.memory_limit,
        )


def derive(rows: npt.NDArray[np.int64]) -> None:
    """Working set = usage - inactive_file (as cAdvisor), floored at 0; absent if usage is."""
    usage = rows[:, c.MEM_USAGE]
    working = np.maximum(usage - np.maximum(rows[:, c.MEM_INACTIVE_FILE], 0), 0)
    rows[:, c.MEM_WORKING_SET] = np.where(usage >= 0, working, c.ABSENT)


def read_memory_limit(layout: Layout, rel: str) -> int | None:
    mount = layout.mounts.get(layout.anchor)
    name = "memory.limit_in_bytes" if layout.version == 1 else "memory.max"
    try:
        text = (mount / rel / name).read_text().strip() if mount else ""
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) < 1 << 62 else None


def _container_ids(parent: os.PathLike[str]) -> list[str]:
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    return [cid for cid in map(container_id_of, names) if cid is not None]


def _values(ring: Ring, seq: int, row: int) -> tuple[int, ...]:
    return tuple(ring.row_at(seq, row).tolist())


def _rate(delta_ns: int, seconds: float) -> int | None:
    if seconds <= 0 or delta_ns < 0:
        return None
    return int(delta_ns / seconds)
