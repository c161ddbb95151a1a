"""Interning of label pairs, taints and host ports into bit ids.

The kernels never see strings: a node's labels, taints and used host ports are bitmaps over
interned ids (uint64 words), and a pod's constraints compile into masks over the same ids. A
vocabulary only grows; its word count tells the node table when its bitmap columns must widen.
"""

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T", bound=Hashable)

WORD_BITS = 64


class BitVocab(Generic[T]):
    """Assigns consecutive bit ids to hashable items, in first-seen order."""

    def __init__(self) -> None:
        self._ids: dict[T, int] = {}
        self._items: list[T] = []

    def intern(self, item: T) -> int:
        found = self._ids.get(item)
        if found is not None:
            return found
        self._ids[item] = len(self._items)
        self._items.append(item)
        return len(self._items) - 1

    def get(self, item: T) -> int | None:
        return self._ids.get(item)

    def item(self, bit: int) -> T:
        return self._items[bit]

    def items(self) -> list[T]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def words(self) -> int:
        """uint64 words a bitmap over this vocabulary needs (at least one)."""
        return max(1, (len(self._items) + WORD_BITS - 1) // WORD_BITS)

    def mask(self, bits: Iterable[int], words: int) -> npt.NDArray[np.uint64]:
        """A bitmap of `words` words with the given bits set."""
        out = np.zeros(words, dtype=np.uint64)
        set_bits(out, bits)
        return out


def set_bits(row: npt.NDArray[np.uint64], bits: Iterable[int]) -> None:
    for bit in bits:
        row[bit // WORD_BITS] |= np.uint64(1 << (bit % WORD_BITS))


def bits_of(row: npt.NDArray[np.uint64]) -> list[int]:
    """The set bits of a bitmap row, ascending."""
    out: list[int] = []
    for word_index, word in enumerate(row.tolist()):
        while word:
            low = word & -word
            out.append(word_index * WORD_BITS + low.bit_length() - 1)
            word ^= low
    return out
