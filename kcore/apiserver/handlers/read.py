"""get and list: one object, or a page of objects filtered by selectors, read at one
revision, with opaque continue tokens and optional server-side printing (Table)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from kcore.api import errors
from kcore.apiserver import printing, selectors, wire
from kcore.apiserver.handlers.context import Context, Reply
from kcore.apiserver.objects import Obj


def render_one(ctx: Context, obj: Obj) -> Any:
    if ctx.accept.table:
        return printing.table(
            ctx.info.plural,
            [obj],
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
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise errors.bad_request(f"invalid continue token: {token!r}") from None
    except Exception:
        raise errors.bad_request(f"invalid continue token: {token!r}") from None


def list_revision(ctx: Context) -> int:
    """0 (latest) unless resourceVersionMatch=Exact pins a revision."""
    rv = ctx.param("resourceVersion")
    if ctx.param("resourceVersionMatch") == "Exact" and rv:
        try:
            return int(rv)
        except ValueError:
            raise errors.bad_request(f"invalid resourceVersion: {rv!r}") from None
    return 0


async def list_objects(ctx: Context) -> Reply:
    pred = selectors.predicate(ctx.info, ctx.param("labelSelector"), ctx.param("fieldSelector"))
    revision, start = list_revision(ctx), ""
    if token := ctx.param("continue"):
        revision, start = decode_continue(token)
    limit = max(ctx.int_param("limit"), 0)
    page = await ctx.rs.list(
        ctx.ri.namespace, revision=revision, limit=limit, start_after=start, predicate=pred
    )
    list_meta: dict[str, Any] = {"resourceVersion": str(page.revision)}
    if page.next_key:
        list_meta["continue"] = encode_continue(page.revision, page.next_key)
    if ctx.accept.table:
        doc = printing.table(
            ctx.info.plural,
            page.items,
            list_meta=list_meta,
            include=ctx.param("includeObject", "Metadata"),
            table_version=ctx.accept.table_version,
        )
        return Reply(200, doc)
    doc = {
        "kind": ctx.info.list_kind,
        "apiVersion": ctx.info.api_version,
        "metadata": list_meta,
        "items": page.items,
    }
    return Reply(200, doc)
