"""API server benchmark (issue 3), kcore beside etcd-server driven by the same load generator
(benchmarks/apiserver_load.py: a minimal HTTP/1.1 client on uvloop in separate processes):

* durable pod creates/s and p50/p99 latency from 64 concurrent keep-alive clients
  (2 load-generator processes), 10,000 pods;
* the list of those 10,000 pods;
* p50/p99 create latency at a fixed 1,000 creates/s (open loop);
* watch fan-out: 1,000 watch streams while pods are created at 100/s, p50/p99 from each
  create's send to its delivery on every stream.

kcore is `kcore apiserver` in a subprocess (SQLite store, plain HTTP); the peer is a fresh
etcd-server through its HTTP/JSON gateway (txn create, range, watch). Goals on a 2-core
machine: >= 5,000 creates/s; p99 <= 20 ms at 1,000 creates/s; 1,000 watchers at 100 events/s
with p99 delivery <= 100 ms. The figures are in extra_info and the end-of-run summary; the
timed body of each benchmark is one measured run (rounds=1), the load being long and shared.

Run with `pytest benchmarks/test_apiserver_bench.py --benchmark-only -s`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apiserver_load as load
import pytest
from etcd_server import running_etcd
from figures import record

CREATES = 10_000
CLIENTS = 64
PROCS = 2
PACED_RATE, PACED_SECONDS = 1_000.0, 10.0
WATCHERS, WATCH_RATE, WATCH_SECONDS = 1_000, 100.0, 10.0


@pytest.fixture(scope="module", params=["kcore", "etcd"])
def target(request: pytest.FixtureRequest) -> Iterator[load.Target]:
    if request.param == "kcore":
        with load.kcore_apiserver() as (kcore_target, _):
            yield kcore_target
    else:
        with running_etcd() as etcd:
            yield load.etcd_target(etcd.endpoint)


@pytest.fixture(scope="module")
def populated(target: load.Target) -> load.Rate:
    """The 10,000 creates, made once per target (the list benchmark needs them too)."""
    rate = load.closed_loop_creates(target, count=CREATES, clients=CLIENTS, procs=PROCS)
    assert rate.errors == 0, rate.detail
    return rate


def _latency(rate: Any) -> dict[str, float]:
    return {"p50_ms": round(rate.p(50), 2), "p99_ms": round(rate.p(99), 2)}


def test_durable_creates(benchmark: Any, target: load.Target, populated: load.Rate) -> None:
    rate = benchmark.pedantic(lambda: populated, rounds=1, iterations=1)
    figures = {"creates_per_s": round(rate.per_second), **_latency(rate), "clients": CLIENTS,
               "loadgen_processes": PROCS}  # fmt: skip
    record(f"apiserver creates [{target.name}]", benchmark, figures)


def test_list_10000_pods(benchmark: Any, target: load.Target, populated: load.Rate) -> None:
    rate, items = benchmark.pedantic(lambda: load.list_all(target, times=5), rounds=1, iterations=1)
    assert rate.errors == 0, rate.detail
    assert items >= CREATES
    record(f"apiserver list [{target.name}]", benchmark, {"items": items, **_latency(rate)})


def test_paced_creates(benchmark: Any, target: load.Target, populated: load.Rate) -> None:
    def paced() -> load.Rate:
        return load.paced_creates(target, rate=PACED_RATE, seconds=PACED_SECONDS, procs=1)

    rate = benchmark.pedantic(paced, rounds=1, iterations=1)
    # An overloaded server may refuse (kcore: 429; etcd: "too many requests"): a figure.
    figures = {"rate": PACED_RATE, **_latency(rate), "goal_p99_ms": 20, "errors": rate.errors,
               "first_error": rate.detail[:120]}  # fmt: skip
    record(f"apiserver creates at 1,000/s [{target.name}]", benchmark, figures)


def test_watch_fan_out(benchmark: Any, target: load.Target, populated: load.Rate) -> None:
    def fan_out() -> load.Fanout:
        rv = load.kube_resource_version(target) if target.kind == "kube" else ""
        return load.watch_fanout(
            target, watchers=WATCHERS, rate=WATCH_RATE, seconds=WATCH_SECONDS, procs=PROCS,
            resource_version=rv,
        )  # fmt: skip

    fanout = benchmark.pedantic(fan_out, rounds=1, iterations=1)
    figures = {"watchers": WATCHERS, "events_per_s": WATCH_RATE,
               "delivered": f"{fanout.delivered}/{fanout.expected}", **_latency(fanout),
               "goal_p99_ms": 100, "errors": fanout.errors,
               "first_error": fanout.detail[:120]}  # fmt: skip
    record(f"apiserver watch fan-out [{target.name}]", benchmark, figures)
