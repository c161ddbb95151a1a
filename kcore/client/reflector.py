"""The reflector: keeps a sink in step with the server by list, then watch.

It lists, hands the sink the full set and the list's resourceVersion, then watches from that
version, feeding each event to the sink. Bookmarks only advance the version. When the stream
ends cleanly it re-watches from the last version seen; on 410 Expired it relists at once; on
any other failure it waits (exponential backoff with jitter) and relists. The source is a
small `ListerWatcher` protocol: the REST client implements it, tests feed canned streams.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any, Generic, Protocol, TypeVar

import aiohttp

from kcore.api.errors import StatusError
from kcore.client.backoff import Backoff
from kcore.client.meta import resource_version_of
from kcore.client.rest import Client, EventStream, Kind, ObjectList, WatchEvent

log = logging.getLogger(__name__)
T = TypeVar("T")


class ListerWatcher(Protocol[T]):
    """What a reflector consumes: a full list, and the events after a resourceVersion."""

    async def list(self) -> ObjectList[T]: ...

    def watch(self, resource_version: str) -> EventStream[T]: ...


class Sink(Protocol[T]):
    """Where a reflector delivers: the whole set after a list, then one event at a time."""

    async def replace(self, items: list[T], resource_version: str) -> None: ...

    async def apply(self, event: WatchEvent[T]) -> None: ...


class ClientListerWatcher(Generic[T]):
    """ListerWatcher over the REST client for one kind (optionally one namespace/selector)."""

    def __init__(
        self,
        client: Client,
        kind: Kind,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> None:
        self.client, self.kind = client, kind
        self._filters: dict[str, Any] = {
            "namespace": namespace,
            "label_selector": label_selector,
            "field_selector": field_selector,
        }
        self._page_size = page_size

    async def list(self) -> ObjectList[T]:
        return await self.client.list_all(self.kind, page_size=self._page_size, **self._filters)

    def watch(self, resource_version: str) -> EventStream[T]:
        # Spread reconnects: each watch asks the server to end it after 5-10 minutes.
        timeout = random.randint(300, 600)
        return self.client.watch(
            self.kind,
            resource_version=resource_version,
            timeout_seconds=timeout,
            **self._filters,
        )


RETRYABLE: tuple[type[BaseException], ...] = (
    StatusError,
    aiohttp.ClientError,
    TimeoutError,
    OSError,
    ValueError,
)


class Reflector(Generic[T]):
    def __init__(
        self,
        source: ListerWatcher[T],
        sink: Sink[T],
        *,
        name: str = "",
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.source, self.sink, self.name = source, sink, name
        self.backoff = backoff or Backoff(initial=0.8, factor=2.0, cap=30.0, jitter=1.0)
        self._sleep = sleep
        self.last_resource_version = ""
        self.lists = 0  # how many times it has listed (relists included)

    async def run(self) -> None:
        """List and watch until cancelled."""
        while True:
            try:
                await self._list_and_watch()
            except StatusError as exc:
                if exc.code != 410:
                    await self._fail(exc)
                else:
                    log.info("%s: resourceVersion expired; relisting", self.name)
            except RETRYABLE as exc:
                await self._fail(exc)

    async def _fail(self, exc: BaseException) -> None:
        delay = self.backoff.next()
        log.warning("%s: list/watch failed (%s); retrying in %.2fs", self.name, exc, delay)
        await self._sleep(delay)

    async def _list_and_watch(self) -> None:
        page = await self.source.list()
        self.lists += 1
        self.last_resource_version = page.resource_version
        await self.sink.replace(page.items, page.resource_version)
        loop = asyncio.get_running_loop()
        while True:  # a cleanly ended stream resumes from the last version seen
            began = loop.time()
            if not await self._watch() and loop.time() - began < 1.0:
                await self._sleep(self.backoff.next())  # empty streams ending at once: pace

    async def _watch(self) -> int:
        """Follow one stream to its end; how many events and bookmarks it carried."""
        count = 0
        async with aclosing(self.source.watch(self.last_resource_version)) as stream:
            async for event in stream:
                count += 1
                if isinstance(event, WatchEvent):
                    await self.sink.apply(event)
                    rv = resource_version_of(event.object)
                else:
                    rv = event.resource_version
                if rv:
                    self.last_resource_version = rv
                self.backoff.reset()
        return count
