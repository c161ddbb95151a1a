"""A bounded history of sampling passes, shaped so that a pass writes into it with no copy.

`values[slot, row, column]` holds the int64 columns of every container row for one pass;
slot = pass sequence number modulo the number of slots, so the oldest pass is overwritten
(history = slots x interval, 2 min by default). Rows are reused by later containers, so each
row remembers the first pass (`born`) that belongs to its current container; older slots of the
row are someone else's history.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kcore.kubelet.stats import columns as c


class Ring:
    def __init__(self, *, slots: int, capacity: int) -> None:
        self.slots = max(2, slots)
        self.values = np.full((self.slots, capacity, c.COUNT), c.ABSENT, dtype=np.int64)
        self.ok = np.zeros((self.slots, capacity), dtype=np.bool_)
        self.mono = np.zeros(self.slots, dtype=np.float64)
        self.wall = np.zeros(self.slots, dtype=np.float64)
        self.born = np.full(capacity, -1, dtype=np.int64)
        self.next_seq = 0

    @property
    def capacity(self) -> int:
        return int(self.born.shape[0])

    def grow(self, capacity: int) -> None:
        extra = capacity - self.capacity
        if extra <= 0:
            return
        pad = np.full((self.slots, extra, c.COUNT), c.ABSENT, dtype=np.int64)
        self.values = np.ascontiguousarray(np.concatenate([self.values, pad], axis=1))
        self.ok = np.concatenate([self.ok, np.zeros((self.slots, extra), np.bool_)], axis=1)
        self.born = np.concatenate([self.born, np.full(extra, -1, np.int64)])

    def claim(self, row: int) -> None:
        """Give a row to a new container: its history starts with the next pass."""
        self.born[row] = self.next_seq

    def release(self, row: int) -> None:
        self.born[row] = -1

    def begin(self) -> tuple[int, npt.NDArray[np.int64]]:
        """The next pass's sequence number and its (capacity, columns) array to fill."""
        seq = self.next_seq
        return seq, self.values[seq % self.slots]

    def commit(self, seq: int, *, mono: float, wall: float, ok: npt.NDArray[np.bool_]) -> None:
        slot = seq % self.slots
        self.ok[slot] = ok & (self.born >= 0) & (self.born <= seq)
        self.mono[slot] = mono
        self.wall[slot] = wall
        self.next_seq = seq + 1

    def seqs(self, row: int, limit: int | None = None) -> list[int]:
        """Passes holding a good sample of the row's current container, newest first."""
        born = int(self.born[row])
        found: list[int] = []
        if born < 0:
            return found
        for seq in range(self.next_seq - 1, max(born, self.next_seq - self.slots) - 1, -1):
            if self.ok[seq % self.slots, row]:
                found.append(seq)
                if len(found) == limit:
                    break
        return found

    def row_at(self, seq: int, row: int) -> npt.NDArray[np.int64]:
        row_values: npt.NDArray[np.int64] = self.values[seq % self.slots, row]
        return row_values

    def times_at(self, seq: int) -> tuple[float, float]:
        slot = seq % self.slots
        return float(self.mono[slot]), float(self.wall[slot])
