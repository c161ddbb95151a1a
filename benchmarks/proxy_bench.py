"""The proxy comparison: wrk through kcore's proxy, through HAProxy (TCP mode), and direct.

One nginx (Debian's nginx-light, one worker) serves a small response and a 1 MiB one on
loopback. HAProxy 2.6 runs in TCP mode with as many threads as the kcore proxy has workers,
the kernel settings the kcore proxy uses by default (1 MiB SO_RCVBUF on its sockets, 1 MiB
splice pipes: the receive buffer alone lifts HAProxy's bulk figure from ~0.6x to ~0.86x
direct here, see kcore/proxy/datapath.py for why) and, per workload, its faster splice
option here (`HAPROXY_SPLICE`): splice-auto, which never splices these small responses, and
splice-response for bulk (splice-auto does not splice 1 MiB responses either, and copying
them costs HAProxy ~380 instead of ~210 us of CPU per response). The kcore proxy runs in
this process with its epoll workers and defaults, and a second time keeping the system's
congestion control on its sockets ("kcore/system-cc": its default is reno on loopback,
HAProxy 2.6 has no per-socket setting). wrk measures three workloads against each target
in turn:

* `keepalive`: small responses over persistent connections (requests/s),
* `close`: small responses with `Connection: close` (new connections/s),
* `bulk`: 1 MiB responses over persistent connections (requests/s and bytes/s),

each with wrk's p99 latency and the CPU time the proxy spent per request (for direct:
nginx's), which a busy shared machine disturbs far less than the rates. `compare()` runs
the lot and returns one `Figure` per (workload, target); benchmarks/test_proxy_bench.py and
`kcore bench proxy` both use it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kcore.proxy import Address, Proxy, ServicePort
from kcore.proxy.datapath import CONGESTION, RECV_BUFFER

WORKLOADS: dict[str, tuple[str, list[str]]] = {
    "keepalive": ("/small", []),
    "close": ("/small", ["-H", "Connection: close"]),
    "bulk": ("/bulk", []),
}
# "kcore/system-cc": the same proxy keeping the system's congestion control (BBR here) on
# its sockets instead of its default reno (kcore.proxy.datapath explains why), so that what
# that choice is worth shows in every run; HAProxy 2.6 has no per-socket setting and keeps
# the system's, as nginx and wrk do.
TARGETS = ("kcore", "haproxy", "direct", "kcore/system-cc")
# HAProxy's faster option per workload on this machine (CPU per request, same runs):
# keep-alive 13.3 us with splice-auto vs 15.1 with splice-response, close 55 vs 60, bulk
# 380 vs 211.
HAPROXY_SPLICE = {"keepalive": "splice-auto", "close": "splice-auto", "bulk": "splice-response"}
SMALL_BODY = b"hello from nginx\n"
BULK_SIZE = 1 << 20
PIPE_SIZE = 1 << 20  # the kcore data path's splice pipe (ext/proxy.pxd)
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_SIZES = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


@dataclass(frozen=True)
class Figure:
    workload: str
    target: str
    requests_per_s: float
    bytes_per_s: float
    p99_ms: float
    errors: int
    cpu_us_per_request: float  # CPU the proxy (or, direct, nginx) spent per request


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_listening(addr: Address, limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while True:
        try:
            socket.create_connection(addr, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def nginx(workdir: Path) -> Iterator[tuple[Address, CpuClock]]:
    """nginx-light with one worker serving /small and /bulk from `workdir`/www."""
    www = workdir / "www"
    www.mkdir(mode=0o755)
    (www / "small").write_bytes(SMALL_BODY)
    (www / "bulk").write_bytes(os.urandom(BULK_SIZE))
    addr = Address("127.0.0.1", free_port())
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"""daemon off; user root; worker_processes 1; pid {workdir}/nginx.pid;
error_log {workdir}/nginx.err warn;
events {{ worker_connections 8192; }}
http {{
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 10000000; keepalive_timeout 60s;
  client_body_temp_path {workdir}/t1; proxy_temp_path {workdir}/t2;
  fastcgi_temp_path {workdir}/t3; uwsgi_temp_path {workdir}/t4; scgi_temp_path {workdir}/t5;
  server {{ listen {addr.host}:{addr.port} backlog=4096; root {www}; }}
}}
"""
    )
    with _process(["nginx", "-c", str(conf), "-e", str(workdir / "nginx.err")], addr) as cpu:
        yield addr, cpu


@contextlib.contextmanager
def haproxy(
    workdir: Path, backend: Address, threads: int, splice: str = "splice-auto"
) -> Iterator[tuple[Address, CpuClock]]:
    """HAProxy in TCP mode with `threads` threads in front of `backend`, its socket buffers
    and pipes sized as the kcore proxy's (kcore.proxy.datapath.RECV_BUFFER, PIPE_SIZE), and
    `option {splice}`."""
    addr = Address("127.0.0.1", free_port())
    conf = workdir / f"haproxy-{splice}.cfg"
    conf.write_text(
        f"""global
  nbthread {threads}
  maxconn 4000
  tune.rcvbuf.client {RECV_BUFFER}
  tune.rcvbuf.server {RECV_BUFFER}
  tune.pipesize {PIPE_SIZE}
defaults
  mode tcp
  option {splice}
  timeout connect 2s
  timeout client 60s
  timeout server 60s
frontend f
  bind {addr.host}:{addr.port}
  default_backend b
backend b
  server s1 {backend.host}:{backend.port}
"""
    )
    with _process(["haproxy", "-f", str(conf)], addr) as cpu:
        yield addr, cpu


@contextlib.contextmanager
def kcore_proxy(
    backend: Address, workers: int, congestion: str = CONGESTION
) -> Iterator[tuple[Address, CpuClock]]:
    """The kcore proxy in this process (its CPU clock is this process's: the main thread
    only waits for wrk meanwhile, and one proxy at a time is loaded)."""
    addr = Address("127.32.0.80", free_port("127.32.0.80"))
    with Proxy(workers=workers, congestion=congestion) as proxy:
        proxy.set_service("bench", ServicePort(listen=(addr,), endpoints=(backend,)))
        yield addr, time.process_time


CpuClock = Callable[[], float]


def process_cpu(pid: int) -> CpuClock:
    """CPU seconds used so far by process `pid` and its reaped children (nginx workers are
    not reaped: for nginx, pass each worker's pid)."""
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / tick

    return read


def tree_cpu(pid: int) -> CpuClock:
    """CPU seconds of `pid` and its direct children (nginx master + workers)."""
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    clocks = [process_cpu(pid)] + [process_cpu(int(k)) for k in kids]
    return lambda: sum(c() for c in clocks)


@contextlib.contextmanager
def _process(argv: list[str], addr: Address) -> Iterator[CpuClock]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            wait_listening(addr)
        except OSError:
            proc.kill()
            raise RuntimeError(f"{argv[0]} did not start: {proc.communicate()[1]!r}") from None
        yield tree_cpu(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_wrk(
    addr: Address,
    workload: str,
    target: str,
    *,
    threads: int,
    conns: int,
    seconds: float,
    cpu: CpuClock = lambda: 0.0,
) -> Figure:
    if seconds != int(seconds):
        raise ValueError(f"wrk takes whole seconds, not {seconds}")
    path, extra = WORKLOADS[workload]
    url = f"http://{addr.host}:{addr.port}{path}"
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds:g}s", "--latency", *extra, url]
    before = cpu()
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out, workload, target, cpu_s=cpu() - before, seconds=seconds)


def parse_wrk(
    out: str, workload: str, target: str, *, cpu_s: float = 0.0, seconds: float = 1.0
) -> Figure:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(\w+)", out, re.M)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not (rps and transfer and p99):
        raise ValueError(f"unexpected wrk output:\n{out}")
    requests = float(rps.group(1)) * seconds
    return Figure(
        workload=workload,
        target=target,
        requests_per_s=float(rps.group(1)),
        bytes_per_s=float(transfer.group(1)) * _SIZES[transfer.group(2)],
        p99_ms=float(p99.group(1)) * _UNITS[p99.group(2)],
        errors=errors + (int(non2xx.group(1)) if non2xx else 0),
        cpu_us_per_request=cpu_s * 1e6 / requests if requests else 0.0,
    )


@contextlib.contextmanager
def targets(workers: int) -> Iterator[dict[str, tuple[Address, CpuClock]]]:
    """nginx, HAProxy (twice: "haproxy/splice-auto", "haproxy/splice-response") and the
    kcore proxy (twice: its defaults, "kcore/system-cc") running: by target name, the address
    to load and the CPU clock of what sits in front of nginx (nginx's own for direct)."""
    for tool in ("nginx", "haproxy", "wrk"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install nginx-light haproxy wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="kcore-proxy-bench-"))
    workdir.chmod(0o755)
    try:
        with (
            nginx(workdir) as direct,
            haproxy(workdir, direct[0], workers, "splice-auto") as ha_auto,
            haproxy(workdir, direct[0], workers, "splice-response") as ha_splice,
            kcore_proxy(direct[0], workers) as kc,
            kcore_proxy(direct[0], workers, congestion="") as kc_system_cc,
        ):
            yield {
                "kcore": kc,
                "kcore/system-cc": kc_system_cc,
                "haproxy/splice-auto": ha_auto,
                "haproxy/splice-response": ha_splice,
                "direct": direct,
            }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _running(target: str, workload: str) -> str:
    """The running instance that stands for `target` in `workload`."""
    return f"haproxy/{HAPROXY_SPLICE[workload]}" if target == "haproxy" else target


def compare(
    *, workers: int = 2, conns: int = 32, seconds: float = 3.0, rounds: int = 3
) -> list[Figure]:
    """Every workload against every target in one run: `rounds` short wrk runs per pair,
    the targets taking turns (so a burst of load elsewhere on the machine hits all three
    alike), reporting each pair's median run by requests/s."""
    figures = []
    with targets(workers) as addrs:
        for workload in WORKLOADS:
            runs: dict[str, list[Figure]] = {t: [] for t in TARGETS}
            for _ in range(rounds):
                for target in TARGETS:
                    addr, cpu = addrs[_running(target, workload)]
                    runs[target].append(
                        run_wrk(
                            addr,
                            workload,
                            target,
                            threads=2,
                            conns=conns,
                            seconds=seconds,
                            cpu=cpu,
                        )
                    )
            for target in TARGETS:
                ordered = sorted(runs[target], key=lambda f: f.requests_per_s)
                figures.append(ordered[len(ordered) // 2])
    return figures


def table(figures: list[Figure]) -> str:
    """The figures side by side, with kcore's ratio to HAProxy and to direct."""
    by = {(f.workload, f.target): f for f in figures}
    rows = [
        f"{'workload':<10} {'target':<16} {'req/s':>10} {'MiB/s':>9} {'p99 ms':>8} "
        f"{'cpu us/req':>10} {'errors':>6}"
    ]
    for f in figures:
        rows.append(
            f"{f.workload:<10} {f.target:<16} {f.requests_per_s:>10.0f} "
            f"{f.bytes_per_s / (1 << 20):>9.1f} {f.p99_ms:>8.2f} "
            f"{f.cpu_us_per_request:>10.1f} {f.errors:>6}"
        )
    for workload in WORKLOADS:
        kc, ha, direct, syscc = (by[(workload, t)].requests_per_s for t in TARGETS)
        rows.append(
            f"{workload}: kcore/haproxy {kc / ha:.2f}x, kcore/direct {kc / direct:.2f}x "
            f"(with the system's congestion control: {syscc / ha:.2f}x, {syscc / direct:.2f}x)"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(compare()))
