"""`kcore bench proxy`: wrk through the kcore proxy, through HAProxy (TCP mode, as many threads
as the proxy has workers, the same socket buffer and pipe sizes, its faster splice option per
workload) and straight to nginx, in one run with the targets taking turns
(benchmarks/proxy_bench.py, the same comparison as benchmarks/test_proxy_bench.py).

Per workload (keep-alive small responses, `Connection: close`, 1 MiB bulk): requests/s and
wrk's p99 latency beside HAProxy, and requests/s beside the direct path (the ceiling); for
bulk also beside the kcore proxy keeping the system's congestion control on its sockets
(BBR here; its default is reno on loopback, see kcore.proxy.datapath), measured in the same
rounds, so the figure shows what that choice is worth.
"""

from __future__ import annotations

import shutil

from kcore.bench.harness import Context, Unavailable
from kcore.bench.results import Series, result
from kcore.bench.workloads import driver

WORKERS = 2
TOOLS = ("nginx", "haproxy", "wrk")


def run(ctx: Context) -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise Unavailable(f"proxy peers not installed: {', '.join(missing)}")
    bench = driver("proxy_bench", "the proxy comparison")
    seconds, rounds = (2.0, 3) if ctx.quick else (3.0, 3)
    targets = len(bench.TARGETS)
    with ctx.phase(f"wrk x {len(bench.WORKLOADS)} workloads x {targets} targets x {rounds} rounds"):
        figures = bench.compare(workers=WORKERS, seconds=seconds, rounds=rounds)
    bad = [f for f in figures if f.errors]
    if bad:
        raise RuntimeError(f"wrk saw {bad[0].errors} errors on {bad[0].target}/{bad[0].workload}")
    by = {(f.workload, f.target): f for f in figures}
    for workload in bench.WORKLOADS:
        kc, ha, direct, syscc = (by[(workload, t)] for t in bench.TARGETS)
        peers = [("HAProxy", ha), ("direct (no proxy)", direct)]
        if workload == "bulk":  # the one workload the congestion control choice moves
            peers.append(("kcore, system's congestion control", syscc))
        for peer, other in peers:
            ctx.add(result(scenario="proxy", metric=f"{workload}: requests/s", unit="req/s",
                           kcore=kc.requests_per_s, peer=peer, peer_value=other.requests_per_s,
                           higher_is_better=True))  # fmt: skip
        ctx.add(result(scenario="proxy", metric=f"{workload}: p99 latency", unit="ms",
                       kcore=kc.p99_ms, peer="HAProxy", peer_value=ha.p99_ms,
                       higher_is_better=False))  # fmt: skip
    workloads = list(bench.WORKLOADS)
    ctx.plot(Series(name="proxy-throughput", kind="bar", title="proxy throughput (wrk)",
                    xlabel="workload", ylabel="requests/s", groups=workloads,
                    bars={t: [by[(w, t)].requests_per_s for w in workloads]
                          for t in ("kcore", "haproxy", "direct")}))  # fmt: skip
