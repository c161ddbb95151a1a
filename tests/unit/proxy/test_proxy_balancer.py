"""Balancer policies, run against the plain-Python reference and the Cython `pick` alike.

Both implementations take the clock as an argument, so affinity timeouts are exact. A
hypothesis test drives both through the same random operation sequences and compares every
choice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kcore._ext.proxy import Engine

from kcore.proxy import Address, Balancer, Policy
from kcore.proxy.balancer import DOWN_MS
from kcore.proxy.model import POLICY_CODES

A, B, C, D = (Address(f"127.64.0.{i}", 8080) for i in range(1, 5))
CLIENT_1 = 0x7F000001
CLIENT_2 = 0x7F000002


class Picker(Protocol):
    def pick(self, client: int, now_ms: int) -> Address | None: ...
    def release(self, addr: Address) -> None: ...
    def fail(self, addr: Address, now_ms: int) -> None: ...
    def update(self, endpoints: Sequence[Address]) -> None: ...
    def active(self, addr: Address) -> int: ...


class CythonBalancer:
    """The data path's own `pick`, on an engine with no listeners and no threads."""

    def __init__(self, endpoints: Sequence[Address], *, policy: Policy, affinity_ms: int) -> None:
        self.engine = Engine(1, 1.0, 0.0)
        self.policy, self.affinity_ms = POLICY_CODES[policy], affinity_ms
        self.update(endpoints)

    def update(self, endpoints: Sequence[Address]) -> None:
        eps = [a.packed() for a in endpoints]
        self.engine.upsert("svc", [], eps, self.policy, self.affinity_ms)

    def pick(self, client: int, now_ms: int) -> Address | None:
        got = self.engine.pick("svc", client, now_ms)
        return None if got is None else Address.unpack(*got)

    def release(self, addr: Address) -> None:
        self.engine.release("svc", *addr.packed())

    def fail(self, addr: Address, now_ms: int) -> None:
        self.engine.fail("svc", *addr.packed(), now_ms)

    def active(self, addr: Address) -> int:
        return {Address.unpack(ip, p): n for ip, p, n in self.engine.endpoints("svc")}[addr]

    def close(self) -> None:
        self.engine.close()


@pytest.fixture(params=["reference", "cython"])
def make(request: pytest.FixtureRequest) -> Iterator[object]:
    made: list[CythonBalancer] = []

    def build(
        eps: Sequence[Address], policy: Policy = "RoundRobin", affinity_ms: int = 0
    ) -> Picker:
        if request.param == "reference":
            return Balancer(eps, policy=policy, affinity_ms=affinity_ms)
        made.append(CythonBalancer(eps, policy=policy, affinity_ms=affinity_ms))
        return made[-1]

    yield build
    for b in made:
        b.close()


def test_round_robin_cycles_in_table_order(make) -> None:  # type: ignore[no-untyped-def]
    b = make([A, B, C])
    assert [b.pick(CLIENT_1, 0) for _ in range(7)] == [A, B, C, A, B, C, A]


def test_round_robin_continues_across_an_update(make) -> None:  # type: ignore[no-untyped-def]
    b = make([A, B, C])
    assert [b.pick(CLIENT_1, 0) for _ in range(2)] == [A, B]
    b.update([A, B, C, D])
    assert [b.pick(CLIENT_1, 0) for _ in range(4)] == [C, D, A, B]


def test_no_endpoints_picks_nothing(make) -> None:  # type: ignore[no-untyped-def]
    b = make([])
    assert b.pick(CLIENT_1, 0) is None
    b.update([A])
    assert b.pick(CLIENT_1, 0) == A
    b.update([])
    assert b.pick(CLIENT_1, 0) is None


def test_least_connections_prefers_the_idlest(make) -> None:  # type: ignore[no-untyped-def]
    b = make([A, B, C], "LeastConnections")
    assert [b.pick(CLIENT_1, 0) for _ in range(3)] == [A, B, C]
    b.release(B)
    assert b.pick(CLIENT_1, 0) == B
    b.release(A)
    b.release(C)
    assert b.pick(CLIENT_1, 0) == C  # tie between A and C: first from the cursor (past B)
    assert b.pick(CLIENT_1, 0) == A
    assert [b.active(x) for x in (A, B, C)] == [1, 1, 1]


def test_least_connections_keeps_counts_across_updates(make) -> None:  # type: ignore[no-untyped-def]
    b = make([A, B], "LeastConnections")
    assert [b.pick(CLIENT_1, 0) for _ in range(3)] == [A, B, A]
    b.update([C, A, B])
    assert b.active(A) == 2
    assert [b.pick(CLIENT_1, 0) for _ in range(2)] == [C, B]  # then C ties B: B is past C


def test_affinity_pins_a_client_until_the_timeout(make) -> None:  # type: ignore[no-untyped-def]
    b = make([A, B, C], affinity_ms=1000)
    first = b.pick(CLIENT_1, 0)
    assert [b.pick(CLIENT_1, t) for t in (10, 500, 1400)] == [first] * 3  # refreshed on use
    other = b.pick(CLIENT_2, 1400)
    assert other != first
    assert b.pick(CLIENT_1, 2400) != first  # 1000 ms after its last use: pick anew
    assert b.pick(CLIENT_2, 2399) == other


def test_affinity_moves_when_the_endpoint_goes(make) -> None:  # type: ignore[no-untyped-def]
    b = make([A, B], affinity_ms=10_000)
    assert b.pick(CLIENT_1, 0) == A
    b.update([B, C])
    moved = b.pick(CLIENT_1, 1)
    assert moved in (B, C)
    b.update([A, B, C])  # A again, but as a new endpoint: the new pin holds
    assert b.pick(CLIENT_1, 2) == moved


def test_affinity_with_least_connections(make) -> None:  # type: ignore[no-untyped-def]
    b = make([A, B], "LeastConnections", affinity_ms=100)
    assert b.pick(CLIENT_1, 0) == A
    assert b.pick(CLIENT_1, 1) == A  # pinned, though B is idler
    assert b.pick(CLIENT_2, 2) == B


def test_a_failed_endpoint_yields_until_it_may_be_back(make) -> None:  # type: ignore[no-untyped-def]
    b = make([A, B, C])
    b.fail(B, 1000)
    assert [b.pick(CLIENT_1, 1000 + t) for t in range(4)] == [A, C, A, C]
    assert [b.pick(CLIENT_1, 1000 + DOWN_MS) for _ in range(3)] == [A, B, C]
    for x in (A, B, C):
        b.fail(x, 10_000)
    assert b.pick(CLIENT_1, 10_001) == A  # all down: still try them, in order


def test_affinity_leaves_a_failed_endpoint(make) -> None:  # type: ignore[no-untyped-def]
    b = make([A, B], affinity_ms=60_000)
    assert b.pick(CLIENT_1, 0) == A
    b.fail(A, 1)
    assert b.pick(CLIENT_1, 2) == B
    assert b.pick(CLIENT_1, 3 + DOWN_MS) == B  # pinned to B now


ops = st.lists(
    st.one_of(
        st.tuples(st.just("pick"), st.integers(1, 6), st.integers(0, 50)),
        st.tuples(st.just("release"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("update"), st.integers(0, 63), st.just(0)),
        st.tuples(st.just("fail"), st.integers(0, 5), st.integers(0, 3000)),
    ),
    max_size=60,
)
POOL = [Address(f"127.64.1.{i}", 80) for i in range(1, 7)]


@settings(max_examples=150, deadline=None)
@given(
    ops=ops,
    policy=st.sampled_from(["RoundRobin", "LeastConnections"]),
    affinity=st.sampled_from([0, 20]),
)
def test_cython_pick_matches_the_reference(ops, policy, affinity) -> None:  # type: ignore[no-untyped-def]
    ref = Balancer(POOL[:3], policy=policy, affinity_ms=affinity)
    cy = CythonBalancer(POOL[:3], policy=policy, affinity_ms=affinity)
    now, live = 0, []
    try:
        for op, x, dt in ops:
            now += dt
            if op == "pick":
                got = ref.pick(x, now)
                assert cy.pick(x, now) == got
                if got is not None:
                    live.append(got)
            elif op == "release" and live:
                addr = live.pop(x % len(live))
                ref.release(addr)
                cy.release(addr)
            elif op == "fail":
                ref.fail(POOL[x], now)
                cy.fail(POOL[x], now)
            elif op == "update":
                eps = [a for i, a in enumerate(POOL) if x >> i & 1]
                ref.update(eps)
                cy.update(eps)
                live = [a for a in live if a in eps]
    finally:
        cy.close()
