"""Work queue behaviour: dedup, one worker per key, delays and backoff on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from kcore.client.clock import FakeClock
from kcore.client.ratelimit import (
    ItemExponentialRateLimiter,
    TokenBucketRateLimiter,
    default_controller_rate_limiter,
)
from kcore.client.workqueue import DelayingQueue, RateLimitingQueue, WorkQueue, run_worker


async def test_duplicate_adds_merge() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ["a", "b", "a", "a", "b", "c"]:
        q.add(key)
    assert len(q) == 3
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]


async def test_key_added_while_processing_is_requeued_once_after_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert await q.get() == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0  # not handed out while held
    q.done("a")
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_a_key_is_never_processed_by_two_workers() -> None:
    q: WorkQueue[int] = WorkQueue()
    active: set[int] = set()
    overlaps: list[int] = []
    handled: list[int] = []
    enough = asyncio.Event()

    async def worker() -> None:
        while (key := await q.get()) is not None:
            if key in active:
                overlaps.append(key)
            active.add(key)
            await asyncio.sleep(0)
            if len(handled) < 200:
                q.add(key)  # re-add while held: must wait for done()
            handled.append(key)
            if len(handled) >= 200:
                enough.set()
            active.discard(key)
            q.done(key)

    for key in range(5):
        q.add(key)
    workers = [asyncio.create_task(worker()) for _ in range(4)]
    await enough.wait()
    await q.shutdown_with_drain()
    await asyncio.gather(*workers)
    assert overlaps == []
    assert set(handled) == set(range(5))


async def test_shutdown_wakes_waiting_getters() -> None:
    q: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    assert await getter is None
    q.add("x")
    assert len(q) == 0


async def test_shutdown_with_drain_lets_held_and_queued_keys_finish() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add("b")
    held = await q.get()
    drain = asyncio.create_task(q.shutdown_with_drain())
    await asyncio.sleep(0)
    q.add("c")  # refused while draining
    assert not drain.done()
    assert await q.get() == "b"
    q.done("b")
    await asyncio.sleep(0)
    assert not drain.done()
    assert held == "a"
    q.done("a")
    await drain
    assert await q.get() is None


async def test_add_after_fires_exactly_at_the_delay() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("late", 5.0)
    q.add_after("early", 1.0)
    clock.step(0.999)
    assert len(q) == 0
    clock.step(0.001)
    assert len(q) == 1 and q.waiting() == 1
    assert await q.get() == "early"
    clock.step(3.999)
    assert len(q) == 0
    clock.step(0.001)
    assert await q.get() == "late"
    assert clock.pending() == 0


async def test_add_after_keeps_the_earliest_ready_time_per_key() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("k", 10.0)
    q.add_after("k", 2.0)
    q.add_after("k", 7.0)
    clock.step(2.0)
    assert len(q) == 1
    clock.step(20.0)
    assert len(q) == 1  # later duplicates were merged, not re-added


async def test_add_after_zero_adds_now() -> None:
    q: DelayingQueue[str] = DelayingQueue(clock=FakeClock())
    q.add_after("now", 0)
    assert len(q) == 1


def test_item_exponential_backoff_doubles_from_5ms_to_the_cap() -> None:
    limiter = ItemExponentialRateLimiter(0.005, 1000.0)
    delays = [limiter.when("x") for _ in range(20)]
    assert delays[:5] == [0.005, 0.01, 0.02, 0.04, 0.08]
    assert delays[17] == pytest.approx(0.005 * 2**17)  # 655.36 s
    assert delays[18] == 1000.0 and delays[19] == 1000.0
    assert limiter.num_requeues("x") == 20
    assert limiter.when("other") == 0.005
    limiter.forget("x")
    assert limiter.num_requeues("x") == 0
    assert limiter.when("x") == 0.005


def test_token_bucket_allows_burst_then_paces_at_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucketRateLimiter(10.0, 100, clock)
    assert all(bucket.when(i) == 0.0 for i in range(100))
    assert bucket.when("101st") == pytest.approx(0.1)
    assert bucket.when("102nd") == pytest.approx(0.2)
    clock.step(0.2)
    assert bucket.when("after refill") == pytest.approx(0.1)


async def test_rate_limited_adds_back_off_per_item_and_forget_resets() -> None:
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(
        rate_limiter=default_controller_rate_limiter(clock), clock=clock
    )
    q.add_rate_limited("a")
    q.add_rate_limited("b")
    clock.step(0.0049)
    assert len(q) == 0
    clock.step(0.0001)
    assert len(q) == 2
    for _ in range(2):
        key = await q.get()
        assert key is not None
        q.done(key)
    q.add_rate_limited("a")  # second failure: 10 ms
    clock.step(0.0099)
    assert len(q) == 0
    clock.step(0.0001)
    assert len(q) == 1
    assert q.num_requeues("a") == 2
    q.forget("a")
    assert q.num_requeues("a") == 0


async def test_rate_limited_queue_paces_past_the_burst() -> None:
    clock = FakeClock()
    q: RateLimitingQueue[int] = RateLimitingQueue(
        rate_limiter=default_controller_rate_limiter(clock), clock=clock
    )
    for i in range(101):
        q.add_rate_limited(i)
    clock.step(0.005)
    assert len(q) == 100  # the 101st key waits for a token: 100 ms
    clock.step(0.094)
    assert len(q) == 100
    clock.step(0.001)
    assert len(q) == 101


async def test_shutdown_cancels_pending_delays() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("x", 1.0)
    q.shutdown()
    clock.step(2.0)
    assert len(q) == 0
    assert await q.get() is None


async def test_run_worker_retries_with_backoff_then_forgets() -> None:
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(
        rate_limiter=ItemExponentialRateLimiter(0.005, 1000.0), clock=clock
    )
    attempts: list[str] = []
    synced = asyncio.Event()

    async def sync(key: str) -> None:
        attempts.append(key)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        synced.set()

    worker = asyncio.create_task(run_worker(q, sync))
    q.add("k")
    await asyncio.sleep(0)
    assert attempts == ["k"] and q.waiting() == 1 and q.num_requeues("k") == 1
    clock.step(0.005)  # first retry after 5 ms
    await asyncio.sleep(0)
    assert attempts == ["k", "k"] and q.num_requeues("k") == 2
    clock.step(0.0099)
    await asyncio.sleep(0)
    assert len(attempts) == 2
    clock.step(0.0001)  # second retry after 10 ms
    await synced.wait()
    await asyncio.sleep(0)
    assert q.num_requeues("k") == 0  # success forgets
    q.shutdown()
    await worker


async def test_run_worker_drops_a_key_after_max_retries() -> None:
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(
        rate_limiter=ItemExponentialRateLimiter(1.0, 1000.0), clock=clock
    )
    attempts = 0

    async def sync(key: str) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("always")

    worker = asyncio.create_task(run_worker(q, sync, max_retries=2))
    q.add("k")
    for delay in (1.0, 2.0, 4.0):
        await asyncio.sleep(0)
        clock.step(delay)
    await asyncio.sleep(0)
    assert attempts == 3 and q.waiting() == 0 and len(q) == 0
    assert q.num_requeues("k") == 0
    q.shutdown()
    await worker
