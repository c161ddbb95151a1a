"""Exponential backoff with jitter, shared by the reflector, REST retries and leader election.

Shaped like client-go's wait.Backoff: each `next()` returns the current delay (with up to
`jitter` fraction added at random) and multiplies the base by `factor`, up to `cap`; `reset()`
starts over once things work again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_SHARED_RNG = random.Random()  # seeding a Random per Backoff costs more than a request


@dataclass(slots=True)
class Backoff:
    initial: float = 0.8
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 1.0
    rng: random.Random = field(default=_SHARED_RNG)
    _current: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._current = self.initial

    def next(self) -> float:
        """The delay to wait now; later calls grow it."""
        delay = self._current
        self._current = min(self._current * self.factor, self.cap)
        if self.jitter > 0:
            delay += delay * self.jitter * self.rng.random()
        return delay

    def reset(self) -> None:
        self._current = self.initial


def jittered(duration: float, max_factor: float, rng: random.Random | None = None) -> float:
    """`duration` plus a random extra of up to `duration * max_factor` (client-go's Jitter)."""
    r = (rng or random).random()
    return duration + duration * max_factor * r
