"""metrics.k8s.io/v1beta1: PodMetrics and NodeMetrics computed from the kubelets' summaries.

Nothing is stored. A get or list asks the kubelet of every node with a kubelet endpoint (or,
for one pod, of its node) for /stats/summary, the way metrics-server scrapes them, and turns
each summary into NodeMetrics (node cpu usageNanoCores, memory workingSetBytes) and
PodMetrics (per container, for pods that exist and match the label selector; a pod or node
whose CPU rate is not known yet is left out, as metrics-server does). A kubelet that
does not answer within a few seconds leaves its node and pods out, as metrics-server does;
`kubectl top` then prints "metrics not available yet" for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from kcore.api import errors, timeutil
from kcore.api.registry import ResourceInfo
from kcore.apiserver import selectors
from kcore.apiserver.handlers.context import Context, Reply
from kcore.apiserver.objects import Obj

GROUP = "metrics.k8s.io"
WINDOW = "1s"  # kubelet housekeeping interval: usageNanoCores spans the last two samples
_TIMEOUT = aiohttp.ClientTimeout(total=5)


def serves(info: ResourceInfo) -> bool:
    return info.group == GROUP


def handler(verb: str) -> Callable[[Context], Awaitable[Reply]]:
    if verb == "get":
        return get
    if verb == "list":
        return list_metrics
    raise errors.method_not_allowed(f"{verb} is not supported on metrics.k8s.io resources")


async def get(ctx: Context) -> Reply:
    items = await _items(ctx, name=ctx.ri.name)
    if not items:
        raise errors.StatusError(
            404, "NotFound", f'{ctx.info.plural}.{GROUP} "{ctx.ri.name}" not found'
        )
    return Reply(200, items[0])


async def list_metrics(ctx: Context) -> Reply:
    items = await _items(ctx, name="")
    doc = {"kind": ctx.info.list_kind, "apiVersion": ctx.info.api_version,
           "metadata": {}, "items": items}  # fmt: skip
    return Reply(200, doc)


async def _items(ctx: Context, *, name: str) -> list[Obj]:
    nodes = await _nodes(ctx, name if not ctx.info.namespaced else "")
    summaries = await asyncio.gather(*(_summary(ctx, node) for node in nodes))
    found = [s for s in summaries if s is not None]
    if not ctx.info.namespaced:
        return [_node_metrics(s) for s in found if _complete(s.get("node") or {})]
    pods = await _pods(ctx, name)
    entries = [p for s in found for p in s.get("pods") or [] if _key(p) in pods]
    return [_pod_metrics(p, pods[_key(p)]) for p in entries if _pod_complete(p)]


def _complete(stats: dict[str, Any]) -> bool:
    """A CPU rate needs two samples; until then metrics-server leaves the object out too."""
    cpu, memory = stats.get("cpu") or {}, stats.get("memory") or {}
    return "usageNanoCores" in cpu and "workingSetBytes" in memory


def _pod_complete(pod: dict[str, Any]) -> bool:
    containers = pod.get("containers") or []
    return bool(containers) and all(_complete(c) for c in containers)


async def _nodes(ctx: Context, name: str) -> list[Obj]:
    info = selectors.predicate(
        ctx.info, ctx.param("labelSelector") if not ctx.info.namespaced else "", "", name=name
    )
    store = ctx.store_for("", "v1", "nodes")
    return (await store.list("", predicate=info)).items


async def _pods(ctx: Context, name: str) -> dict[tuple[str, str], Obj]:
    store = ctx.store_for("", "v1", "pods")
    pred = selectors.predicate(store.info, ctx.param("labelSelector"), "", name=name)
    page = await store.list(ctx.ri.namespace, predicate=pred)
    return {(p["metadata"].get("namespace", ""), p["metadata"]["name"]): p for p in page.items}


async def _summary(ctx: Context, node: Obj) -> dict[str, Any] | None:
    address = _kubelet_address(node)
    if address is None:
        return None
    session = ctx.server.kubelet_session()
    try:
        async with session.get(f"https://{address}/stats/summary", ssl=False,
                               timeout=_TIMEOUT) as resp:  # fmt: skip
            if resp.status != 200:
                return None
            doc: dict[str, Any] = await resp.json(content_type=None)
            return doc
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return None


def _kubelet_address(node: Obj) -> str | None:
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = addrs.get("InternalIP") or addrs.get("Hostname")
    return f"{host}:{port}" if port and host else None


def _key(pod: dict[str, Any]) -> tuple[str, str]:
    ref = pod.get("podRef") or {}
    return ref.get("namespace", ""), ref.get("name", "")


def _usage(stats: dict[str, Any]) -> dict[str, str]:
    cpu = (stats.get("cpu") or {}).get("usageNanoCores", 0)
    memory = (stats.get("memory") or {}).get("workingSetBytes", 0)
    return {
        "cpu": f"{cpu}n",
        "memory": f"{memory // 1024}Ki" if memory % 1024 == 0 else str(memory),
    }


def _stamp(stats: dict[str, Any]) -> str:
    return str((stats.get("cpu") or {}).get("time") or timeutil.now())


def _node_metrics(summary: dict[str, Any]) -> Obj:
    node = summary["node"]
    meta = {"name": node.get("nodeName", ""), "creationTimestamp": timeutil.now()}
    return {"kind": "NodeMetrics", "apiVersion": f"{GROUP}/v1beta1", "metadata": meta,
            "timestamp": _stamp(node), "window": WINDOW, "usage": _usage(node)}  # fmt: skip


def _pod_metrics(pod: dict[str, Any], obj: Obj) -> Obj:
    src = obj["metadata"]
    meta = {"name": src["name"], "namespace": src.get("namespace", ""),
            "creationTimestamp": timeutil.now(), "labels": src.get("labels") or {}}  # fmt: skip
    containers = [
        {"name": c.get("name", ""), "usage": _usage(c)} for c in pod.get("containers", [])
    ]
    return {"kind": "PodMetrics", "apiVersion": f"{GROUP}/v1beta1", "metadata": meta,
            "timestamp": _stamp(pod), "window": WINDOW, "containers": containers}  # fmt: skip
