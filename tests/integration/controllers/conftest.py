"""A kcore.Cluster with a running controller manager and hollow nodes, per test."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import kcore
from kcore.client import Client
from kcore.controllers.manager import ControllerManager

sys.path.insert(0, str(Path(__file__).parent))

from hollow import HollowNodes


@dataclass
class Env:
    cluster: kcore.Cluster
    client: Client
    manager: ControllerManager
    nodes: HollowNodes


@contextlib.asynccontextmanager
async def running_manager(client: Client, **kw: object) -> AsyncIterator[ControllerManager]:
    manager = ControllerManager(client, leader_elect=False, **kw)  # type: ignore[arg-type]
    task = asyncio.create_task(manager.run())
    try:
        async with asyncio.timeout(30):
            await manager.started.wait()
        yield manager
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


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
