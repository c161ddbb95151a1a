"""Workloads for the storage benchmarks: pod-like values, concurrent creators, watch fan-out.

Kept apart from the benchmark bodies so every backend runs exactly the same workload; each
driver returns raw measurements and leaves statistics to the caller.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Creator(Protocol):
    async def create(self, key: str, value: bytes) -> Any: ...


def pod_value(rng: random.Random, name: str, size: int = 1024) -> bytes:
    """A JSON pod of about `size` bytes: realistic field names, random label and image values."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "bench",
            "uid": f"{rng.getrandbits(128):032x}",
            "labels": {"app": f"app-{rng.randrange(50)}", "tier": rng.choice(["web", "db"])},
        },
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": f"registry.local/app:{rng.randrange(1000)}",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }
            ],
            "restartPolicy": "Always",
        },
        "status": {"phase": "Pending"},
    }
    encoded = json.dumps(pod, separators=(",", ":"))
    padding = max(size - len(encoded) - 40, 0)
    pod["metadata"]["annotations"] = {"bench/padding": "x" * padding}  # type: ignore[index]
    return json.dumps(pod, separators=(",", ":")).encode()


def pod_workload(count: int, *, seed: int = 1) -> tuple[list[str], list[bytes]]:
    rng = random.Random(seed)
    names = [f"pod-{i:06}" for i in range(count)]
    keys = [f"/registry/pods/bench/{name}" for name in names]
    return keys, [pod_value(rng, name) for name in names]


async def concurrent_creates(
    store: Creator, keys: list[str], values: list[bytes], *, writers: int
) -> float:
    """Create every key using `writers` concurrent tasks; returns the elapsed seconds."""
    todo = iter(range(len(keys)))

    async def writer() -> None:
        for i in todo:
            await store.create(keys[i], values[i])

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return time.perf_counter() - start


@dataclass(frozen=True)
class FanoutResult:
    """`deliveries` events reached watchers in `elapsed` s; `latencies` are write→delivery."""

    deliveries: int
    elapsed: float
    latencies: np.ndarray[Any, np.dtype[np.float64]]

    @property
    def events_per_second(self) -> float:
        return self.deliveries / self.elapsed

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000)


Consume = Callable[[Any, int, list[float]], Coroutine[Any, Any, None]]
"""(stream, writes, out): take `writes` events from the stream, recording each one's arrival
time at its write index (`out[write] = arrival`)."""


def each_event(index_of: Callable[[Any], int]) -> Consume:
    """Iterate the stream event by event (a plain Store watch)."""

    async def consume(stream: AsyncIterator[Any], writes: int, out: list[float]) -> None:
        seen = 0
        async for event in stream:
            out[index_of(event)] = time.perf_counter()
            seen += 1
            if seen == writes:
                return

    return consume


def encoded_batches(index_of: Callable[[Any], int], fmt: str = "json") -> Consume:
    """Take whatever a cache watcher has ready and the wire bytes of each event, the way an
    API server writes a batch of watch events to its socket."""

    async def consume(watcher: Any, writes: int, out: list[float]) -> None:
        seen = 0
        while seen < writes:
            batch = await watcher.next_batch()
            if not batch:
                raise RuntimeError("cache watch ended early")
            now = time.perf_counter()
            for event in batch:
                event.encoded(fmt)
                out[index_of(event)] = now
            seen += len(batch)

    return consume


async def watch_fanout(
    streams: list[Any],
    write: Callable[[int], Awaitable[object]],
    *,
    writes: int,
    consume: Consume,
) -> FanoutResult:
    """Write `writes` times, one after another, while every stream consumes; latency is from
    the start of write i to its arrival at each watcher (so it includes the write itself)."""
    arrivals = [[0.0] * writes for _ in streams]
    consumers = [
        asyncio.create_task(consume(s, writes, out))
        for s, out in zip(streams, arrivals, strict=True)
    ]
    started = [0.0] * writes
    begin = time.perf_counter()
    for i in range(writes):
        started[i] = time.perf_counter()
        await write(i)
        await asyncio.sleep(0)  # let consumers run between writes, as a server would
    await asyncio.gather(*consumers)
    elapsed = max(max(out) for out in arrivals) - begin
    latencies = np.array(arrivals, dtype=np.float64) - np.array(started, dtype=np.float64)
    return FanoutResult(len(streams) * writes, elapsed, latencies.ravel())
