"""The hollow runtime (`--runtime fake`): containers that exist only in memory and run forever.

Like kwok, it lets one machine carry thousands of nodes for control-plane scale tests: pods go
Running at once, exec probes succeed, logs are empty. No Docker is touched.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

from kcore.api import timeutil
from kcore.kubelet.runtime.types import (
    EXIT,
    LABEL_NODE,
    ContainerInfo,
    ContainerSpec,
    ExecInput,
    ImagePullError,
    LogOptions,
)


class FakeRuntime:
    name = "fake"
    hollow = True

    def __init__(self, *, missing_images: frozenset[str] = frozenset()) -> None:
        self._containers: dict[str, ContainerInfo] = {}
        self._ids = itertools.count(1)
        self._missing = missing_images

    async def version(self) -> str:
        return "fake-1.0"

    async def images(self) -> list[tuple[list[str], int]]:
        return []

    async def list_containers(self, node: str) -> list[ContainerInfo]:
        return [c for c in self._containers.values() if c.labels.get(LABEL_NODE) == node]

    async def inspect(self, container_id: str) -> ContainerInfo | None:
        return self._containers.get(container_id)

    async def ensure_image(self, image: str, policy: str) -> str:
        if image in self._missing:
            raise ImagePullError(f'failed to pull image "{image}": not found')
        return "sha256:" + image.encode().hex()[:64].ljust(64, "0")

    async def run(self, spec: ContainerSpec) -> ContainerInfo:
        cid = f"{next(self._ids):064x}"
        now = timeutil.now()
        self._containers[cid] = ContainerInfo(
            id=cid,
            labels=dict(spec.labels),
            state="running",
            image=spec.image,
            image_id=await self.ensure_image(spec.image, "IfNotPresent"),
            created_at=now,
            started_at=now,
        )
        return self._containers[cid]

    def exit(self, container_id: str, code: int, *, oom: bool = False) -> None:
        """Make a container end with `code` (tests of restart policies use this)."""
        info = self._containers[container_id]
        info.state, info.exit_code, info.oom_killed = "exited", code, oom
        info.finished_at = timeutil.now()

    async def stop(self, container_id: str, grace_seconds: int) -> None:
        info = self._containers.get(container_id)
        if info is not None and info.state == "running":
            info.state, info.exit_code, info.finished_at = "exited", 0, timeutil.now()

    async def remove(self, container_id: str) -> None:
        self._containers.pop(container_id, None)

    async def exec(self, container_id: str, command: list[str], limit: float) -> int:
        return 0

    async def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[bytes]:
        return
        yield b""  # an async generator that yields nothing

    async def exec_stream(
        self,
        container_id: str,
        command: list[str],
        *,
        stdin: asyncio.Queue[ExecInput] | None = None,
        tty: bool = False,
    ) -> AsyncIterator[tuple[int, bytes]]:
        yield (EXIT, b"0")

    async def close(self) -> None:
        self._containers.clear()
