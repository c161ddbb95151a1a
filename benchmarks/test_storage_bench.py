"""Storage benchmarks: durable creates (sqlite vs etcd) and watch fan-out.

* Durable creates/s through the Store interface: 64 concurrent writers create 5,000 pod-like
  values of ~1 KiB, on SQLite (synchronous=FULL) and on etcd (fsync before ack) in the same
  run. Goal: SQLite at least 2x etcd.
* Watch fan-out: 1,000 watchers on one WatchCache (each taking the event's shared JSON bytes)
  over the memory, SQLite and etcd stores, and 1,000 raw etcd watch streams (one per watcher,
  each decoding its own copy, as without a cache) as the peer: events delivered/s in total,
  and p50/p99 latency from the start of a write to its delivery to a watcher.

Run with `pytest benchmarks/test_storage_bench.py --benchmark-only`.
"""

from __future__ import annotations

import itertools
import random
import statistics
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from figures import FIGURES, record
from storage_workload import (
    FanoutResult,
    concurrent_creates,
    each_event,
    encoded_batches,
    pod_value,
    pod_workload,
    watch_fanout,
)

from kcore.storage import open_store
from kcore.storage.etcd import EtcdStore
from kcore.storage.interface import Event, KeyValue, Store
from kcore.storage.watchcache import CachedEvent, WatchCache

CREATES = 5000
WRITERS = 64
WATCHERS = 1000
CACHE_WRITES = 200
ETCD_WATCH_WRITES = 100

Run = Callable[[Awaitable[Any]], Any]


async def _open_etcd(endpoint: str) -> EtcdStore:
    host, port = endpoint.rsplit(":", 1)
    return await EtcdStore.open(host, int(port), prefix=f"bench-{uuid.uuid4().hex[:8]}")


async def _open_store(backend: str, directory: Path, request: pytest.FixtureRequest) -> Store:
    if backend == "etcd":
        return await _open_etcd(request.getfixturevalue("etcd_endpoint"))
    if backend == "sqlite":
        store = await open_store(f"sqlite://{directory / 'kcore.db'}")
    else:
        store = await open_store("memory://")
    return store


@pytest.mark.parametrize("backend", ["sqlite", "etcd"])
def test_durable_creates(
    benchmark: Any, run: Run, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    keys, values = pod_workload(CREATES)
    rounds = itertools.count()
    stores: list[Store] = []
    rates: list[float] = []

    def setup() -> tuple[tuple[Store], dict[str, Any]]:
        path = tmp_path / f"round-{next(rounds)}"
        path.mkdir()
        stores.append(run(_open_store(backend, path, request)))
        return (stores[-1],), {}

    def create_all(store: Store) -> None:
        elapsed = run(concurrent_creates(store, keys, values, writers=WRITERS))
        rates.append(CREATES / elapsed)

    try:
        benchmark.pedantic(create_all, setup=setup, rounds=3, iterations=1)
    finally:
        for store in stores:
            run(store.close())
    figures: dict[str, Any] = {"creates_per_s": round(statistics.median(rates))}
    other = FIGURES.get(f"creates[{'etcd' if backend == 'sqlite' else 'sqlite'}]")
    if other:
        sqlite, etcd = (figures, other) if backend == "sqlite" else (other, figures)
        figures["sqlite_over_etcd"] = round(sqlite["creates_per_s"] / etcd["creates_per_s"], 2)
    record(f"creates[{backend}]", benchmark, figures)


def _fanout_figures(results: list[FanoutResult]) -> dict[str, Any]:
    return {
        "watchers": WATCHERS,
        "events_per_s": round(statistics.median(r.events_per_second for r in results)),
        "p50_ms": round(statistics.median(r.percentile_ms(50) for r in results), 2),
        "p99_ms": round(statistics.median(r.percentile_ms(99) for r in results), 2),
    }


def _write_pods(store: Store, tag: str) -> Callable[[int], Awaitable[object]]:
    rng = random.Random(7)
    keys = [f"/registry/pods/bench/{tag}-{i:06}" for i in range(CACHE_WRITES)]
    values = [pod_value(rng, key.rsplit("/", 1)[1]) for key in keys]

    def write(i: int) -> Awaitable[object]:
        return store.create(keys[i], values[i])

    return write


def _etcd_index(event: Event) -> int:
    return int(event.kv.key.rsplit("-", 1)[1])


def _cache_index(event: CachedEvent) -> int:
    return int(event.key.rsplit("-", 1)[1])


def _decode(kv: KeyValue) -> Any:
    return msgspec.json.decode(kv.value)


def _encode_json(event: CachedEvent) -> bytes:
    return msgspec.json.encode({"type": event.type, "object": event.object}) + b"\n"


async def _cache_fanout(store: Store) -> FanoutResult:
    cache = WatchCache(
        store, "/registry/pods/", decode=_decode, encoders={"json": _encode_json},
        bookmark_interval=0,
    )  # fmt: skip
    await cache.start()
    try:
        watchers = [cache.watch() for _ in range(WATCHERS)]
        consume = encoded_batches(_cache_index)
        await watch_fanout(watchers, _write_pods(store, "warm"), writes=1, consume=consume)
        write = _write_pods(store, "measured")
        return await watch_fanout(watchers, write, writes=CACHE_WRITES, consume=consume)
    finally:
        await cache.stop()


@pytest.mark.parametrize("backend", ["memory", "sqlite", "etcd"])
def test_watch_fanout_cache(
    benchmark: Any, run: Run, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """1,000 watchers on one WatchCache, each taking every event's shared JSON bytes."""
    results: list[FanoutResult] = []
    rounds = itertools.count()

    async def once(path: Path) -> None:
        store = await _open_store(backend, path, request)
        try:
            results.append(await _cache_fanout(store))
        finally:
            await store.close()

    def round_() -> None:
        path = tmp_path / f"round-{next(rounds)}"
        path.mkdir()
        run(once(path))

    benchmark.pedantic(round_, rounds=3, iterations=1)
    record(f"fanout[cache-{backend}]", benchmark, _fanout_figures(results))


async def _etcd_fanout(endpoint: str) -> FanoutResult:
    store = await _open_etcd(endpoint)
    try:
        start = await store.current_revision()
        watches = [store.watch("/registry/pods/", revision=start) for _ in range(WATCHERS)]
        streams: list[AsyncIterator[Event]] = list(watches)
        consume = each_event(_etcd_index)
        await watch_fanout(streams, _write_pods(store, "warm"), writes=1, consume=consume)
        write = _write_pods(store, "measured")
        return await watch_fanout(streams, write, writes=ETCD_WATCH_WRITES, consume=consume)
    finally:
        await store.close()


def test_watch_fanout_etcd_raw(benchmark: Any, run: Run, etcd_endpoint: str) -> None:
    """The peer: 1,000 etcd watch streams, each decoding its own copy of every event."""
    results: list[FanoutResult] = []

    def once() -> None:
        results.append(run(_etcd_fanout(etcd_endpoint)))

    benchmark.pedantic(once, rounds=2, iterations=1)
    record("fanout[etcd-raw]", benchmark, _fanout_figures(results))
