"""Fixture cgroup trees of every layout, a fake /proc, and both readers (kernel, reference)."""

from __future__ import annotations

from pathlib import Path

import pytest
from stats_cgtree import CgroupTree, Driver, write_proc

DRIVERS: tuple[Driver, ...] = ("v1", "v2-systemd", "v2-cgroupfs")


@pytest.fixture(params=DRIVERS)
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> CgroupTree:
    driver: Driver = request.param
    return CgroupTree(tmp_path / "cgroup", driver)


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    root = tmp_path / "proc"
    write_proc(root)
    return root


@pytest.fixture(params=[True, False], ids=["kernel", "reference"])
def kernel(request: pytest.FixtureRequest) -> bool:
    use_kernel: bool = request.param
    return use_kernel
