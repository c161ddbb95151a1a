"""watch: a chunked stream of events, one JSON line (or msgpack frame) per event, flushed as
it happens, served from the resource's watch cache.

Start: resourceVersion unset or "0" → synthetic ADDED for every matching object, then changes;
"N" → only events after N, no replay; N older than the cache's window → one ERROR event
(410 Expired) and the end. Selectors apply to old and new state (the cache turns an object that
leaves the selection into DELETED and one that enters into ADDED). Events are written as the
cache's shared encodings, batched per wake-up; Table watches encode per watcher (the first
event carries the column definitions). Bookmarks (when allowed) carry the cache's revision;
the stream ends cleanly after timeoutSeconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kcore.api import errors
from kcore.apiserver import caches, printing, resources, selectors, wire
from kcore.apiserver.handlers.context import Context
from kcore.storage.interface import CompactedError, StorageError
from kcore.storage.watchcache import CachedEvent, CacheWatcher

COALESCE = 0.05  # seconds: the longest a busy stream holds an event back to batch it
COALESCE_FROM = 200  # watchers of one resource from which busy streams coalesce


def _start_revision(ctx: Context) -> int:
    rv = ctx.param("resourceVersion")
    if rv in ("", "0"):
        return 0
    try:
        return int(rv)
    except ValueError:
        raise errors.bad_request(f"invalid resourceVersion: {rv!r}") from None


def _timeout(ctx: Context) -> float:
    seconds = ctx.int_param("timeoutSeconds")
    if seconds > 0:
        return float(seconds)
    return ctx.server.config.watch_timeout * (1 + random.random())


class _Encoder:
    """Bytes for one watcher: the shared encodings, or a per-watcher Table row."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.headers_sent = ctx, False
        self.fmt = caches.wire_format(ctx.info, ctx.accept.fmt)

    def __call__(self, ev: CachedEvent) -> bytes:
        if not self.ctx.accept.table or ev.type == "BOOKMARK":
            return ev.encoded(self.fmt)
        # cells print the stored form (the same columns in every version), as list does
        served = [caches.view(self.ctx.info, ev.object)]
        table = printing.table(self.ctx.info.plural, [ev.object], headers=not self.headers_sent,
                               served=served,
                               include=self.ctx.param("includeObject", "Metadata"),
                               table_version=self.ctx.accept.table_version)  # fmt: skip
        self.headers_sent = True
        return wire.frame({"type": ev.type, "object": table}, self.ctx.accept.fmt)

    def error(self, err: errors.StatusError) -> bytes:
        return wire.frame({"type": "ERROR", "object": err.to_status()}, self.ctx.accept.fmt)


def _open(ctx: Context) -> CacheWatcher | errors.StatusError:
    pred = selectors.predicate(ctx.info, ctx.param("labelSelector"), ctx.param("fieldSelector"),
                               name=ctx.ri.name)  # fmt: skip
    start = _start_revision(ctx)
    cache = ctx.server.caches.get(ctx.info)
    try:
        return cache.watch(resources.prefix(ctx.info, ctx.ri.namespace), revision=start,
                           predicate=pred, send_initial=start == 0,
                           bookmarks=ctx.flag("allowWatchBookmarks"))  # fmt: skip
    except CompactedError as e:
        oldest = e.compacted if e.compacted else cache.current_revision
        return errors.gone(f"too old resource version: {start} ({oldest})")


async def watch(ctx: Context) -> web.StreamResponse:
    watcher = _open(ctx)
    resp = web.StreamResponse(status=200, headers={"Content-Type": ctx.accept.content_type})
    resp.enable_chunked_encoding()
    await resp.prepare(ctx.request)
    encode = _Encoder(ctx)
    if isinstance(watcher, errors.StatusError):
        await resp.write(encode.error(watcher))
        await resp.write_eof()
        return resp
    gauge = ctx.server.metrics.watchers
    gauge[ctx.info.group_resource] += 1
    try:
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            async with asyncio.timeout(_timeout(ctx)):
                count = functools.partial(gauge.__getitem__, ctx.info.group_resource)
                await _stream(watcher, resp, encode, count)
    finally:
        watcher.close()
        gauge[ctx.info.group_resource] -= 1
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp


async def _stream(
    watcher: CacheWatcher, resp: web.StreamResponse, encode: Any, watchers: Callable[[], int]
) -> None:
    """Write each batch as one chunk. While the resource has COALESCE_FROM watchers or more, a
    busy stream writes at most once per COALESCE seconds: socket writes then dominate the
    server's time, and letting a few milliseconds of events gather into one write divides
    their number. With fewer watchers (controllers, kubectl) every batch goes out at once, and
    an idle stream's first event always does."""
    loop = asyncio.get_running_loop()
    last_write = -COALESCE
    while True:
        gap = last_write + COALESCE - loop.time()
        if gap > 0 and watchers() >= COALESCE_FROM:
            await asyncio.sleep(gap)
        try:
            batch = await watcher.next_batch()
        except StorageError:
            return  # the cache ended this watcher (too slow, or relisting): clients re-watch
        if not batch:
            return
        await resp.write(b"".join(encode(ev) for ev in batch))
        last_write = loop.time()
