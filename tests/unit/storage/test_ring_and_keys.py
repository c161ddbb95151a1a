"""The watch cache's event ring and the key-range helper."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.storage._cached import CachedEvent, CachedObject
from kcore.storage._cachewatch import EventRing
from kcore.storage._keys import prefix_end
from kcore.storage.interface import CompactedError, KeyValue


def event(revision: int) -> CachedEvent:
    obj = CachedObject(KeyValue(f"/k{revision}", b"", revision, revision), lambda kv: kv)
    return CachedEvent("ADDED", revision, obj, None, {})


def test_ring_keeps_at_least_capacity_and_tracks_its_start() -> None:
    ring = EventRing(4, start_revision=10)
    for revision in range(11, 31):
        ring.append(event(revision))
    assert 4 <= len(ring.events) < 8
    assert ring.head == 20
    oldest = ring.events[0].revision
    assert ring.start_revision == oldest - 1
    assert ring.seq_after(oldest - 1) == ring.base
    assert ring.seq_after(30) == ring.head
    with pytest.raises(CompactedError):
        ring.seq_after(oldest - 2)


def test_ring_reset_moves_past_everything() -> None:
    ring = EventRing(4, start_revision=0)
    for revision in range(1, 4):
        ring.append(event(revision))
    ring.reset(50)
    assert ring.events == [] and ring.base == 3 and ring.seq_after(50) == 3
    with pytest.raises(CompactedError):
        ring.seq_after(49)


@given(st.text(min_size=1), st.text())
def test_prefix_end_bounds_exactly_the_prefixed_strings(prefix: str, suffix: str) -> None:
    end = prefix_end(prefix)
    assert prefix + suffix < end or end == ""
    assert prefix < end or end == ""


@given(st.text(), st.text())
def test_strings_between_prefix_and_end_start_with_prefix(prefix: str, other: str) -> None:
    end = prefix_end(prefix)
    if prefix <= other and (end == "" or other < end):
        assert other.startswith(prefix)
