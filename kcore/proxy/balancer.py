"""The balancer in plain Python: the reference the Cython data path's `pick` must match.

Written to be obviously right, and kept in step with `pick` in ext/proxy.pyx: tests drive
both through the same sequences and compare every choice. Rules:

- Round-robin: the first endpoint, from the cursor on, not yet tried for this connection.
- Least-connections: the untried endpoint with the fewest active connections; ties go to
  the first from the cursor.
- Either way endpoints marked down (a connect to them failed less than DOWN_MS ago) are
  chosen only when no other untried one is left, and the cursor moves to just past the
  chosen endpoint.
- ClientIP affinity (timeout > 0): a client pinned to an endpoint that is still in the table,
  not tried, not down, and whose pin has not expired gets it again (the pin is then refreshed);
  otherwise the policy picks and the pin is (re)written. Client 0 is never pinned.
- An endpoint keeps its identity (active count, pins) across updates while its address stays
  in the list; one removed and added back is a new endpoint.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from kcore.proxy.model import Address, Policy

_uids = itertools.count(1)
DOWN_MS = 5000  # as DOWN_MS in ext/proxy.pxd


class Balancer:
    """Picks endpoints for new connections; `release` when a connection ends."""

    def __init__(
        self, endpoints: Sequence[Address], *, policy: Policy = "RoundRobin", affinity_ms: int = 0
    ) -> None:
        self.policy = policy
        self.affinity_ms = affinity_ms
        self._eps: list[Address] = []
        self._uid: dict[Address, int] = {}
        self._active: dict[Address, int] = {}
        self._down_until: dict[Address, int] = {}
        self._pins: dict[int, tuple[int, int]] = {}  # client -> (uid, expires_ms)
        self._cursor = 0
        self.update(endpoints)

    def update(self, endpoints: Iterable[Address]) -> None:
        eps = list(endpoints)
        self._uid = {a: self._uid.get(a) or next(_uids) for a in eps}
        self._active = {a: self._active.get(a, 0) for a in eps}
        self._down_until = {a: self._down_until.get(a, 0) for a in eps}
        self._eps = eps

    def active(self, addr: Address) -> int:
        return self._active[addr]

    def pick(self, client: int, now_ms: int, tried: Sequence[Address] = ()) -> Address | None:
        """The endpoint for a new connection from `client` (counted active), or None."""
        if not self._eps:
            return None
        tried_uids = {self._uid[a] for a in tried if a in self._uid}
        chosen = self._pinned(client, now_ms, tried_uids) if self.affinity_ms > 0 else None
        if chosen is None:
            chosen = self._by_policy(now_ms, tried_uids)
            if chosen is not None and self.affinity_ms > 0 and client != 0:
                self._pins[client] = (self._uid[chosen], now_ms + self.affinity_ms)
        if chosen is not None:
            self._active[chosen] += 1
        return chosen

    def fail(self, addr: Address, now_ms: int) -> None:
        """A connect to `addr` failed at `now_ms`: it yields to the others for DOWN_MS."""
        if addr in self._down_until:
            self._down_until[addr] = now_ms + DOWN_MS

    def release(self, addr: Address) -> None:
        if addr in self._active:
            self._active[addr] -= 1

    def _pinned(self, client: int, now_ms: int, tried: set[int]) -> Address | None:
        uid, expires = self._pins.get(client, (0, 0))
        if expires <= now_ms or uid in tried:
            return None
        for addr in self._eps:
            if self._uid[addr] == uid and self._down_until[addr] <= now_ms:
                self._pins[client] = (uid, now_ms + self.affinity_ms)
                return addr
        return None

    def _by_policy(self, now_ms: int, tried: set[int]) -> Address | None:
        n = len(self._eps)
        order = [(self._cursor + k) % n for k in range(n)]
        untried = [i for i in order if self._uid[self._eps[i]] not in tried]
        up = [i for i in untried if self._down_until[self._eps[i]] <= now_ms]
        candidates = up or untried
        if not candidates:
            return None
        best = candidates[0]
        if self.policy == "LeastConnections":
            best = min(candidates, key=lambda i: self._active[self._eps[i]])
        self._cursor = best + 1
        return self._eps[best]
