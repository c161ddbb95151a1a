"""Helpers the controller integration tests import by this unique module name (a bare
`from conftest import ...` resolves to whichever conftest was imported last in a full run)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hollow import HollowNodes

import kcore
from kcore.client import Client
from kcore.controllers.manager import ControllerManager


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
