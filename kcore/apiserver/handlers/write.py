"""create (POST), update (PUT) and patch (PATCH) of objects and their status subresource.

Every write goes through the same steps: decode, check kind and name, admission (server-set
metadata, namespace lifecycle), the kind's defaults and validation, then a store write
conditioned on the revision read, so concurrent writers never lose each other's changes.
"""

from __future__ import annotations

from typing import Any

from kcore.api import errors
from kcore.api.patch import json_patch, merge_patch, strategic
from kcore.apiserver import admission, objects, wire
from kcore.apiserver.handlers import delete as delete_handlers
from kcore.apiserver.handlers.context import Context, Reply
from kcore.apiserver.handlers.read import render_one
from kcore.apiserver.objects import Obj, meta

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


async def create(ctx: Context) -> Reply:
    raw = await ctx.body_object()
    objects.check_kind(ctx.info, raw)
    admission.set_namespace(ctx.info, raw, ctx.ri.namespace)
    admission.prepare_create(ctx.info, raw)
    lookup = ctx.server.namespace_lookup
    await admission.check_namespace(ctx.info, lookup, meta(raw).get("namespace", ""))
    obj = objects.admit(ctx.info, raw, strict=ctx.strict, nulls=ctx.body_nulls)
    if ctx.info.kind == "Service" and ctx.info.group == "":
        async with ctx.server.allocator.lock:
            await ctx.server.allocator.allocate(obj)
            return await _store_new(ctx, obj)
    return await _store_new(ctx, obj)


async def _store_new(ctx: Context, obj: Obj) -> Reply:
    if ctx.dry_run:
        return Reply(201, obj)
    created = await ctx.rs.create(obj)
    return Reply(201, render_one(ctx, created))


def check_identity(ctx: Context, raw: Obj) -> None:
    name = meta(raw).get("name")
    if name and name != ctx.ri.name:
        raise errors.bad_request(
            f"the name of the object ({name}) does not match the name on the URL ({ctx.ri.name})"
        )
    meta(raw)["name"] = ctx.ri.name
    admission.set_namespace(ctx.info, raw, ctx.ri.namespace)


async def admit_update(ctx: Context, new: Obj, current: Obj, *, strict: bool) -> Obj | None:
    """The object to store for an update of `current` to `new`, or None for a no-op."""
    check_identity(ctx, new)
    merged = admission.carry_over(ctx.info, new, current, subresource=ctx.ri.subresource)
    obj = objects.admit(ctx.info, merged, strict=strict, old=current)
    if ctx.ri.subresource != "status":
        admission.bump_generation(obj, current)
    if ctx.info.kind == "Service" and ctx.info.group == "":
        await ctx.server.allocator.allocate(obj, current)
    meta(obj)["resourceVersion"] = meta(current).get("resourceVersion", "")
    return None if admission.same_object(obj, current) else obj


async def _write(ctx: Context, change: Any, precondition_rv: str) -> Reply:
    async def write() -> Obj:
        return await ctx.rs.update(ctx.ri.namespace, ctx.ri.name, change,
                                   precondition_rv=precondition_rv, dry_run=ctx.dry_run,
                                   subresource=ctx.ri.subresource)  # fmt: skip

    if ctx.info.kind == "Service" and ctx.info.group == "":
        async with ctx.server.allocator.lock:
            obj = await write()
    else:
        obj = await write()
    if not ctx.dry_run:
        obj = await delete_handlers.finish_if_done(ctx, obj)
    return Reply(200, render_one(ctx, obj))


async def update(ctx: Context) -> Reply:
    raw = await ctx.body_object()
    objects.check_kind(ctx.info, raw)
    rv = str(meta(raw).get("resourceVersion") or "")

    async def change(current: Obj) -> Obj | None:
        return await admit_update(ctx, objects.deep_copy(raw), current, strict=ctx.strict)

    return await _write(ctx, change, rv)


def apply_patch(media: str, doc: Obj, patch: Any, kind: str) -> Any:
    try:
        if media == JSON_PATCH:
            if not isinstance(patch, list):
                raise errors.bad_request("json patch must be a JSON array of operations")
            return json_patch.apply(doc, patch)
        if not isinstance(patch, dict):
            raise errors.bad_request("patch body must be a JSON object")
        if media == MERGE_PATCH:
            return merge_patch.apply(doc, patch)
        return strategic.apply(doc, patch, kind)
    except ValueError as e:
        code = int(getattr(e, "code", 400))
        if code == 422:
            raise errors.StatusError(422, "Invalid", str(e)) from None
        raise errors.bad_request(str(e)) from None


async def patch(ctx: Context) -> Reply:
    media = wire.media_type(ctx.request.headers.get("Content-Type"))
    if media == APPLY_PATCH:
        raise errors.unsupported_media_type("server-side apply is not supported by kcore")
    if media not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH):
        raise errors.unsupported_media_type(
            f"the body of the request was in an unknown format - "
            f"accepted media types include: {JSON_PATCH}, "
            f"{MERGE_PATCH}, {STRATEGIC_PATCH}"
        )
    body = wire.decode_body(await ctx.body(), "application/json")
    kind = ctx.info.kind if ctx.ri.subresource != "scale" else "Scale"

    async def change(current: Obj) -> Obj | None:
        patched = apply_patch(media, current, body, kind)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch result is not a JSON object")
        want_rv = str(meta(patched).get("resourceVersion") or "")
        if want_rv and want_rv != meta(current).get("resourceVersion"):
            raise ctx.rs.conflict(ctx.ri.name)
        objects.check_kind(ctx.info, patched)
        return await admit_update(ctx, patched, current, strict=ctx.strict)

    return await _write(ctx, change, "")
