"""Key-range helpers shared by the backends and the watch cache."""

from __future__ import annotations


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` ('' = no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return ""
