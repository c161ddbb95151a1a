"""In-process watch fan-out shared by the memory and sqlite stores.

Both stores apply writes on the event loop (memory directly, sqlite when its writer thread's
commit callback runs), so a `WatchHub` sees every committed event in revision order, on the
loop thread. A `HubWatch` registered at hub revision H with start revision R < H first replays
(R, H] from the store's history, then yields the live events it buffered meanwhile: the replay
bound H is taken at registration, so there is neither a gap nor a duplicate between the two.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from kcore.storage.interface import Event, StorageError, WatchTerminatedError

MAX_BUFFERED = 100_000
"""Live events one watch may hold unread before it is ended (its consumer then re-watches
from the last revision it saw, which replays from the store's history)."""

Replay = Callable[[str, int, int], Awaitable[list[Event]]]
"""(prefix, after, upto) → the events under prefix with after < revision ≤ upto, in order."""


def route_of(key: str) -> str | None:
    """The first two segments of a key or prefix ("/registry/pods/" for
    "/registry/pods/default/web"), None when it has fewer: a watch whose prefix has a route
    can only match keys with that route."""
    parts = key.split("/", 3)
    return f"/{parts[1]}/{parts[2]}/" if len(parts) == 4 and not parts[0] else None


class WatchHub:
    """The set of live watches of one store and the revision they have all been offered.

    Watches are grouped by their prefix's route (see route_of): the API server keeps one
    watch per resource, so offering each committed event to every watch cost tens of
    microseconds per write; now an event goes to the watches of its route, and to those whose
    prefix is too short to have one."""

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.closed = False
        self._routed: dict[str, set[HubWatch]] = {}
        self._unrouted: set[HubWatch] = set()

    def publish(self, events: Sequence[Event], revision: int) -> None:
        """Offer committed events (ascending revisions) to every watch they may concern;
        `revision` is the store's revision after them."""
        self.revision = max(self.revision, revision)
        if not events:
            return
        if len(events) == 1:
            groups: dict[str | None, Sequence[Event]] = {route_of(events[0].kv.key): events}
        else:
            grouped: dict[str | None, list[Event]] = {}
            for event in events:
                grouped.setdefault(route_of(event.kv.key), []).append(event)
            groups = dict(grouped)
        for route, some in groups.items():
            watches = self._routed.get(route) if route is not None else None
            if watches:
                for watch in tuple(watches):  # a watch may end itself while offered
                    watch.offer(some)
        for watch in tuple(self._unrouted):
            watch.offer(events)

    def add(self, watch: HubWatch) -> None:
        route = route_of(watch.prefix)
        if route is None:
            self._unrouted.add(watch)
        else:
            self._routed.setdefault(route, set()).add(watch)

    def discard(self, watch: HubWatch) -> None:
        route = route_of(watch.prefix)
        if route is None:
            self._unrouted.discard(watch)
            return
        watches = self._routed.get(route)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._routed[route]

    def close(self) -> None:
        self.closed = True
        every = [w for ws in self._routed.values() for w in ws] + list(self._unrouted)
        for watch in every:
            watch.end()
        self._routed.clear()
        self._unrouted.clear()


class HubWatch:
    """One watch on a hub: replay from history first, then buffered live events."""

    def __init__(
        self, hub: WatchHub, prefix: str, after: int, *, replay: Replay, error: StorageError | None
    ) -> None:
        self._hub = hub
        self.prefix = prefix
        self._after = after
        self._replay: Replay | None = replay if after < hub.revision else None
        self._upto = hub.revision
        self._error = error
        self._buffer: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = error is not None or hub.closed
        if not self._closed:
            hub.add(self)

    def offer(self, events: Sequence[Event]) -> None:
        prefix, after, buffer = self.prefix, self._after, self._buffer
        for event in events:
            if event.kv.mod_revision > after and event.kv.key.startswith(prefix):
                buffer.append(event)
        if len(buffer) > MAX_BUFFERED:
            buffer.clear()
            self._error = WatchTerminatedError("watch consumer too slow; watch again")
            self.end()
        elif buffer:
            self._wake()

    def end(self) -> None:
        self._closed = True
        self._hub.discard(self)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def progress_revision(self) -> int | None:
        """Every event ≤ the returned revision has been yielded (None while some are pending)."""
        if self._buffer or self._replay is not None or self._closed:
            return None
        return max(self._hub.revision, self._after)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if self._replay is not None and self._error is None:
            await self._run_replay()
        while not self._buffer:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buffer.popleft()

    async def _run_replay(self) -> None:
        replay = self._replay
        assert replay is not None
        try:
            events = await replay(self.prefix, self._after, self._upto)
        except StorageError:
            self._replay = None
            self.end()
            raise
        self._replay = None  # only now: a cancelled replay is retried by the next call
        self._buffer.extendleft(reversed(events))

    async def close(self) -> None:
        self.end()
