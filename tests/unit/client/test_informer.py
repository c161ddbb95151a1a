"""Reflector, indexer cache and shared informer against canned list/watch scripts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kcore.api import labels
from kcore.api.codec import deep_copy
from kcore.api.core import Pod, PodSpec
from kcore.api.errors import StatusError, gone
from kcore.api.meta import ObjectMeta
from kcore.client.backoff import Backoff
from kcore.client.cache import NAMESPACE_INDEX, CacheMutationError, Indexer
from kcore.client.informer import EventHandler, SharedInformer
from kcore.client.rest import BookmarkEvent, EventStream, ObjectList, WatchEvent

Step = WatchEvent[Pod] | BookmarkEvent | BaseException


def pod(name: str, rv: int, *, ns: str = "default", node: str = "") -> Pod:
    meta = ObjectMeta(name=name, namespace=ns, resource_version=str(rv))
    return Pod(metadata=meta, spec=PodSpec(node_name=node))


def labelled(p: Pod, **labels: str) -> Pod:
    p.metadata.labels = labels
    return p


class ScriptedSource:
    """A ListerWatcher that answers from scripts: one list per relist, one script per watch.

    A watch script is a list of events, ending cleanly or with an exception; once the scripts
    run out a watch waits forever. `seen` records what the reflector asked for.
    """

    def __init__(self, lists: list[ObjectList[Pod]], watches: list[list[Step]]) -> None:
        self.lists, self.watches = lists, watches
        self.seen: list[str] = []
        self.idle = asyncio.Event()

    async def list(self) -> ObjectList[Pod]:
        self.seen.append("list")
        return self.lists.pop(0)

    async def watch(self, resource_version: str) -> EventStream[Pod]:
        self.seen.append(f"watch@{resource_version}")
        if not self.watches:
            self.idle.set()
            await asyncio.Event().wait()
        for step in self.watches.pop(0):
            if isinstance(step, BaseException):
                raise step
            yield step


class Recorder:
    """Handlers that log calls and what the cache held when each ran."""

    def __init__(self, informer: SharedInformer[Pod]) -> None:
        self.informer = informer
        self.calls: list[tuple[str, ...]] = []

    def handler(self) -> EventHandler[Pod]:
        return EventHandler(self.on_add, self.on_update, self.on_delete)

    def _cached_rv(self, p: Pod) -> str:
        cached = self.informer.get(f"{p.metadata.namespace}/{p.metadata.name}")
        return cached.metadata.resource_version if cached else "absent"

    def on_add(self, p: Pod) -> None:
        self.calls.append(("add", p.metadata.name, p.metadata.resource_version, self._cached_rv(p)))

    def on_update(self, old: Pod, new: Pod) -> None:
        self.calls.append(
            (
                "update",
                new.metadata.name,
                old.metadata.resource_version,
                new.metadata.resource_version,
                self._cached_rv(new),
            )
        )

    def on_delete(self, p: Pod) -> None:
        self.calls.append(("delete", p.metadata.name, self._cached_rv(p)))


async def run_until_idle(informer: SharedInformer[Pod], source: ScriptedSource) -> None:
    informer.start()
    try:
        async with asyncio.timeout(10):
            await source.idle.wait()
    finally:
        await informer.stop()


def make(source: ScriptedSource, **kw: Any) -> tuple[SharedInformer[Pod], Recorder]:
    informer: SharedInformer[Pod] = SharedInformer(source, name="pods", **kw)
    sleeps: list[float] = []

    async def no_sleep(delay: float) -> None:
        sleeps.append(delay)

    informer.reflector._sleep = no_sleep
    informer.reflector.sleeps = sleeps  # type: ignore[attr-defined]
    recorder = Recorder(informer)
    informer.add_event_handler(recorder.handler())
    return informer, recorder


async def test_list_then_watch_from_the_lists_resource_version() -> None:
    source = ScriptedSource(
        [ObjectList([pod("a", 3), pod("b", 4)], "5")],
        [
            [
                WatchEvent("ADDED", pod("c", 6)),
                WatchEvent("MODIFIED", pod("a", 7)),
                WatchEvent("DELETED", pod("b", 8)),
            ]
        ],
    )
    informer, rec = make(source)
    assert not informer.has_synced()
    await run_until_idle(informer, source)
    assert informer.has_synced()
    assert source.seen == ["list", "watch@5", "watch@8"]  # clean end: re-watch, no relist
    assert rec.calls == [
        ("add", "a", "3", "3"),
        ("add", "b", "4", "4"),
        ("add", "c", "6", "6"),
        ("update", "a", "3", "7", "7"),
        ("delete", "b", "absent"),
    ]
    assert sorted(p.metadata.name for p in informer.list()) == ["a", "c"]
    assert informer.last_sync_resource_version == "8"


async def test_bookmarks_advance_the_resource_version_without_handler_calls() -> None:
    source = ScriptedSource([ObjectList([], "10")], [[BookmarkEvent("15")], [BookmarkEvent("20")]])
    informer, rec = make(source)
    await run_until_idle(informer, source)
    assert source.seen == ["list", "watch@10", "watch@15", "watch@20"]
    assert rec.calls == []


async def test_410_gone_relists_and_diffs_against_the_cache() -> None:
    source = ScriptedSource(
        [
            ObjectList([pod("a", 1), pod("b", 2), pod("c", 3)], "3"),
            ObjectList([pod("a", 1), pod("b", 9), pod("d", 10)], "10"),
        ],
        [[WatchEvent("MODIFIED", pod("c", 4)), gone("too old resource version: 3 (8)")]],
    )
    informer, rec = make(source)
    await run_until_idle(informer, source)
    assert source.seen == ["list", "watch@3", "list", "watch@10"]
    assert rec.calls[3:] == [
        ("update", "c", "3", "4", "4"),
        ("delete", "c", "absent"),  # gone from the relist
        ("update", "b", "2", "9", "9"),  # changed resourceVersion
        ("add", "d", "10", "10"),  # new; "a" is unchanged and not re-delivered
    ]
    assert informer.reflector.sleeps == []  # type: ignore[attr-defined]


async def test_failures_back_off_with_jitter_and_relist() -> None:
    source = ScriptedSource(
        [
            ObjectList([pod("a", 1)], "1"),
            ObjectList([pod("a", 1)], "1"),
            ObjectList([pod("a", 2)], "2"),
        ],
        [[ConnectionResetError("dropped")], [StatusError(500, "InternalError", "boom")]],
    )
    informer, rec = make(source)
    informer.reflector.backoff = Backoff(initial=1.0, factor=2.0, cap=30.0, jitter=1.0)
    await run_until_idle(informer, source)
    assert source.seen == ["list", "watch@1", "list", "watch@1", "list", "watch@2"]
    first, second = informer.reflector.sleeps  # type: ignore[attr-defined]
    assert 1.0 <= first <= 2.0 and 2.0 <= second <= 4.0
    assert rec.calls == [("add", "a", "1", "1"), ("update", "a", "1", "2", "2")]


async def test_handlers_added_late_receive_the_cache_as_adds() -> None:
    source = ScriptedSource([ObjectList([pod("a", 1), pod("b", 2)], "2")], [])
    informer, _ = make(source)
    await run_until_idle(informer, source)
    late = Recorder(informer)
    informer.add_event_handler(late.handler())
    assert late.calls == [("add", "a", "1", "1"), ("add", "b", "2", "2")]


async def test_a_failing_handler_does_not_stop_the_others() -> None:
    source = ScriptedSource([ObjectList([pod("a", 1)], "1")], [[WatchEvent("ADDED", pod("b", 2))]])
    informer: SharedInformer[Pod] = SharedInformer(source)

    def broken(p: Pod) -> None:
        raise RuntimeError("handler bug")

    seen: list[str] = []

    async def async_handler(p: Pod) -> None:
        seen.append(p.metadata.name)

    informer.add_event_handler(on_add=broken)
    informer.add_event_handler(on_add=async_handler)
    await run_until_idle(informer, source)
    assert seen == ["a", "b"]


async def test_wait_for_sync_returns_after_the_first_list() -> None:
    source = ScriptedSource([ObjectList([pod("a", 1)], "1")], [])
    informer: SharedInformer[Pod] = SharedInformer(source)
    informer.start()
    async with asyncio.timeout(10):
        await informer.wait_for_sync()
    assert informer.get("default/a") is not None
    await informer.stop()


async def test_resync_redelivers_cached_objects_as_updates() -> None:
    source = ScriptedSource([ObjectList([pod("a", 1)], "1")], [])
    informer, rec = make(source)
    await run_until_idle(informer, source)
    await informer.resync()
    assert rec.calls[-1] == ("update", "a", "1", "1", "1")


def node_index(p: Pod) -> list[str]:
    return [p.spec.node_name] if p.spec and p.spec.node_name else []


def test_indexer_keeps_custom_indexes_current() -> None:
    idx: Indexer[Pod] = Indexer({"node": node_index})
    idx.upsert("default/a", pod("a", 1, node="n1"))
    idx.upsert("default/b", pod("b", 1, node="n1"))
    idx.upsert("kube-system/c", pod("c", 1, ns="kube-system", node="n2"))
    assert sorted(p.metadata.name for p in idx.by_index("node", "n1")) == ["a", "b"]
    idx.upsert("default/a", pod("a", 2, node="n2"))  # moved
    assert [p.metadata.name for p in idx.by_index("node", "n1")] == ["b"]
    assert sorted(idx.index_keys("node", "n2")) == ["default/a", "kube-system/c"]
    idx.delete("default/b")
    assert idx.by_index("node", "n1") == [] and "n1" not in idx.index_values("node")
    idx.add_indexers({NAMESPACE_INDEX: lambda p: [p.metadata.namespace]})
    assert idx.index_keys(NAMESPACE_INDEX, "kube-system") == ["kube-system/c"]
    idx.replace({"x/y": pod("y", 5, ns="x", node="n9")})
    assert idx.index_values("node") == ["n9"] and len(idx) == 1


def test_indexer_rejects_redefining_an_index() -> None:
    idx: Indexer[Pod] = Indexer({"node": node_index})
    with pytest.raises(ValueError):
        idx.add_indexers({"node": lambda p: []})


async def test_informer_lists_by_namespace_and_selector() -> None:
    db = labelled(pod("b", 1, ns="other"), tier="db")
    source = ScriptedSource([ObjectList([pod("a", 1), db], "1")], [])
    informer: SharedInformer[Pod] = SharedInformer(source, indexers={"node": node_index})
    await run_until_idle(informer, source)
    assert [p.metadata.name for p in informer.list("other")] == ["b"]
    assert len(informer.list()) == 2
    assert [p.metadata.name for p in informer.list(selector=labels.parse("tier=db"))] == ["b"]
    assert informer.list("default", labels.parse("tier=db")) == []
    assert len(informer.list(selector=labels.everything())) == 2


async def test_streams_that_end_at_once_empty_are_paced_not_spun() -> None:
    source = ScriptedSource([ObjectList([], "3")], [[], [], [BookmarkEvent("5")]])
    informer, _ = make(source)
    informer.reflector.backoff = Backoff(initial=1.0, factor=2.0, cap=30.0, jitter=0.0)
    await run_until_idle(informer, source)
    assert source.seen == ["list", "watch@3", "watch@3", "watch@3", "watch@5"]
    assert informer.reflector.sleeps == [1.0, 2.0]  # type: ignore[attr-defined]


async def test_mutation_detector_catches_handlers_that_change_cached_objects() -> None:
    source = ScriptedSource(
        [ObjectList([pod("a", 1)], "1")], [[WatchEvent("MODIFIED", pod("a", 2))]]
    )
    informer: SharedInformer[Pod] = SharedInformer(source, detect_mutations=True)

    def careless(p: Pod) -> None:
        p.metadata.labels = {"touched": "yes"}  # must copy first

    informer.add_event_handler(on_add=careless)
    informer.start()
    with pytest.raises(CacheMutationError):
        async with asyncio.timeout(10):
            await informer._tasks[0]
    with pytest.raises(CacheMutationError):
        await informer.stop()


async def test_mutation_detector_is_quiet_for_careful_handlers() -> None:
    source = ScriptedSource(
        [ObjectList([pod("a", 1)], "1")], [[WatchEvent("MODIFIED", pod("a", 2))]]
    )
    informer: SharedInformer[Pod] = SharedInformer(source, detect_mutations=True)

    def careful(p: Pod) -> None:
        copy = deep_copy(p)
        copy.metadata.labels = {"touched": "yes"}

    informer.add_event_handler(on_add=careful)
    await run_until_idle(informer, source)
    assert informer.get("default/a") is not None
