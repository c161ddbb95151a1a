"""Helpers the controller integration tests import by this unique module name (a bare
`from conftest import ...` resolves to whichever conftest was imported last in a full run)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hollow import HollowNodes

import kcore
from kcore.client import Client
from kcore.controllers.manager import ControllerManager
from kcore.kubelet import Kubelet, KubeletConfig
from kcore.scheduler.scheduler import Scheduler


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


@contextlib.asynccontextmanager
async def docker_control_plane(
    tmp: Path, *, node_prefix: str, node_ip: str, controllers: list[str] | None = None
) -> AsyncIterator[tuple[kcore.Cluster, Kubelet, contextlib.AsyncExitStack]]:
    """An in-process cluster with one real kubelet on Docker, the scheduler and the controller
    manager (`controllers`, default all), each on its own client. The yielded stack runs
    whatever else a test adds until the block ends."""
    node = f"{node_prefix}-{uuid.uuid4().hex[:6]}"
    async with (
        kcore.Cluster(data_dir=tmp / "cluster") as cluster,
        contextlib.AsyncExitStack() as stack,
    ):
        clients = [await stack.enter_async_context(cluster.new_client()) for _ in range(3)]
        cfg = KubeletConfig(node_name=node, node_ip=node_ip, port=0, data_dir=tmp / "k")
        kubelet = Kubelet(cfg, clients[0])
        await kubelet.start()
        stack.push_async_callback(kubelet.stop)
        task = asyncio.create_task(Scheduler(clients[1]).run())
        stack.push_async_callback(_cancel, task)
        kw: dict[str, Any] = {} if controllers is None else {"controllers": controllers}
        await stack.enter_async_context(running_manager(clients[2], **kw))
        yield cluster, kubelet, stack


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
