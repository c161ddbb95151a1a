"""A kcore.Cluster with a running controller manager and hollow nodes, per test."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import kcore

sys.path.insert(0, str(Path(__file__).parent))

from ctl_support import Env, running_manager
from hollow import HollowNodes


@pytest.fixture(params=["memory", "sqlite"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    """The same controller tests on the memory store and on SQLite files."""
    store = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'state.db'}"
    async with kcore.Cluster(store=store) as cluster:
        client = cluster.new_client()
        async with (
            client,
            running_manager(client) as manager,
            HollowNodes(cluster.client) as nodes,
        ):
            yield Env(cluster, cluster.client, manager, nodes)
