"""watch: a chunked stream of events, one JSON line (or msgpack frame) per event, flushed as
it happens.

Start: resourceVersion unset or "0" → synthetic ADDED for every matching object, then changes
after that list; "N" → only events after N, no replay; N older than the retained history → one
ERROR event (410 Expired) and the end. Selectors apply to both old and new state, so an object
that stops matching arrives as DELETED and one that starts matching as ADDED. Bookmarks (when
allowed) carry the last revision seen; the stream ends cleanly after timeoutSeconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kcore.api import errors
from kcore.apiserver import printing, resources, selectors, wire
from kcore.apiserver.handlers.context import Context
from kcore.apiserver.objects import Obj, decode_stored
from kcore.storage.interface import CompactedError, Event, Watch

Predicate = Callable[[Obj], bool] | None
_END = object()


def translate(ev: Event, pred: Predicate) -> tuple[str, Obj] | None:
    """A store event as the watcher sees it through its selectors (None: not for it)."""
    obj = decode_stored(ev.kv.value, ev.kv.mod_revision)
    if pred is None:
        return ev.type, obj
    now = pred(obj)
    if ev.type != "MODIFIED":
        return (ev.type, obj) if now else None
    before = ev.prev is not None and pred(decode_stored(ev.prev.value, ev.prev.mod_revision))
    if now:
        return ("MODIFIED" if before else "ADDED"), obj
    return ("DELETED", obj) if before else None


class _Writer:
    """Encodes events for one watcher (JSON lines or msgpack frames; Table rows if asked)."""

    def __init__(self, ctx: Context, resp: web.StreamResponse) -> None:
        self.ctx, self.resp, self.headers_sent = ctx, resp, False

    async def send(self, type_: str, obj: Any) -> None:
        if self.ctx.accept.table and type_ in ("ADDED", "MODIFIED", "DELETED"):
            obj = printing.table(
                self.ctx.info.plural,
                [obj],
                headers=not self.headers_sent,
                include=self.ctx.param("includeObject", "Metadata"),
                table_version=self.ctx.accept.table_version,
            )
            self.headers_sent = True
        await self.resp.write(wire.frame({"type": type_, "object": obj}, self.ctx.accept.fmt))

    async def bookmark(self, revision: int) -> None:
        obj = {
            "kind": self.ctx.info.kind,
            "apiVersion": self.ctx.info.api_version,
            "metadata": {"resourceVersion": str(revision)},
        }
        await self.send("BOOKMARK", obj)

    async def expired(self, requested: int, oldest: int) -> None:
        err = errors.gone(f"too old resource version: {requested} ({oldest})")
        await self.send("ERROR", err.to_status())


def _start_revision(ctx: Context) -> int:
    rv = ctx.param("resourceVersion")
    if rv in ("", "0"):
        return 0
    try:
        return int(rv)
    except ValueError:
        raise errors.bad_request(f"invalid resourceVersion: {rv!r}") from None


async def _pump(w: Watch, queue: asyncio.Queue[Any]) -> None:
    try:
        async for ev in w:
            await queue.put(ev)
    except CompactedError as e:
        await queue.put(e)
    finally:
        await queue.put(_END)


def _timeout(ctx: Context) -> float:
    seconds = ctx.int_param("timeoutSeconds")
    if seconds > 0:
        return float(seconds)
    return ctx.server.config.watch_timeout * (1 + random.random())


async def watch(ctx: Context) -> web.StreamResponse:
    pred = selectors.predicate(
        ctx.info, ctx.param("labelSelector"), ctx.param("fieldSelector"), name=ctx.ri.name
    )
    start = _start_revision(ctx)
    initial: list[Obj] = []
    if start == 0:
        page = await ctx.rs.list(ctx.ri.namespace, predicate=pred)
        start, initial = page.revision, page.items
    resp = web.StreamResponse(status=200, headers={"Content-Type": ctx.accept.content_type})
    resp.enable_chunked_encoding()
    await resp.prepare(ctx.request)
    writer = _Writer(ctx, resp)
    for obj in initial:
        await writer.send("ADDED", obj)
    metrics = ctx.server.metrics
    metrics.watchers[ctx.info.group_resource] += 1
    try:
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            async with asyncio.timeout(_timeout(ctx)):
                await _stream(ctx, writer, pred, start)
    finally:
        metrics.watchers[ctx.info.group_resource] -= 1
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp


async def _stream(ctx: Context, writer: _Writer, pred: Predicate, start: int) -> None:
    prefix = resources.prefix(ctx.info, ctx.ri.namespace)
    store_watch = ctx.rs.store.watch(prefix, revision=start)
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)
    pump = asyncio.create_task(_pump(store_watch, queue))
    interval = ctx.server.config.bookmark_interval if ctx.flag("allowWatchBookmarks") else None
    last = start
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), interval)
            except TimeoutError:
                await writer.bookmark(last)
                continue
            if item is _END:
                return
            if isinstance(item, CompactedError):
                await writer.expired(item.requested, item.compacted)
                return
            last = item.revision
            out = translate(item, pred)
            if out is not None:
                await writer.send(*out)
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        await store_watch.close()
