"""The Cython kernel and its Python reference read the same columns from the same files."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import kcore._ext.cgstats as cgstats
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stats_cgtree import CgroupTree, Figures, random_figures

from kcore.kubelet.stats import columns as c
from kcore.kubelet.stats.handles import close_row, open_row
from kcore.kubelet.stats.layout import detect
from kcore.kubelet.stats.reference import ReferenceReader
from kcore.kubelet.stats.sampler import RowReader, derive, make_reader


def expected_row(f: Figures) -> list[int]:
    row = [c.ABSENT] * c.COUNT
    pairs = {
        c.CPU_NS: f.cpu_ns, c.CPU_USER_NS: f.user_ns, c.CPU_SYSTEM_NS: f.system_ns,
        c.CFS_PERIODS: f.periods, c.CFS_THROTTLED_PERIODS: f.throttled,
        c.CFS_THROTTLED_NS: f.throttled_ns, c.MEM_USAGE: f.usage, c.MEM_RSS: f.rss,
        c.MEM_CACHE: f.cache, c.MEM_INACTIVE_FILE: f.inactive_file, c.MEM_PGFAULT: f.pgfault,
        c.MEM_PGMAJFAULT: f.pgmajfault, c.MEM_SWAP: f.swap, c.OOM_KILLS: f.oom_kills,
        c.PIDS: f.pids, c.MEM_WORKING_SET: max(0, f.usage - f.inactive_file),
    }  # fmt: skip
    for column, value in pairs.items():
        row[column] = value
    return row


def read_all(reader: RowReader, fds: list[list[int]]) -> tuple[npt.NDArray[np.int64], list[int]]:
    table = np.array(fds, dtype=np.int32).reshape(len(fds), -1)
    out = np.zeros((len(fds), c.COUNT), dtype=np.int64)
    errs = np.zeros(len(fds), dtype=np.int32)
    reader.read(table, len(fds), out, errs)
    return out, errs.tolist()


def readers(tree: CgroupTree) -> list[RowReader]:
    spec = [f.keys for f in detect(tree.root).files]
    return [make_reader(spec), ReferenceReader(spec)]


def test_kernel_is_built() -> None:
    spec = [f.keys for f in detect("/nonexistent").files]
    assert isinstance(make_reader(spec), cgstats.Reader)


def test_both_readers_match_the_figures_written(tree: CgroupTree) -> None:
    rng = random.Random(6)
    ids = [f"{i:064x}" for i in range(12)]
    figures = [random_figures(rng) for _ in ids]
    for cid, f in zip(ids, figures, strict=True):
        tree.add(cid, f)
    layout = detect(tree.root)
    rows = [open_row(layout, tree.rel(cid)) for cid in ids]
    assert all(r is not None for r in rows)
    try:
        for reader in readers(tree):
            out, errs = read_all(reader, [r for r in rows if r is not None])
            derive(out)
            assert errs == [0] * len(ids)
            assert out.tolist() == [expected_row(f) for f in figures], type(reader)
    finally:
        for r in rows:
            close_row(r or [])


def test_a_failing_file_fails_only_its_row(tree: CgroupTree, tmp_path: Path) -> None:
    for i in range(3):
        tree.add(f"{i:064x}", Figures(cpu_ns=1000 * (i + 1), usage=4096))
    layout = detect(tree.root)
    rows = [open_row(layout, tree.rel(f"{i:064x}")) or [] for i in range(3)]
    dir_fd = os.open(tmp_path, os.O_RDONLY)  # pread on a directory: EISDIR, like ENODEV
    broken = list(rows[1])
    broken[-2] = dir_fd
    try:
        for reader in readers(tree):
            out, errs = read_all(reader, [rows[0], broken, rows[2]])
            assert errs == [0, errno.EISDIR, 0]
            assert out[0, c.CPU_NS] == 1000 and out[2, c.CPU_NS] == 3000
    finally:
        os.close(dir_fd)
        for r in rows:
            close_row(r)


def test_unopened_files_leave_columns_absent(tree: CgroupTree) -> None:
    for reader in readers(tree):
        nfiles = len(detect(tree.root).files)
        out, errs = read_all(reader, [[-1] * nfiles])
        assert errs == [0] and out.tolist() == [[c.ABSENT] * c.COUNT]


_KEY = st.sampled_from([b"total_rss", b"total_rss_huge", b"rss", b"total_cache", b"x", b"oom_kill",
                        b"oom_group_kill", b"total_"])  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(
        st.tuples(_KEY, st.integers(0, 2**70), st.sampled_from([b" ", b"  ", b"\t"])), max_size=12
    ),
    trailing_newline=st.booleans(),
    single=st.integers(0, 2**60),
)
def test_kernel_equals_reference_on_arbitrary_files(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[tuple[bytes, int, bytes]],
    trailing_newline: bool,
    single: int,
) -> None:
    spec = [
        [(b"total_rss", 0, 1), (b"total_cache", 1, 3), (b"oom_kill", 2, 1000)],
        [(b"", 3, 7)],
    ]
    text = b"\n".join(k + b" " + sep + str(v).encode() for k, v, sep in lines)
    base = tmp_path_factory.mktemp("arb")
    (base / "kv").write_bytes(text + (b"\n" if trailing_newline else b""))
    (base / "one").write_bytes(str(single).encode() + b"\n")
    fds = [os.open(base / "kv", os.O_RDONLY), os.open(base / "one", os.O_RDONLY)]
    try:
        got = [
            read_all(r, [fds])[0].tolist() for r in (cgstats.Reader(spec), ReferenceReader(spec))
        ]
    finally:
        close_row(fds)
    assert got[0] == got[1]
    assert got[0][0][3] == single * 7
