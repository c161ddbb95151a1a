"""The scheduling queue: active, backoff and unschedulable pods, as in kube-scheduler.

- activeQ: pods ready to be tried, highest spec.priority first, then oldest first.
- backoffQ: pods that failed recently, waiting out a per-pod backoff that doubles from
  `initial_backoff` (1 s) per attempt up to `max_backoff` (10 s).
- unschedulable: pods no node could take. They wait for a cluster event that may help
  (`move_all`: a node added or changed, a pod deleted) and then go to backoffQ (or activeQ if
  their backoff is over). A pod failing during a cycle in which such an event arrived goes
  straight to backoffQ, so an event that raced with its attempt is not lost; pods left
  unschedulable for `max_unschedulable` (5 min) are retried anyway.

The clock is injectable so tests can assert exact backoffs. Pods that the scheduler may
place together (replicas of one owner) share a `group` so `pop_group` takes them at once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from kcore.api.core import Pod
from kcore.client.meta import key_of
from kcore.scheduler import adapter

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE = 300.0


@dataclass
class QueuedPod:
    pod: Pod
    key: str
    added: float
    attempts: int = 0
    backoff_until: float = 0.0
    reasons: str = ""
    group: Hashable | None = None
    since: float = 0.0
    """When the pod entered its current queue (for the unschedulable leftover flush)."""

    @property
    def priority(self) -> int:
        return adapter.priority(self.pod)


@dataclass(order=True)
class _Entry:
    sort: tuple[int, float, int]
    key: str = field(compare=False)


class SchedulingQueue:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        group_of: Callable[[Pod], Hashable | None] | None = None,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        max_unschedulable: float = MAX_UNSCHEDULABLE,
    ) -> None:
        self.clock = clock
        self.group_of = group_of or (lambda pod: None)
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.max_unschedulable = max_unschedulable
        self.active: dict[str, QueuedPod] = {}
        self.backoff: dict[str, QueuedPod] = {}
        self.unschedulable: dict[str, QueuedPod] = {}
        self.in_flight: dict[str, QueuedPod] = {}
        self.cycle = 0
        self.move_cycle = -1
        self._heap: list[_Entry] = []
        self._backoff_heap: list[tuple[float, int, str]] = []
        self._groups: dict[Hashable, dict[str, None]] = {}
        self._seq = itertools.count()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self.active) + len(self.backoff) + len(self.unschedulable)

    # -- adding -----------------------------------------------------------------------------

    def add(self, pod: Pod) -> None:
        """A new or changed pending pod. An update frees a pod from the unschedulable set."""
        key = key_of(pod)
        for queue in (self.active, self.backoff, self.in_flight):
            if key in queue:
                queue[key].pod = pod
                return
        qp = self.unschedulable.pop(key, None)
        if qp is None:
            qp = QueuedPod(pod, key, added=self.clock(), group=self.group_of(pod))
        qp.pod = pod
        self._activate_or_backoff(qp)

    def refresh(self, pod: Pod) -> bool:
        """Swap in a newer copy of a queued pod without moving it (a status-only change
        cannot make it schedulable); False if the pod is not queued."""
        key = key_of(pod)
        for queue in (self.active, self.backoff, self.unschedulable, self.in_flight):
            if key in queue:
                queue[key].pod = pod
                return True
        return False

    def delete(self, key: str) -> None:
        self._drop_active(key)
        self.backoff.pop(key, None)
        self.unschedulable.pop(key, None)
        self.in_flight.pop(key, None)

    def _push_active(self, qp: QueuedPod) -> None:
        qp.since = self.clock()
        self.active[qp.key] = qp
        entry = _Entry((-qp.priority, qp.added, next(self._seq)), qp.key)
        heapq.heappush(self._heap, entry)
        if qp.group is not None:
            self._groups.setdefault(qp.group, {})[qp.key] = None
        self._wake.set()

    def _drop_active(self, key: str) -> QueuedPod | None:
        qp = self.active.pop(key, None)
        if qp is not None and qp.group is not None:
            members = self._groups.get(qp.group)
            if members is not None:
                members.pop(key, None)
                if not members:
                    del self._groups[qp.group]
        return qp

    def _push_backoff(self, qp: QueuedPod) -> None:
        qp.since = self.clock()
        self.backoff[qp.key] = qp
        heapq.heappush(self._backoff_heap, (qp.backoff_until, next(self._seq), qp.key))
        self._wake.set()

    def _activate_or_backoff(self, qp: QueuedPod) -> None:
        if qp.backoff_until > self.clock():
            self._push_backoff(qp)
        else:
            self._push_active(qp)

    # -- popping ----------------------------------------------------------------------------

    def pop_nowait(self) -> QueuedPod | None:
        """The highest-priority active pod (now in flight), or None."""
        self.flush_backoff()
        while self._heap:
            entry = heapq.heappop(self._heap)
            qp = self._drop_active(entry.key)
            if qp is not None:
                return self._start(qp)
        return None

    def pop_group(self, group: Hashable, limit: int) -> list[QueuedPod]:
        """Up to `limit` more active pods of `group` (now in flight), oldest first."""
        members = list(self._groups.get(group, {}))[:limit]
        return [self._start(qp) for k in members if (qp := self._drop_active(k)) is not None]

    def _start(self, qp: QueuedPod) -> QueuedPod:
        self.cycle += 1
        qp.attempts += 1
        self.in_flight[qp.key] = qp
        return qp

    async def pop(self) -> QueuedPod:
        while True:
            qp = self.pop_nowait()
            if qp is not None:
                return qp
            self._wake.clear()
            wait = self._next_backoff()
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _next_backoff(self) -> float | None:
        while self._backoff_heap and self._backoff_heap[0][2] not in self.backoff:
            heapq.heappop(self._backoff_heap)
        if not self._backoff_heap:
            return None
        return max(0.0, self._backoff_heap[0][0] - self.clock())

    # -- after an attempt -------------------------------------------------------------------

    def done(self, key: str) -> None:
        """The pod was placed (or is gone): it leaves the queue."""
        self.in_flight.pop(key, None)

    def backoff_duration(self, attempts: int) -> float:
        return float(min(self.initial_backoff * 2 ** max(attempts - 1, 0), self.max_backoff))

    def requeue_unschedulable(self, qp: QueuedPod, cycle: int, reasons: str = "") -> None:
        """No node fits. If a helpful event arrived since `cycle`, retry after backoff."""
        if self.in_flight.pop(qp.key, None) is None:
            return  # deleted meanwhile
        qp.reasons = reasons
        qp.backoff_until = self.clock() + self.backoff_duration(qp.attempts)
        if self.move_cycle >= cycle:
            self._push_backoff(qp)
        else:
            qp.since = self.clock()
            self.unschedulable[qp.key] = qp

    def requeue_error(self, qp: QueuedPod) -> None:
        """An error (not a misfit), e.g. a failed binding: retry after backoff."""
        if self.in_flight.pop(qp.key, None) is None:
            return
        qp.backoff_until = self.clock() + self.backoff_duration(qp.attempts)
        self._push_backoff(qp)

    # -- moving -----------------------------------------------------------------------------

    def move_all(self) -> int:
        """A cluster event that may help: every unschedulable pod gets another chance."""
        self.move_cycle = self.cycle
        moved = list(self.unschedulable.values())
        self.unschedulable.clear()
        for qp in moved:
            self._activate_or_backoff(qp)
        return len(moved)

    def flush_backoff(self) -> None:
        now = self.clock()
        while self._backoff_heap and self._backoff_heap[0][0] <= now:
            _, _, key = heapq.heappop(self._backoff_heap)
            qp = self.backoff.get(key)
            if qp is not None and qp.backoff_until <= now:
                del self.backoff[key]
                self._push_active(qp)

    def flush_unschedulable_leftover(self) -> None:
        now = self.clock()
        stale = [
            qp for qp in self.unschedulable.values() if now - qp.since >= self.max_unschedulable
        ]
        for qp in stale:
            del self.unschedulable[qp.key]
            self._activate_or_backoff(qp)


__all__ = ["INITIAL_BACKOFF", "MAX_BACKOFF", "QueuedPod", "SchedulingQueue"]
