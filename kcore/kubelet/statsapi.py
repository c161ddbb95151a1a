"""The kubelet's stats endpoints over the cgroup sampler (kcore.kubelet.stats).

/stats/summary (the Summary API, for metrics-server and `kubectl top`), /metrics/cadvisor and
/metrics/resource (Prometheus text). The agent tells the provider which running container
belongs to which pod after every relist (`sync`), so samples carry pod names and uids.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

import msgspec
from aiohttp import web

from kcore.api import timeutil
from kcore.kubelet.runtime import ContainerInfo
from kcore.kubelet.runtime import types as labels
from kcore.kubelet.stats import ContainerRef, StatsProvider

PROMETHEUS = "text/plain; version=0.0.4"


def refs(containers: Iterable[ContainerInfo]) -> dict[str, ContainerRef]:
    """Running containers of pods, by container id, as the sampler names them."""
    out = {}
    for c in containers:
        if c.state != "running" or not c.pod_uid:
            continue
        out[c.id] = ContainerRef(
            pod_name=c.labels.get(labels.LABEL_POD_NAME, ""),
            namespace=c.labels.get(labels.LABEL_POD_NAMESPACE, ""),
            pod_uid=c.pod_uid,
            container_name=c.container_name,
            image=c.image,
            start_time=timeutil.to_timestamp(c.started_at) if c.started_at else None,
        )
    return out


def routes(provider: StatsProvider, pod_uids: Callable[[], Collection[str]]) -> list[web.RouteDef]:
    async def summary(_: web.Request) -> web.Response:
        body = msgspec.json.encode(provider.summary(pod_uids()))
        return web.Response(body=body, content_type="application/json")

    async def cadvisor(_: web.Request) -> web.Response:
        return web.Response(text=provider.prometheus_text(), headers={"Content-Type": PROMETHEUS})

    async def resource(_: web.Request) -> web.Response:
        text = provider.resource_metrics_text()
        return web.Response(text=text, headers={"Content-Type": PROMETHEUS})

    return [
        web.get("/stats/summary", summary),
        web.get("/metrics/cadvisor", cadvisor),
        web.get("/metrics/resource", resource),
    ]
