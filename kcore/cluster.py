"""kcore.Cluster: a whole control plane in-process, for tests and tools.

    async with kcore.Cluster() as cluster:
        pods = await cluster.client.list(Pod, namespace="default")

It starts the API server on a free loopback port (HTTPS, credentials in a temp or given data
dir, memory store unless told otherwise) and hands back a ready kcore Client plus the
kubeconfig path for kubectl or the Python client.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from kcore.apiserver.app import RunningServer, start_apiserver
from kcore.client.rest import Client


class Cluster:
    def __init__(
        self,
        *,
        data_dir: str | Path | None = None,
        store: str = "memory://",
        tls: bool = True,
        **apiserver_options: Any,
    ) -> None:
        """`apiserver_options` are ServerConfig fields (e.g. watch_cache_capacity=16)."""
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._store = store
        self._tls = tls
        self._options = apiserver_options
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._running: RunningServer | None = None
        self._client: Client | None = None

    @property
    def running(self) -> RunningServer:
        if self._running is None:
            raise RuntimeError("the cluster is not started; use `async with Cluster()`")
        return self._running

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def kubeconfig(self) -> Path:
        return self.running.kubeconfig

    @property
    def token(self) -> str:
        return self.running.credentials.token

    @property
    def ca_cert(self) -> Path:
        return self.running.credentials.ca_cert

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("the cluster is not started; use `async with Cluster()`")
        return self._client

    def new_client(self, **kw: Any) -> Client:
        """Another client on the admin kubeconfig (e.g. `wire="msgpack"`)."""
        return Client.from_kubeconfig(self.kubeconfig, **kw)

    async def start(self) -> Cluster:
        if self._data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kcore-cluster-")
            self._data_dir = Path(self._tmp.name)
        self._running = await start_apiserver(
            self._data_dir, store=self._store, port=0, tls=self._tls, **self._options
        )
        self._client = self.new_client()
        await self._client.__aenter__()
        return self

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._running is not None:
            await self._running.stop()
            self._running = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._data_dir = None

    async def __aenter__(self) -> Cluster:
        return await self.start()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
