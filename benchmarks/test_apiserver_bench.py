"""API server throughput over HTTPS on loopback, client and server on one event loop (so the
figures include aiohttp client cost): creates/s (memory and SQLite stores), list of 1,000 pods,
and watch fan-out (events delivered/s to 100 watchers of one resource).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kcore.apiserver.app import RunningServer, start_apiserver

Run = Callable[[Awaitable[Any]], Any]
PODS = "/api/v1/namespaces/default/pods"


def pod(name: str) -> bytes:
    container = {"name": "c", "image": "busybox:1.36",
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}  # fmt: skip
    doc = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": {"app": "bench"}},
           "spec": {"containers": [container]}}  # fmt: skip
    return json.dumps(doc).encode()


class Api:
    def __init__(self, running: RunningServer) -> None:
        self.base = running.url
        ctx = ssl.create_default_context(cafile=str(running.credentials.ca_cert))
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=0),
            headers={"Authorization": f"Bearer {running.credentials.token}",
                     "Content-Type": "application/json"},
        )  # fmt: skip

    async def post(self, path: str, body: bytes) -> None:
        async with self.session.post(self.base + path, data=body) as r:
            assert r.status == 201, await r.text()
            await r.read()

    async def get(self, path: str) -> bytes:
        async with self.session.get(self.base + path) as r:
            assert r.status == 200
            return await r.read()


@pytest.fixture(params=["memory", "sqlite"])
def api(request: pytest.FixtureRequest, run: Run) -> Iterator[Api]:
    with tempfile.TemporaryDirectory() as tmp:
        store = "memory://" if request.param == "memory" else None
        running = run(start_apiserver(Path(tmp), store=store, port=0))
        client = run(_api(running))
        yield client
        run(client.session.close())
        run(running.stop())


async def _api(running: RunningServer) -> Api:
    return Api(running)  # the aiohttp session must be made on the running loop


async def create_many(api: Api, prefix: str, n: int, concurrency: int = 32) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await api.post(PODS, pod(f"{prefix}-{i}"))

    t = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - t


def test_bench_create_pods(benchmark: Any, api: Api, run: Run) -> None:
    rounds = iter(range(1000))
    n = 300
    elapsed = benchmark.pedantic(lambda: run(create_many(api, f"r{next(rounds)}", n)),
                                 rounds=3, iterations=1)  # fmt: skip
    benchmark.extra_info["creates_per_s"] = round(n / elapsed)


def test_bench_list_1000_pods(benchmark: Any, api: Api, run: Run) -> None:
    run(create_many(api, "l", 1000))
    body = benchmark.pedantic(lambda: run(api.get(PODS)), rounds=10, iterations=1)
    assert len(json.loads(body)["items"]) == 1000


async def fan_out(api: Api, watchers: int, events: int) -> float:
    listed = json.loads(await api.get(PODS))
    rv = listed["metadata"]["resourceVersion"]
    ready = asyncio.Event()
    opened = 0

    async def watch() -> int:
        nonlocal opened
        got = 0
        async with api.session.get(f"{api.base}{PODS}?watch=1&resourceVersion={rv}") as r:
            opened += 1
            if opened == watchers:
                ready.set()
            async for _ in r.content:
                got += 1
                if got == events:
                    return got
        return got

    tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
    await ready.wait()
    t = time.perf_counter()
    await create_many(api, f"w{rv}", events)
    counts = await asyncio.gather(*tasks)
    assert counts == [events] * watchers
    return time.perf_counter() - t


def test_bench_watch_fan_out(benchmark: Any, api: Api, run: Run) -> None:
    watchers, events = 100, 100
    elapsed = benchmark.pedantic(lambda: run(fan_out(api, watchers, events)), rounds=2,
                                 iterations=1)  # fmt: skip
    benchmark.extra_info["events_delivered_per_s"] = round(watchers * events / elapsed)
