"""Permit "Wait" as Kubernetes does it: a held pod stays reserved and assumed while its
permit plugins decide; allowed by all, it binds; rejected or timed out, it is unreserved,
forgotten and failed as unschedulable. Plugins here are a user's, registered by name."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar

import pytest
from simobjects import node, pod

import kcore
from kcore.api.core import Event, Pod
from kcore.scheduler.config import parse_config
from kcore.scheduler.framework import CycleState, Registry, Status, WaitingPod, builtin_registry
from kcore.scheduler.framework.interface import Handle
from kcore.scheduler.framework.waiting import go_duration
from kcore.scheduler.scheduler import Scheduler


class Gang:
    """Coscheduling: holds pods labelled gang=G until `size` of G are waiting, then lets
    them all go."""

    NAME: ClassVar[str] = "Gang"

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        self.size = int(args.get("size", 3))

    def permit(self, state: CycleState, p: Pod, node_name: str) -> Status | None:
        group = p.metadata.labels.get("gang")
        if group is None:
            return None
        members: list[WaitingPod] = []

        def collect(waiting: WaitingPod) -> None:
            if waiting.pod.metadata.labels.get("gang") == group:
                members.append(waiting)

        self.handle.iterate_over_waiting_pods(collect)
        if len(members) + 1 < self.size:
            return Status.wait(30.0, f"waiting for gang {group}")
        for waiting in members:
            waiting.allow(self.NAME)
        return None


class Holder:
    """Holds pods labelled hold=SECONDS for that long (unless someone allows or rejects)."""

    NAME: ClassVar[str] = "Holder"

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        pass

    def permit(self, state: CycleState, p: Pod, node_name: str) -> Status | None:
        seconds = p.metadata.labels.get("hold")
        return None if seconds is None else Status.wait(float(seconds))


class Denier:
    """Rejects pods labelled deny=yes."""

    NAME: ClassVar[str] = "Denier"

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        pass

    def permit(self, state: CycleState, p: Pod, node_name: str) -> Status | None:
        return Status.unschedulable("denied") if "deny" in p.metadata.labels else None


class Ledger:
    """Reserve/unreserve bookkeeping a plugin keeps (as a volume or quota plugin would)."""

    NAME: ClassVar[str] = "Ledger"

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.reserved: set[str] = set()

    def reserve(self, state: CycleState, p: Pod, node_name: str) -> None:
        self.reserved.add(p.metadata.name)

    def unreserve(self, state: CycleState, p: Pod, node_name: str) -> None:
        self.reserved.discard(p.metadata.name)


class Record:
    """A binder that writes nothing anywhere: it records what it was asked to bind."""

    NAME: ClassVar[str] = "Record"

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.binds: dict[str, str] = {}

    async def bind(self, state: CycleState, p: Pod, node_name: str) -> None:
        self.binds[p.metadata.name] = node_name


def _registry() -> Registry:
    return builtin_registry().merged({c.NAME: c for c in (Gang, Holder, Denier, Ledger, Record)})


def _config(*permit: str, record: bool = True) -> Any:
    plugins: dict[str, Any] = {
        "multiPoint": {"enabled": [{"name": n} for n in ("Ledger", *permit)]}
    }
    if record:
        plugins["bind"] = {"disabled": [{"name": "DefaultBinder"}], "enabled": [{"name": "Record"}]}
    return parse_config({"profiles": [{"plugins": plugins}]})


def scheduler(*permit: str, nodes: int = 3, cpu: str = "4") -> Scheduler:
    s = Scheduler(None, config=_config(*permit), registry=_registry())
    for i in range(nodes):
        s.on_node_add(node(f"n{i}", cpu=cpu))
    return s


def plugin(s: Scheduler, name: str) -> Any:
    return s.frameworks["default-scheduler"].plugin(name)


def schedule_pending(s: Scheduler) -> None:
    while (qp := s.queue.pop_nowait()) is not None:
        s.schedule_one(qp)


async def settled(check: Callable[[], Any]) -> Any:
    """Lets the scheduler's tasks run until `check` holds."""
    async with asyncio.timeout(10):
        while True:
            if result := check():
                return result
            await asyncio.sleep(0.01)


def cpu_requested(s: Scheduler, node_name: str) -> int:
    table = s.cache.table
    return int(table.arrays().requested[table.index_of(node_name), table.resource_column("cpu")])


@pytest.mark.parametrize("together", [False, True], ids=["one-by-one", "batched"])
async def test_gang_of_three_waits_then_binds_together(together: bool) -> None:
    s = scheduler("Gang")
    binds = plugin(s, "Record").binds
    # batched: identical pods are placed by the batch kernel, each still through permit
    labels = [{"gang": "a"} if together else {"gang": "a", "i": str(i)} for i in range(3)]
    gang = [pod(f"g{i}", labels=labels[i]) for i in range(3)]
    for p in gang[:2]:
        s.on_pod_add(p)
        if not together:
            schedule_pending(s)
    if not together:
        await asyncio.sleep(0.05)  # the bind tasks run: they wait
        assert binds == {} and s.bound == 0
        held = s.get_waiting_pod("uid-g0")
        assert held is not None and held.pending_plugins() == ["Gang"]
        assert s.cache.is_assumed("default/g0") and s.cache.is_assumed("default/g1")
    s.on_pod_add(gang[2])
    schedule_pending(s)
    await settled(lambda: s.bound == 3)
    assert sorted(binds) == ["g0", "g1", "g2"]
    assert len(s.waiting_pods) == 0 and s.queue.in_flight == {}
    await s.close()


async def test_members_already_let_go_do_not_count_for_the_next_gang() -> None:
    s = scheduler("Gang")
    for i in range(4):  # all decided before any binding task runs
        s.on_pod_add(pod(f"g{i}", labels={"gang": "a", "i": str(i)}))
        schedule_pending(s)
    assert s.get_waiting_pod("uid-g0") is None  # allowed by g2: no longer waiting
    g3 = s.get_waiting_pod("uid-g3")
    assert g3 is not None and g3.pending_plugins() == ["Gang"]
    await settled(lambda: s.bound == 3)
    assert sorted(plugin(s, "Record").binds) == ["g0", "g1", "g2"]
    for i in (4, 5):
        s.on_pod_add(pod(f"g{i}", labels={"gang": "a", "i": str(i)}))
        schedule_pending(s)
    await settled(lambda: s.bound == 6)
    await s.close()


async def test_a_pod_no_plugin_holds_binds_without_waiting() -> None:
    s = scheduler("Gang", "Holder")
    s.on_pod_add(pod("plain"))
    schedule_pending(s)
    assert len(s.waiting_pods) == 0
    await settled(lambda: s.bound == 1)
    assert list(plugin(s, "Record").binds) == ["plain"]
    await s.close()


async def test_a_rejected_waiting_pod_is_unreserved_and_its_room_freed() -> None:
    s = scheduler("Holder", nodes=1, cpu="1")
    s.on_pod_add(pod("held", cpu="800m", labels={"hold": "30"}))
    schedule_pending(s)
    await asyncio.sleep(0.01)
    assert cpu_requested(s, "n0") == 800 and plugin(s, "Ledger").reserved == {"held"}
    waiting = s.get_waiting_pod("uid-held")
    assert waiting is not None and waiting.node == "n0"
    waiting.reject("Holder", "not today")
    assert s.get_waiting_pod("uid-held") is None  # settled: plugins no longer see it
    await settled(lambda: "default/held" not in s.queue.in_flight)
    assert s.bound == 0 and plugin(s, "Record").binds == {}
    assert "default/held" not in s.cache.pods and cpu_requested(s, "n0") == 0
    assert plugin(s, "Ledger").reserved == set()
    queued = s.queue.backoff.get("default/held") or s.queue.unschedulable.get("default/held")
    assert queued is not None and queued.reasons == "not today"
    assert len(s.waiting_pods) == 0
    await s.close()


async def test_a_waiting_pods_room_stays_reserved_until_it_is_rejected() -> None:
    s = scheduler("Holder", nodes=1, cpu="1")
    s.on_pod_add(pod("held", cpu="800m", labels={"hold": "30"}))
    schedule_pending(s)
    s.on_pod_add(pod("second", cpu="500m"))
    schedule_pending(s)
    second = s.queue.unschedulable["default/second"]
    assert second.reasons.startswith("0/1 nodes are available: 1 Insufficient cpu.")
    waiting = s.get_waiting_pod("uid-held")
    assert waiting is not None
    waiting.reject("Holder", "not today")
    await settled(lambda: "default/held" not in s.queue.in_flight)
    # the freed room sends the pod that did not fit back for another try
    assert "default/second" not in s.queue.unschedulable
    result = s.frameworks["default-scheduler"].schedule(pod("second", cpu="500m"))
    assert result.node == "n0"
    await s.close()


async def test_timeout_rejects_with_kubes_message_and_requeues() -> None:
    s = scheduler("Holder", nodes=1)
    s.on_pod_add(pod("slow", labels={"hold": "0.05"}))
    schedule_pending(s)
    waiting = s.get_waiting_pod("uid-slow")
    assert waiting is not None and waiting.deadline("Holder") is not None
    await settled(lambda: "default/slow" not in s.queue.in_flight)
    queued = s.queue.backoff.get("default/slow") or s.queue.unschedulable.get("default/slow")
    assert queued is not None
    assert queued.reasons == "rejected due to timeout after waiting 50ms at plugin Holder"
    assert s.bound == 0 and "default/slow" not in s.cache.pods
    await s.close()


@pytest.mark.parametrize("order", [("Holder", "Denier"), ("Denier", "Holder")])
async def test_one_plugins_rejection_beats_anothers_wait(order: tuple[str, str]) -> None:
    s = scheduler(*order, nodes=1)
    s.on_pod_add(pod("both", labels={"hold": "30", "deny": "yes"}))
    schedule_pending(s)
    assert len(s.waiting_pods) == 0 and s.get_waiting_pod("uid-both") is None
    assert "default/both" not in s.cache.pods and cpu_requested(s, "n0") == 0
    assert plugin(s, "Ledger").reserved == set()
    rejected = s.queue.unschedulable.get("default/both")
    assert rejected is not None and rejected.reasons == "0/1 nodes are available: denied."
    await asyncio.sleep(0.01)
    assert s.bound == 0
    await s.close()


async def test_a_deleted_waiting_pod_stops_waiting_and_is_not_requeued() -> None:
    s = scheduler("Holder", nodes=1)
    held = pod("held", labels={"hold": "30"})
    s.on_pod_add(held)
    schedule_pending(s)
    assert s.get_waiting_pod("uid-held") is not None
    s.on_pod_delete(held)
    await settled(lambda: len(s.waiting_pods) == 0)
    await asyncio.sleep(0.01)
    assert len(s.queue) == 0 and s.bound == 0 and "default/held" not in s.cache.pods
    assert plugin(s, "Ledger").reserved == set()
    await s.close()


async def test_a_waiting_victim_of_preemption_is_rejected_not_deleted() -> None:
    s = scheduler("Holder", nodes=1, cpu="1")
    s.on_pod_add(pod("low", cpu="800m", priority=0, labels={"hold": "30"}))
    schedule_pending(s)
    s.on_pod_add(pod("high", cpu="800m", priority=100))
    schedule_pending(s)
    assert s.cache.nominated["default/high"][1] == "n0"
    await settled(lambda: "default/low" not in s.queue.in_flight)
    low = s.queue.backoff.get("default/low") or s.queue.unschedulable.get("default/low")
    assert low is not None and low.reasons == "preempted"
    assert "default/low" not in s.cache.pods and cpu_requested(s, "n0") == 0
    assert s.frameworks["default-scheduler"].schedule(pod("high", cpu="800m")).node == "n0"
    await s.close()


async def test_closing_the_scheduler_drops_its_waiting_pods() -> None:
    s = scheduler("Holder", nodes=1)
    s.on_pod_add(pod("held", labels={"hold": "30"}))
    schedule_pending(s)
    waiting = s.get_waiting_pod("uid-held")
    assert waiting is not None
    await s.close()
    assert len(s.waiting_pods) == 0 and waiting.settled and waiting.pending_plugins() == []


def test_durations_print_as_go_prints_them() -> None:
    cases = {
        0.05: "50ms",
        2: "2s",
        1.5: "1.5s",
        90: "1m30s",
        900: "15m0s",
        3600: "1h0m0s",
        0.0015: "1.5ms",
        0.000002: "2µs",
        0: "0s",
    }
    assert {seconds: go_duration(seconds) for seconds in cases} == cases


# -- through the API server: the event and the condition ---------------------------------------


@contextlib.asynccontextmanager
async def running(cluster: kcore.Cluster) -> AsyncIterator[Scheduler]:
    client = cluster.new_client(wire="msgpack")
    async with client:
        s = Scheduler(client, config=_config("Holder", record=False), registry=_registry())
        task = asyncio.create_task(s.run())
        try:
            yield s
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _eventually(check: Callable[[], Awaitable[Any]]) -> Any:
    async with asyncio.timeout(20):
        while True:
            if result := await check():
                return result
            await asyncio.sleep(0.05)


async def test_rejections_report_failed_scheduling_through_the_api() -> None:
    async with kcore.Cluster() as cluster:
        client = cluster.client
        await client.create(node("n0"))
        async with running(cluster) as s:
            await client.create(pod("slow", labels={"hold": "0.2"}))
            await client.create(pod("refused", labels={"hold": "30"}))

            async def condition(name: str) -> str:
                got = await client.get(Pod, name, namespace="default")
                cond = next((c for c in got.status.conditions if c.type == "PodScheduled"), None)
                return cond.message if cond is not None and cond.status == "False" else ""

            timeout = "rejected due to timeout after waiting 200ms at plugin Holder"
            assert await _eventually(lambda: condition("slow")) == timeout

            def refuse(waiting: WaitingPod) -> None:
                if waiting.pod.metadata.name == "refused":
                    waiting.reject("Holder", "refused by the test")

            await _eventually(lambda: _now(s.get_waiting_pod(_uid_of("refused", s)) is not None))
            s.iterate_over_waiting_pods(refuse)
            assert await _eventually(lambda: condition("refused")) == "refused by the test"

            async def failed(name: str) -> list[Event]:
                events = (await client.list(Event, namespace="default")).items
                return [
                    e
                    for e in events
                    if e.involved_object.name == name and e.reason == "FailedScheduling"
                ]

            slow_events = await _eventually(lambda: failed("slow"))
            assert slow_events[0].type == "Warning" and slow_events[0].message == timeout
            refused_events = await _eventually(lambda: failed("refused"))
            assert refused_events[0].message == "refused by the test"
            for name in ("slow", "refused"):
                assert (await client.get(Pod, name, namespace="default")).spec.node_name == ""


async def _now(value: bool) -> bool:
    return value


def _uid_of(name: str, s: Scheduler) -> str:
    """The uid the API server gave `name` (uids are the API server's, not the test's)."""
    found = [w.pod.metadata.uid for w in s.waiting_pods if w.pod.metadata.name == name]
    return found[0] if found else ""
