"""Random operation sequences against the memory and sqlite stores, checked against a model
that is obviously right: a dict snapshot per revision and a list of events."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcore.storage.interface import (
    CompactedError,
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    Store,
)
from kcore.storage.memory import MemoryStore
from kcore.storage.sqlite import SqliteStore

KEYS = ["/r/a", "/r/b", "/r/ba", "/s/a"]

Op = tuple[str, int, int]  # (kind, key index, argument)
ops = st.lists(
    st.tuples(
        st.sampled_from(["create", "update", "delete", "compact"]),
        st.integers(0, len(KEYS) - 1),
        st.integers(0, 3),
    ),
    max_size=40,
)


@dataclass
class Model:
    state: dict[str, KeyValue] = field(default_factory=dict)
    snapshots: dict[int, dict[str, KeyValue]] = field(default_factory=lambda: {1: {}})
    events: list[tuple[str, str, int]] = field(default_factory=list)
    revision: int = 1
    compacted: int = 0

    def commit(self, kind: str, kv: KeyValue) -> None:
        self.revision = kv.mod_revision
        if kind == "DELETED":
            del self.state[kv.key]
        else:
            self.state[kv.key] = kv
        self.snapshots[self.revision] = dict(self.state)
        self.events.append((kind, kv.key, kv.mod_revision))


async def apply(store: Store, model: Model, op: Op) -> None:
    kind, index, arg = op
    key = KEYS[index]
    current = model.state.get(key)
    if kind == "compact":
        target = max(1, model.revision - arg)
        await store.compact(target)
        model.compacted = max(model.compacted, target)
    elif kind == "create":
        if current is not None:
            with pytest.raises(KeyExistsError):
                await store.create(key, b"new")
        else:
            model.commit("ADDED", await store.create(key, b"new"))
    elif current is None:
        with pytest.raises(KeyNotFoundError):
            await store.update(key, b"x", expected_revision=0)
    else:
        expected = current.mod_revision if arg % 2 else current.mod_revision + arg
        if expected != current.mod_revision:
            with pytest.raises(ConflictError):
                await store.delete(key, expected_revision=expected)
        elif kind == "update":
            value = f"v{model.revision}".encode()
            model.commit("MODIFIED", await store.update(key, value, expected_revision=expected))
        else:
            model.commit("DELETED", await store.delete(key, expected_revision=expected))


async def check(store: Store, model: Model) -> None:
    assert await store.current_revision() == model.revision
    for revision in range(1, model.revision + 1):
        if revision < model.compacted:
            with pytest.raises(CompactedError):
                await store.list("/r/", revision=revision)
            continue
        snapshot = model.snapshots.get(revision)
        if snapshot is None:
            snapshot = model.snapshots[max(r for r in model.snapshots if r < revision)]
        listed = await store.list("/r/", revision=revision)
        expected = [snapshot[k] for k in sorted(snapshot) if k.startswith("/r/")]
        assert listed.items == expected, f"list at {revision}"
        for key in KEYS:
            assert await store.get(key, revision=revision) == snapshot.get(key)
    start = max(model.compacted - 1, 1)
    wanted = [e for e in model.events if e[2] > start]
    watch = store.watch("/", revision=start)
    events = [await asyncio.wait_for(watch.__anext__(), 5) for _ in wanted]
    await watch.close()
    assert [(e.type, e.kv.key, e.revision) for e in events] == wanted


async def run(store: Store, sequence: list[Op]) -> None:
    model = Model()
    await store.create("/seed", b"")
    model.snapshots[1] = {"/seed": (await store.get("/seed"))}  # type: ignore[dict-item]
    model.state = dict(model.snapshots[1])
    try:
        for op in sequence:
            await apply(store, model, op)
        await check(store, model)
    finally:
        await store.close()


@settings(max_examples=150, deadline=None)
@given(ops)
def test_memory_store_matches_the_model(sequence: list[Op]) -> None:
    asyncio.run(run(MemoryStore(), sequence))


@settings(max_examples=40, deadline=None)
@given(ops)
def test_sqlite_store_matches_the_model(sequence: list[Op]) -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as directory:
            await run(await SqliteStore.open(Path(directory) / "s.db"), sequence)

    asyncio.run(main())
