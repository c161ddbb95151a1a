"""`kcore bench apiserver`: the kcore API server (subprocess, SQLite store, plain HTTP) beside
etcd-server (its HTTP/JSON gateway), both driven by the same load generator
(benchmarks/apiserver_load.py) in separate processes:

1. durable pod creates/s from 64 concurrent keep-alive clients, with p50/p99 latency;
2. the list of every pod (10,000 after phase 1);
3. p50/p99 create latency at a fixed 1,000 creates/s (open loop), also beside Kubernetes'
   published API call latency SLO;
4. watch fan-out: 1,000 watch streams while pods are created at 100/s, p50/p99 from each
   create's send to its delivery on every stream.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from kcore.bench.harness import Context, Phase
from kcore.bench.results import Series, cdf_points, result
from kcore.bench.workloads import driver

SLO_SOURCE = (
    "Kubernetes SLO: mutating API call latency p99 <= 1 s "
    "(kubernetes/community sig-scalability/slos/api_call_latency.md)"
)


class Sizes:
    """Workload sizes; `quick` shortens the timed phases, never the issue's shapes (10,000
    pods, 1,000 creates/s, 1,000 watchers at 100 events/s)."""

    def __init__(self, quick: bool) -> None:
        self.creates = 10_000
        self.clients = 64
        self.procs = 2
        self.lists = 3 if quick else 10
        self.paced_rate = 1_000.0
        self.paced_seconds = 5.0 if quick else 15.0
        self.watchers = 1_000
        self.watch_rate = 100.0
        self.watch_seconds = 5.0 if quick else 15.0


def _ticker(phase: Phase) -> Callable[[], None]:
    began = time.monotonic()
    return lambda: phase.update(time.monotonic() - began)


def run(ctx: Context) -> None:
    load = driver("apiserver_load", "the API server load generator")
    etcd_server = driver("etcd_server", "the etcd launcher (tests/etcd_server.py)")
    sizes = Sizes(ctx.quick)
    with ctx.phase("start kcore apiserver and etcd-server"):
        kcore_target, _ = ctx.cleanup.enter(load.kcore_apiserver(), "kcore apiserver")
        etcd = ctx.cleanup.enter(etcd_server.running_etcd(), "etcd-server")
        ctx.cleanup.listener("127.0.0.1", etcd.client_port)
        ctx.cleanup.listener("127.0.0.1", int(kcore_target.base_url.rsplit(":", 1)[1]))
    targets = [kcore_target, load.etcd_target(etcd.endpoint)]
    ctx.notes.append(
        f"load generator: {sizes.procs} processes (+1 writer for the watch phase) on the same "
        f"{os.cpu_count()} cores as the servers; plain HTTP/1.1 keep-alive to both"
    )
    _creates(ctx, load, targets, sizes)
    _lists(ctx, load, targets, sizes)
    _paced(ctx, load, targets, sizes)
    _fanout(ctx, load, targets, sizes)


def _pair(ctx: Context, metric: str, unit: str, values: list[float], higher: bool) -> None:
    ctx.add(
        result(
            scenario="apiserver",
            metric=metric,
            unit=unit,
            kcore=values[0],
            peer="etcd-server (HTTP gateway)",
            peer_value=values[1],
            higher_is_better=higher,
        )
    )


def _cdf(
    ctx: Context, name: str, title: str, samples: dict[str, Any], of: str = "requests"
) -> None:
    points = {label: cdf_points(list(lat)) for label, lat in samples.items()}
    ctx.plot(Series(name=name, kind="cdf", title=title, xlabel="latency (ms)",
                    ylabel=f"fraction of {of}", points=points, log_x=True))  # fmt: skip


def _check(what: str, errors: int, detail: str) -> None:
    if errors:
        raise RuntimeError(f"{what}: {errors} failed requests, first: {detail}")


def _creates(ctx: Context, load: Any, targets: list[Any], s: Sizes) -> None:
    rates = []
    for t in targets:
        with ctx.phase(f"{s.creates:,} creates on {t.name}") as phase:
            r = load.closed_loop_creates(t, count=s.creates, clients=s.clients, procs=s.procs,
                                         tick=_ticker(phase))  # fmt: skip
        _check(f"creates on {t.name}", r.errors, r.detail)
        rates.append(r)
    how = f"{s.clients} clients, {s.procs} loadgen procs"
    _pair(ctx, f"durable pod creates ({how})", "creates/s", [r.per_second for r in rates], True)
    _pair(ctx, "create latency p50 (same run)", "ms", [r.p(50) for r in rates], False)
    _pair(ctx, "create latency p99 (same run)", "ms", [r.p(99) for r in rates], False)
    _cdf(ctx, "apiserver-create-latency", f"pod create latency, {how}",
         {t.name: r.latencies_ms for t, r in zip(targets, rates, strict=True)})  # fmt: skip


def _lists(ctx: Context, load: Any, targets: list[Any], s: Sizes) -> None:
    medians = []
    for t in targets:
        with ctx.phase(f"list {s.creates:,} pods on {t.name}", total=None):
            r, items = load.list_all(t, times=s.lists)
        _check(f"list on {t.name}", r.errors, r.detail)
        if items != s.creates:
            raise RuntimeError(f"list on {t.name} returned {items} items, not {s.creates}")
        medians.append(r.p(50))
    _pair(ctx, f"list of {s.creates:,} pods (median)", "ms", medians, False)


def _paced(ctx: Context, load: Any, targets: list[Any], s: Sizes) -> None:
    rates = []
    for t in targets:
        label = f"{s.paced_rate:,.0f} creates/s on {t.name}"
        with ctx.phase(label, total=s.paced_seconds + 3) as phase:
            r = load.paced_creates(t, rate=s.paced_rate, seconds=s.paced_seconds, procs=1,
                                   tick=_ticker(phase))  # fmt: skip
        if r.errors:  # an overloaded server may refuse (429, "too many requests"): a figure
            ctx.notes.append(f"paced creates on {t.name}: {r.errors} refused, first: {r.detail}")
        rates.append(r)
    at = f"at {s.paced_rate:,.0f} creates/s"
    _pair(ctx, f"create latency p50 {at}", "ms", [r.p(50) for r in rates], False)
    _pair(ctx, f"create latency p99 {at}", "ms", [r.p(99) for r in rates], False)
    total = s.paced_rate * s.paced_seconds
    _pair(ctx, f"creates refused {at}", "%", [100 * r.errors / total for r in rates], False)
    ctx.add(result(scenario="apiserver", metric=f"create latency p99 {at} vs SLO", unit="ms",
                   kcore=rates[0].p(99), peer="Kubernetes SLO", peer_value=1000.0,
                   higher_is_better=False, peer_source="published", source=SLO_SOURCE))  # fmt: skip
    _cdf(ctx, "apiserver-paced-latency", f"pod create latency {at}",
         {t.name: r.latencies_ms for t, r in zip(targets, rates, strict=True)})  # fmt: skip


def _fanout(ctx: Context, load: Any, targets: list[Any], s: Sizes) -> None:
    results = []
    for t in targets:
        rv = load.kube_resource_version(t) if t.kind == "kube" else ""
        label = f"{s.watchers:,} watchers x {s.watch_rate:.0f} events/s on {t.name}"
        with ctx.phase(label, total=None) as phase:
            f = load.watch_fanout(t, watchers=s.watchers, rate=s.watch_rate,
                                  seconds=s.watch_seconds, procs=s.procs, resource_version=rv,
                                  tick=_ticker(phase))  # fmt: skip
        if f.errors:
            ctx.notes.append(f"watch fan-out on {t.name}: {f.errors} errors, first: {f.detail}")
        results.append(f)
    what = f"{s.watchers:,} watchers, {s.watch_rate:.0f} events/s"
    _pair(ctx, f"watch delivery p50 ({what})", "ms", [f.p(50) for f in results], False)
    _pair(ctx, f"watch delivery p99 ({what})", "ms", [f.p(99) for f in results], False)
    _pair(ctx, "watch events delivered (of expected)", "%",
          [100.0 * f.delivered / f.expected for f in results], True)  # fmt: skip
    _cdf(ctx, "apiserver-watch-latency", f"write to watch delivery, {what}",
         {t.name: f.latencies_ms for t, f in zip(targets, results, strict=True)},
         of="deliveries")  # fmt: skip
