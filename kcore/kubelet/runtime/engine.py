"""A direct async client for the Docker Engine API on its unix socket, for the hot path.

Creating and starting containers is what pod startup latency is made of; the docker SDK runs
each call through requests in a thread, this talks HTTP over the socket from the event loop
(aiohttp's UnixConnector) without a thread hop. Everything else stays on the SDK.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp

from kcore.kubelet.runtime.types import ContainerSpec


class EngineError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def socket_path() -> str | None:
    """The engine's unix socket from DOCKER_HOST (default /var/run/docker.sock), or None."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return None
    return host.removeprefix("unix://")


def create_body(spec: ContainerSpec) -> dict[str, Any]:
    host: dict[str, Any] = {
        "NetworkMode": "host",
        "Binds": [
            f"{m.host_path}:{m.container_path}:{'ro' if m.read_only else 'rw'}" for m in spec.mounts
        ],
    }
    if spec.cpu_quota:
        host.update(CpuQuota=spec.cpu_quota, CpuPeriod=100_000)
    if spec.cpu_shares:
        host["CpuShares"] = spec.cpu_shares
    if spec.memory:
        host.update(Memory=spec.memory, MemorySwap=spec.memory)
    body: dict[str, Any] = {
        "Image": spec.image,
        "Env": [f"{k}={v}" for k, v in spec.env.items()],
        "Labels": spec.labels,
        "HostConfig": host,
    }
    if spec.entrypoint is not None:
        body["Entrypoint"] = spec.entrypoint
    if spec.args is not None:
        body["Cmd"] = spec.args
    if spec.working_dir:
        body["WorkingDir"] = spec.working_dir
    return body


class EngineClient:
    def __init__(self, path: str, *, api_version: str) -> None:
        self._prefix = f"http://docker/v{api_version}"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=path, limit=32),
            timeout=aiohttp.ClientTimeout(total=120),
        )

    async def close(self) -> None:
        await self._session.close()

    async def _post(self, path: str, **kw: Any) -> Any:
        async with self._session.post(self._prefix + path, **kw) as resp:
            if resp.status >= 300:
                raise EngineError(resp.status, await _message(resp))
            return await resp.json() if resp.status == 201 else None

    async def create(self, spec: ContainerSpec) -> str:
        created = await self._post(
            "/containers/create", params={"name": spec.name}, json=create_body(spec)
        )
        return str(created["Id"])

    async def start(self, container_id: str) -> None:
        await self._post(f"/containers/{container_id}/start")

    async def remove(self, container_id: str) -> None:
        url = f"{self._prefix}/containers/{container_id}"
        async with self._session.delete(url, params={"force": "1", "v": "1"}) as resp:
            if resp.status >= 300 and resp.status != 404:
                raise EngineError(resp.status, await _message(resp))


async def _message(resp: aiohttp.ClientResponse) -> str:
    try:
        return str((await resp.json()).get("message", resp.reason))
    except (aiohttp.ContentTypeError, ValueError):
        return (await resp.text()).strip() or str(resp.reason)
