"""The scheduling queue: priority order, exact backoffs, unschedulable pods and moves."""

from __future__ import annotations

import asyncio

import pytest
from simobjects import pod

from kcore.scheduler.queue import SchedulingQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> SchedulingQueue:
    return SchedulingQueue(clock=clock)


def _names(queue: SchedulingQueue) -> list[str]:
    out = []
    while (qp := queue.pop_nowait()) is not None:
        out.append(qp.pod.metadata.name)
    return out


def test_priority_first_then_oldest(queue: SchedulingQueue, clock: Clock) -> None:
    for name, prio in (("a", 0), ("b", 10), ("c", 0), ("d", 10), ("e", 5)):
        queue.add(pod(name, priority=prio))
        clock.now += 1
    assert _names(queue) == ["b", "d", "e", "a", "c"]


def test_backoff_doubles_from_1s_to_10s(queue: SchedulingQueue) -> None:
    assert [queue.backoff_duration(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_error_requeue_waits_out_the_backoff(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("a"))
    for attempt, wait in ((1, 1.0), (2, 2.0), (3, 4.0)):
        qp = queue.pop_nowait()
        assert qp is not None and qp.attempts == attempt
        queue.requeue_error(qp)
        clock.now += wait - 0.01
        assert queue.pop_nowait() is None
        clock.now += 0.01
    assert queue.pop_nowait() is not None


def test_unschedulable_waits_for_a_move(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("a"))
    qp = queue.pop_nowait()
    assert qp is not None
    queue.requeue_unschedulable(qp, queue.cycle, "0/1 nodes are available")
    clock.now += 60
    assert queue.pop_nowait() is None and "default/a" in queue.unschedulable
    assert queue.move_all() == 1
    again = queue.pop_nowait()  # backoff (1 s) long over: straight to active
    assert again is not None and again.reasons == "0/1 nodes are available"


def test_moved_pod_still_backing_off_goes_to_backoff(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("a"))
    qp = queue.pop_nowait()
    assert qp is not None
    queue.requeue_unschedulable(qp, queue.cycle)
    queue.move_all()
    assert "default/a" in queue.backoff and queue.pop_nowait() is None
    clock.now += 1.0
    assert queue.pop_nowait() is not None


def test_event_during_the_attempt_is_not_lost(queue: SchedulingQueue, clock: Clock) -> None:
    queue.add(pod("a"))
    qp = queue.pop_nowait()
    assert qp is not None
    cycle = queue.cycle
    queue.move_all()  # e.g. a node was added while the pod was being tried
    queue.requeue_unschedulable(qp, cycle)
    assert "default/a" in queue.backoff and not queue.unschedulable


def test_unschedulable_leftovers_retry_after_five_minutes(
    queue: SchedulingQueue, clock: Clock
) -> None:
    queue.add(pod("a"))
    qp = queue.pop_nowait()
    assert qp is not None
    queue.requeue_unschedulable(qp, queue.cycle)
    clock.now += 299
    queue.flush_unschedulable_leftover()
    assert queue.unschedulable
    clock.now += 1
    queue.flush_unschedulable_leftover()
    assert queue.pop_nowait() is not None


def test_update_frees_an_unschedulable_pod_and_delete_forgets(
    queue: SchedulingQueue, clock: Clock
) -> None:
    queue.add(pod("a"))
    qp = queue.pop_nowait()
    assert qp is not None
    queue.requeue_unschedulable(qp, queue.cycle)
    clock.now += 5
    queue.add(pod("a", cpu="50m"))
    got = queue.pop_nowait()
    assert got is not None and got.pod.spec.containers[0].resources.requests == {"cpu": "50m"}
    queue.add(pod("b"))
    queue.delete("default/b")
    queue.delete("default/a")
    queue.requeue_error(got)  # deleted while in flight: dropped
    assert len(queue) == 0 and queue.pop_nowait() is None


def test_pop_group_takes_siblings(clock: Clock) -> None:
    queue = SchedulingQueue(clock=clock, group_of=lambda p: p.metadata.labels.get("app"))
    for i in range(5):
        queue.add(pod(f"w{i}", labels={"app": "web"}))
    queue.add(pod("db", labels={"app": "db"}))
    first = queue.pop_nowait()
    assert first is not None and first.group == "web"
    rest = queue.pop_group("web", 3)
    assert [q.pod.metadata.name for q in rest] == ["w1", "w2", "w3"]
    assert _names(queue) == ["w4", "db"]


async def test_pop_waits_for_an_add(queue: SchedulingQueue) -> None:
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    queue.add(pod("a"))
    got = await asyncio.wait_for(waiter, 5)
    assert got.key == "default/a"


def test_refresh_swaps_the_pod_without_moving_it(queue: SchedulingQueue) -> None:
    queue.add(pod("a"))
    qp = queue.pop_nowait()
    assert qp is not None
    queue.requeue_unschedulable(qp, queue.cycle)
    newer = pod("a", cpu="1")
    assert queue.refresh(newer) and queue.unschedulable["default/a"].pod is newer
    assert queue.pop_nowait() is None
    assert not queue.refresh(pod("b"))
