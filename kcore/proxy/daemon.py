"""The proxy as a node component: the data path, its Service config, and /metrics.

`ProxyServer` starts the epoll workers, a `ServiceConfig` over the API server's Services and
EndpointSlices, and a small HTTP server whose `/metrics` serves the per-Service counters in
Prometheus text and whose `/healthz` says whether the informers have synced. `kcore proxy`
(kcore/proxy/cli.py) runs one until SIGINT/SIGTERM; `kcore up` can embed one.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from kcore.client import Client, SharedInformerFactory
from kcore.proxy.config import ServiceConfig
from kcore.proxy.datapath import CONGESTION, Proxy
from kcore.proxy.metrics import render


class ProxyServer:
    def __init__(
        self,
        client: Client,
        *,
        node_ips: Sequence[str] = (),
        node_names: Sequence[str] = (),
        workers: int | None = None,
        metrics_host: str = "127.0.0.1",
        metrics_port: int = 10249,
        idle_timeout: float = 0.0,
        congestion: str = CONGESTION,
    ) -> None:
        self.proxy = Proxy(workers=workers, idle_timeout=idle_timeout, congestion=congestion)
        self.factory = SharedInformerFactory(client)
        self.config = ServiceConfig(
            self.proxy, self.factory, node_ips=node_ips, node_names=node_names
        )
        self._metrics_addr = (metrics_host, metrics_port)
        self._runner: web.AppRunner | None = None
        self.metrics_port = 0

    async def start(self) -> None:
        """Start the workers, the informers and /metrics (0 as the port: any free one)."""
        self.proxy.start()
        self.factory.start()
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, *self._metrics_addr)
        await site.start()
        self.metrics_port = self._runner.addresses[0][1]

    async def wait_for_sync(self) -> None:
        await self.factory.wait_for_sync()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.factory.stop()
        self.proxy.stop()

    async def _metrics(self, _: web.Request) -> web.Response:
        text = render(self.proxy.all_stats())
        text += "# TYPE kcore_proxy_bind_errors_total counter\n"
        text += f"kcore_proxy_bind_errors_total {self.config.bind_errors}\n"
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def _healthz(self, _: web.Request) -> web.Response:
        synced = self.config.has_synced()
        return web.Response(text="ok" if synced else "syncing", status=200 if synced else 503)
