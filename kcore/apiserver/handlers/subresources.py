"""Subresources: scale (autoscaling/v1 Scale over spec.replicas), pods/binding (set
spec.nodeName once), pods/eviction (a graceful delete), pods/log (streamed from the kubelet of
the pod's node), namespaces/finalize. status goes through the generic write handlers."""

from __future__ import annotations

import contextlib
from typing import Any

import aiohttp
from aiohttp import web

from kcore.api import errors, timeutil
from kcore.apiserver import admission, objects, printing, wire
from kcore.apiserver.handlers import delete as delete_handlers
from kcore.apiserver.handlers import write
from kcore.apiserver.handlers.context import Context, Reply
from kcore.apiserver.objects import Obj, meta


def to_scale(obj: Obj) -> dict[str, Any]:
    m = meta(obj)
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: m[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in m
        },
        "spec": {"replicas": int(spec.get("replicas", 0))},
        "status": {
            "replicas": int(status.get("replicas", 0)),
            "selector": printing.selector_string(spec.get("selector")).replace("<none>", ""),
        },
    }


def _section(doc: Any, key: str, kind: str) -> dict[str, Any]:
    """doc[key] as an object ({} when absent); any other JSON type is a 400, never a crash."""
    if not isinstance(doc, dict):
        raise errors.bad_request(f"{kind} must be a JSON object")
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.bad_request(f"{kind}.{key} must be a JSON object")
    return value


def _replicas(scale: Any) -> int:
    value = _section(scale, "spec", "Scale").get("replicas", 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.bad_request("Scale.spec.replicas must be an integer")
    return value


async def get_scale(ctx: Context) -> Reply:
    return Reply(200, to_scale(await ctx.rs.get(ctx.ri.namespace, ctx.ri.name)))


async def _write_scale(ctx: Context, new_scale: Any, precondition_rv: str) -> Reply:
    async def change(current: Obj) -> Obj | None:
        scale = new_scale(to_scale(current)) if callable(new_scale) else new_scale
        want_rv = str(_section(scale, "metadata", "Scale").get("resourceVersion") or "")
        if want_rv and want_rv != meta(current).get("resourceVersion"):
            raise ctx.rs.conflict(ctx.ri.name)
        new = objects.deep_copy(current)
        new.setdefault("spec", {})["replicas"] = _replicas(scale)
        obj = objects.admit(ctx.info, new, strict=False, old=current)
        admission.bump_generation(obj, current)
        return None if admission.same_object(obj, current) else obj

    obj = await ctx.rs.update(
        ctx.ri.namespace,
        ctx.ri.name,
        change,
        precondition_rv=precondition_rv,
        dry_run=ctx.dry_run,
    )
    return Reply(200, to_scale(obj))


async def update_scale(ctx: Context) -> Reply:
    body = wire.decode_object(await ctx.body(), "application/json")
    want_rv = _section(body, "metadata", "Scale").get("resourceVersion")
    return await _write_scale(ctx, body, str(want_rv or ""))


async def patch_scale(ctx: Context) -> Reply:
    media = wire.media_type(ctx.request.headers.get("Content-Type"))
    if media not in (write.JSON_PATCH, write.MERGE_PATCH, write.STRATEGIC_PATCH):
        raise errors.unsupported_media_type(f"unsupported patch type {media!r}")
    body = wire.decode_body(await ctx.body(), "application/json")
    return await _write_scale(ctx, lambda s: write.apply_patch(media, s, body, "Scale"), "")


async def bind(ctx: Context) -> Reply:
    """pods/NAME/binding, or the bindings resource (the pod named by the Binding)."""
    body = await ctx.body_object()
    named = _section(body, "metadata", "Binding").get("name")
    pod_name = ctx.ri.name or (named if isinstance(named, str) else "")
    pods = ctx.store_for("", "v1", "pods")
    node = _section(body, "target", "Binding").get("name")
    if not node or not isinstance(node, str):
        raise errors.bad_request("Binding.target.name is required")

    async def change(pod: Obj) -> Obj | None:
        spec = pod.setdefault("spec", {})
        if meta(pod).get("deletionTimestamp"):
            raise pods.conflict(pod_name, "pod is being deleted, cannot be assigned")
        if spec.get("nodeName"):
            raise pods.conflict(
                pod_name, f'pod {pod_name} is already assigned to node "{spec["nodeName"]}"'
            )
        spec["nodeName"] = node
        conds = [
            c
            for c in (pod.get("status") or {}).get("conditions") or []
            if c.get("type") != "PodScheduled"
        ]
        conds.append(
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": timeutil.now()}
        )
        pod.setdefault("status", {})["conditions"] = conds
        return pod

    await pods.update(ctx.ri.namespace, pod_name, change)
    return Reply(
        201,
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
    )


async def evict(ctx: Context) -> Reply:
    body = await ctx.body_object()
    opts = delete_handlers.options_from(_section(body, "deleteOptions", "Eviction"))
    pod = await ctx.rs.get(ctx.ri.namespace, ctx.ri.name)
    await delete_handlers.delete_object(ctx, ctx.rs, pod, opts)
    return Reply(
        201,
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
    )


async def finalize(ctx: Context) -> Reply:
    body = await ctx.body_object()
    finalizers = _section(body, "spec", "Namespace").get("finalizers") or []
    if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
        raise errors.bad_request("Namespace.spec.finalizers must be a list of strings")

    async def change(ns: Obj) -> Obj | None:
        ns.setdefault("spec", {})["finalizers"] = finalizers
        return ns

    obj = await ctx.rs.update("", ctx.ri.name, change)
    return Reply(200, await delete_handlers.finalize_namespace(ctx.rs, ctx.ri.name) or obj)


def pick_container(ctx: Context, pod: Obj) -> str:
    """The container a log or exec request means: ?container=, or the pod's only one."""
    names = [str(c.get("name", "")) for c in (pod.get("spec") or {}).get("containers") or []]
    wanted = ctx.param("container")
    if wanted:
        init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
        if wanted not in names and wanted not in init:
            raise errors.bad_request(f"container {wanted} is not valid for pod {ctx.ri.name}")
        return wanted
    if len(names) == 1:
        return names[0]
    raise errors.bad_request(
        f"a container name must be specified for pod {ctx.ri.name}, "
        f"choose one of: [{' '.join(names)}]"
    )


async def kubelet_address(ctx: Context, node_name: str) -> str:
    """host:port of the node's kubelet server, from the node's status."""
    node = await ctx.store_for("", "v1", "nodes").get("", node_name)
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = addrs.get("InternalIP") or addrs.get("Hostname")
    if not port or not host:
        raise errors.StatusError(
            503, "ServiceUnavailable", f"node {node_name} reports no kubelet endpoint"
        )
    return f"{host}:{port}"


async def logs(ctx: Context) -> web.StreamResponse:
    pod = await ctx.rs.get(ctx.ri.namespace, ctx.ri.name)
    container = pick_container(ctx, pod)
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {ctx.ri.name} does not have a host assigned")
    address = await kubelet_address(ctx, node)
    url = f"https://{address}/containerLogs/{ctx.ri.namespace}/{ctx.ri.name}/{container}"
    params = {k: v for k, v in ctx.query.items() if k != "container"}
    session = ctx.server.kubelet_session()
    try:
        upstream = await session.get(url, params=params, ssl=False)
    except (aiohttp.ClientError, OSError) as e:
        raise errors.StatusError(
            503,
            "ServiceUnavailable",
            f"the kubelet of node {node} at {address} is not answering: {e}",
        ) from None
    return await _relay(ctx, upstream)


async def _relay(ctx: Context, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    async with upstream:
        if upstream.status != 200:
            body = await upstream.read()
            return web.Response(
                status=upstream.status, body=body, content_type=upstream.content_type
            )
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(ctx.request)
        with contextlib.suppress(ConnectionResetError, aiohttp.ClientPayloadError):
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
        await resp.write_eof()
        return resp
