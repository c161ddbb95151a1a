"""Kubernetes' container restart backoff: the first restart at once, then base doubling to cap.

Keyed by pod uid and container name; a container that ran cleanly for 2 x cap resets its key.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RestartBackoff:
    def __init__(self, *, base: float, cap: float, clock: Callable[[], float] = time.time) -> None:
        self.base, self.cap, self._clock = base, cap, clock
        self._entries: dict[str, tuple[float, float]] = {}  # key -> (delay, last restart)

    def delay(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry[0] if entry else 0.0

    def ready_at(self, key: str, finished: float) -> float:
        """When the container that finished at `finished` (epoch seconds) may restart."""
        return finished + self.delay(key)

    def in_backoff(self, key: str, finished: float) -> bool:
        return self._clock() < self.ready_at(key, finished)

    def next(self, key: str) -> None:
        """Record a restart now: the following one waits twice as long (up to the cap)."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * self.cap:
            delay = self.base
        else:
            delay = min(entry[0] * 2, self.cap)
        self._entries[key] = (delay, now)

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
