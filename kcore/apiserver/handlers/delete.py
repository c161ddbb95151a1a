"""delete and deletecollection with Kubernetes' semantics.

An object with finalizers (or a Foreground/Orphan propagation policy, which adds the
`foregroundDeletion`/`orphan` finalizer for the garbage collector) gets `deletionTimestamp` and
stays until its finalizers are gone. A pod bound to a node is deleted gracefully: it gets
`deletionTimestamp` = now + grace and `deletionGracePeriodSeconds`, and is removed when the
kubelet deletes it again with gracePeriodSeconds=0; unbound or finished pods go at once.
Deleting a namespace marks it Terminating, removes everything in it, then removes it (kcore's
API server does the namespace controller's content cleanup itself).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from kcore.api import errors, registry, timeutil
from kcore.apiserver import selectors, wire
from kcore.apiserver.handlers.context import Context, Reply
from kcore.apiserver.objects import Obj, meta
from kcore.apiserver.resource_store import ResourceStore

_POLICY_FINALIZER = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}


@dataclass(slots=True)
class DeleteOptions:
    grace: int | None = None
    policy: str = ""
    uid: str = ""
    resource_version: str = ""


async def read_options(ctx: Context) -> DeleteOptions:
    data = await ctx.body()
    doc: dict[str, Any] = wire.decode_object(data, ctx.request.content_type) if data.strip() else {}
    return options_from(
        doc,
        query_grace=ctx.int_param("gracePeriodSeconds")
        if ctx.param("gracePeriodSeconds")
        else None,
        query_policy=ctx.param("propagationPolicy"),
        query_orphan=ctx.flag("orphanDependents"),
    )


def options_from(
    doc: dict[str, Any],
    *,
    query_grace: int | None = None,
    query_policy: str = "",
    query_orphan: bool = False,
) -> DeleteOptions:
    """A DeleteOptions document (query parameters win over its grace period); fields of the
    wrong JSON type are a 400."""
    pre = doc.get("preconditions") or {}
    if not isinstance(pre, dict):
        raise errors.bad_request("DeleteOptions.preconditions must be a JSON object")
    grace = doc.get("gracePeriodSeconds") if query_grace is None else query_grace
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise errors.bad_request("DeleteOptions.gracePeriodSeconds must be an integer")
    policy = doc.get("propagationPolicy") or query_policy
    if doc.get("orphanDependents") is True or query_orphan:
        policy = policy or "Orphan"
    if policy and policy not in ("Foreground", "Background", "Orphan"):
        raise errors.bad_request(f"unsupported propagationPolicy {policy!r}")
    return DeleteOptions(
        grace, policy or "", str(pre.get("uid") or ""), str(pre.get("resourceVersion") or "")
    )


def check_preconditions(rs: ResourceStore, obj: Obj, opts: DeleteOptions) -> None:
    m = meta(obj)
    if opts.uid and opts.uid != m.get("uid"):
        raise rs.conflict(
            m.get("name", ""),
            f"Precondition failed: UID in precondition: "
            f"{opts.uid}, UID in object meta: {m.get('uid')}",
        )
    if opts.resource_version and opts.resource_version != m.get("resourceVersion"):
        raise rs.conflict(
            m.get("name", ""),
            f"Precondition failed: ResourceVersion in "
            f"precondition: {opts.resource_version}, ResourceVersion in object "
            f"meta: {m.get('resourceVersion')}",
        )


def pod_grace(pod: Obj, opts: DeleteOptions) -> int:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        return 0
    if opts.grace is not None:
        return max(opts.grace, 0)
    return int(spec.get("terminationGracePeriodSeconds", 30))


def _grace(ctx: Context, obj: Obj, opts: DeleteOptions) -> int:
    if ctx.info.kind == "Pod" and ctx.info.group == "":
        return pod_grace(obj, opts)
    return 0


def _success(ctx: Context, obj: Obj) -> Any:
    if ctx.info.kind == "Pod":
        return obj
    m = meta(obj)
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": m.get("name", ""),
            "group": ctx.info.group,
            "kind": ctx.info.plural,
            "uid": m.get("uid", ""),
        },
    }


async def delete_object(ctx: Context, rs: ResourceStore, obj: Obj, opts: DeleteOptions) -> Obj:
    """Delete now or mark for deletion; returns the deleted or marked object."""
    check_preconditions(rs, obj, opts)
    m = meta(obj)
    grace = _grace(ctx, obj, opts) if rs is ctx.rs else 0
    add = _POLICY_FINALIZER.get(opts.policy)
    pending = list(m.get("finalizers") or []) + ([add] if add else [])
    if grace == 0 and not pending:
        return await rs.delete(
            m.get("namespace", ""), m["name"], expected_revision=int(m["resourceVersion"])
        )
    return await _mark(rs, obj, grace, add)


async def _mark(rs: ResourceStore, obj: Obj, grace: int, add: str | None) -> Obj:
    async def change(current: Obj) -> Obj | None:
        m = meta(current)
        if add and add not in (m.get("finalizers") or []):
            m["finalizers"] = [*(m.get("finalizers") or []), add]
        old_grace = m.get("deletionGracePeriodSeconds")
        if m.get("deletionTimestamp") and old_grace is not None and old_grace <= grace:
            return current if add else None
        when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=grace)
        m["deletionTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        m["deletionGracePeriodSeconds"] = grace
        return current

    m = meta(obj)
    marked = await rs.update(
        m.get("namespace", ""), m["name"], change, precondition_rv=m["resourceVersion"]
    )
    if not meta(marked).get("finalizers") and meta(marked).get("deletionGracePeriodSeconds") == 0:
        return await rs.delete(
            m.get("namespace", ""),
            m["name"],
            expected_revision=int(meta(marked)["resourceVersion"]),
        )
    return marked


async def finish_if_done(ctx: Context, obj: Obj) -> Obj:
    """After an update: an object marked for deletion whose finalizers are gone (and whose
    grace period is over, for pods) is removed."""
    m = meta(obj)
    if not m.get("deletionTimestamp") or m.get("finalizers"):
        return obj
    if ctx.info.kind == "Pod" and int(m.get("deletionGracePeriodSeconds") or 0) > 0:
        return obj
    try:
        return await ctx.rs.delete(
            m.get("namespace", ""), m["name"], expected_revision=int(m["resourceVersion"])
        )
    except errors.StatusError as e:
        if e.code in (404, 409):
            return obj
        raise


async def delete(ctx: Context) -> Reply:
    opts = await read_options(ctx)
    obj = await ctx.rs.get(ctx.ri.namespace, ctx.ri.name)
    if ctx.dry_run:
        check_preconditions(ctx.rs, obj, opts)
        return Reply(200, obj)
    if ctx.info.kind == "Namespace" and ctx.info.group == "":
        return Reply(200, await delete_namespace(ctx, obj, opts))
    out = await delete_object(ctx, ctx.rs, obj, opts)
    return Reply(200, out if meta(out).get("deletionTimestamp") else _success(ctx, out))


async def delete_collection(ctx: Context) -> Reply:
    opts = await read_options(ctx)
    pred = selectors.predicate(ctx.info, ctx.param("labelSelector"), ctx.param("fieldSelector"))
    page = await ctx.rs.list(ctx.ri.namespace, predicate=pred)
    if ctx.dry_run:
        return Reply(200, {"kind": ctx.info.list_kind, "apiVersion": ctx.info.api_version,
                           "metadata": {"resourceVersion": str(page.revision)},
                           "items": page.items})  # fmt: skip
    deleted = []
    for obj in page.items:
        try:
            deleted.append(await delete_object(ctx, ctx.rs, obj, opts))
        except errors.StatusError as e:
            if e.code not in (404, 409):
                raise
    return Reply(
        200,
        {
            "kind": ctx.info.list_kind,
            "apiVersion": ctx.info.api_version,
            "metadata": {"resourceVersion": str(page.revision)},
            "items": deleted,
        },
    )


async def delete_namespace(ctx: Context, ns: Obj, opts: DeleteOptions) -> Obj:
    check_preconditions(ctx.rs, ns, opts)
    name = meta(ns)["name"]

    async def terminate(current: Obj) -> Obj | None:
        m = meta(current)
        if m.get("deletionTimestamp"):
            return None
        m["deletionTimestamp"] = timeutil.now()
        m["deletionGracePeriodSeconds"] = 0
        current.setdefault("status", {})["phase"] = "Terminating"
        return current

    marked = await ctx.rs.update("", name, terminate)
    await _delete_contents(ctx, name)
    return await finalize_namespace(ctx.rs, name) or marked


async def _delete_contents(ctx: Context, namespace: str) -> None:
    for info in registry.all_resources():
        if not info.namespaced or "delete" not in info.verbs:
            continue
        rs = ctx.store_for(info.group, info.version, info.plural)
        for obj in (await rs.list(namespace)).items:
            m = meta(obj)
            try:
                await rs.delete(namespace, m["name"])
            except errors.StatusError:
                pass


async def finalize_namespace(rs: ResourceStore, name: str) -> Obj | None:
    """Remove a terminating namespace whose spec.finalizers other than kcore's own
    ("kubernetes", handled above) and metadata.finalizers are empty."""
    ns = await rs.get("", name)
    m = meta(ns)
    others = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"]
    if not m.get("deletionTimestamp") or others or m.get("finalizers"):
        return None
    try:
        return await rs.delete("", name, expected_revision=int(m["resourceVersion"]))
    except errors.StatusError as e:
        if e.code in (404, 409):
            return None
        raise
