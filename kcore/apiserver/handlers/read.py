"""get and list: one object, or a page of objects filtered by selectors, read at one
revision, with opaque continue tokens and optional server-side printing (Table)."""

from __future__ import annotations

import base64
from typing import Any

from kcore.api import errors
from kcore.apiserver import printing, resources, selectors, wire
from kcore.apiserver.handlers.context import Context, Reply
from kcore.apiserver.objects import Obj, conversion_of


def render_one(ctx: Context, obj: Obj) -> Any:
    if ctx.accept.table:
        conversion = conversion_of(ctx.info)
        stored = obj if conversion is None else conversion.into(obj, check=False)
        return printing.table(
            ctx.info.plural,
            [stored],  # printed from the stored form: the same columns in every version
            served=[obj],
            include=ctx.param("includeObject", "Metadata"),
            list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")},
            table_version=ctx.accept.table_version,
        )
    return obj


async def get(ctx: Context) -> Reply:
    obj = await ctx.rs.get(ctx.ri.namespace, ctx.ri.name)
    return Reply(200, render_one(ctx, obj))


def encode_continue(revision: int, key: str) -> str:
    return base64.urlsafe_b64encode(wire.encode_json({"rv": revision, "start": key})).decode()


def decode_continue(token: str) -> tuple[int, str]:
    try:
        doc = wire.decode_json(base64.urlsafe_b64decode(token.encode()))
        return int(doc["rv"]), str(doc["start"])
    except Exception:
        raise errors.bad_request(f"invalid continue token: {token!r}") from None


def _int_rv(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f"invalid resourceVersion: {value!r}") from None


def list_position(ctx: Context) -> tuple[int, str, bool]:
    """(revision, start_after, exact) for a list: a continue token pins both; Exact pins the
    revision; "0" takes whatever the cache has; "N" is at least N; unset is the latest."""
    if token := ctx.param("continue"):
        revision, start = decode_continue(token)
        return revision, start, True
    rv = ctx.param("resourceVersion")
    if not rv:
        return 0, "", False
    if ctx.param("resourceVersionMatch") == "Exact":
        return _int_rv(rv), "", True
    if rv == "0":
        return ctx.server.caches.get(ctx.info).current_revision, "", False
    return _int_rv(rv), "", False


async def list_objects(ctx: Context) -> Reply:
    pred = selectors.predicate(ctx.info, ctx.param("labelSelector"), ctx.param("fieldSelector"))
    revision, start, exact = list_position(ctx)
    cache = ctx.server.caches.get(ctx.info)
    page = await cache.list(resources.prefix(ctx.info, ctx.ri.namespace), revision=revision,
                            limit=max(ctx.int_param("limit"), 0), start_after=start,
                            predicate=pred, exact=exact)  # fmt: skip
    stored = [o.object for o in page.items]
    conversion = conversion_of(ctx.info)
    items = stored if conversion is None else [conversion.out(o) for o in stored]
    list_meta: dict[str, Any] = {"resourceVersion": str(page.revision)}
    if page.more:
        list_meta["continue"] = encode_continue(page.revision, page.last_key)
        if page.remaining:
            list_meta["remainingItemCount"] = page.remaining
    if ctx.accept.table:
        doc = printing.table(ctx.info.plural, stored, list_meta=list_meta, served=items,
                             include=ctx.param("includeObject", "Metadata"),
                             table_version=ctx.accept.table_version)  # fmt: skip
        return Reply(200, doc)
    doc = {"kind": ctx.info.list_kind, "apiVersion": ctx.info.api_version,
           "metadata": list_meta, "items": items}  # fmt: skip
    return Reply(200, doc)
