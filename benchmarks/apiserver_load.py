"""HTTP load generator for the API server benchmark, and the same load against etcd-server.

One load generator drives two targets the same way, over plain HTTP/1.1 keep-alive
connections (a minimal protocol-level client, benchmarks/apiserver_http.py, on uvloop, in
several processes so it does not measure itself; aiohttp only for the big list bodies):

* `kube`: the kcore API server (`kcore apiserver --insecure-http`, SQLite store): pod creates
  are `POST /api/v1/namespaces/default/pods`, lists `GET .../pods`, watches
  `GET .../pods?watch=1&resourceVersion=RV` (one JSON event per line).
* `etcd`: etcd-server's HTTP/JSON gateway, the same pod JSON as the value: creates are
  `POST /v3/kv/txn` (put if the key's create_revision is 0, i.e. a create), lists
  `POST /v3/kv/range` over the prefix, watches `POST /v3/watch` on the prefix.

Both acknowledge a write only once it is durable (SQLite synchronous=FULL; etcd fsyncs its
WAL). Workloads: closed-loop creates (N clients, each waiting for its answer), open-loop creates
at a fixed rate (latency from the scheduled send time, so a slow server cannot hide queueing),
list of all pods, and watch fan-out (W watchers; a writer creates pods at R/s; each pod's name
carries its send time, CLOCK_MONOTONIC being system-wide, so every watcher process measures
write->delivery latency itself with a regex over the raw stream).

Used by benchmarks/test_apiserver_bench.py and `kcore bench apiserver`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import pickle
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
import apiserver_http as http
import numpy as np

NAMESPACE = "default"
KUBE_PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
ETCD_PREFIX = f"/registry/pods/{NAMESPACE}/"
KUBE_STAMP = re.compile(rb'"name":\s*"w-(\d+)-')
ETCD_KEY = re.compile(rb'"key":\s*"([A-Za-z0-9+/=]+)"')
JOB_TIMEOUT = 600.0
Kind = Literal["kube", "etcd"]


@dataclass(frozen=True)
class Target:
    """Where the load goes: `kind` says how to speak to it."""

    name: str
    kind: Kind
    base_url: str
    token: str = ""

    def headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h


def pod_json(name: str) -> bytes:
    container = {
        "name": "main",
        "image": "registry.local/app:1",
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {"containers": [container], "restartPolicy": "Always"},
    }
    return json.dumps(pod, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _prefix_end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])


def create_request(target: Target, name: str) -> tuple[str, bytes]:
    """(path, body) creating pod `name` on the target."""
    pod = pod_json(name)
    if target.kind == "kube":
        return KUBE_PODS, pod
    key = _b64((ETCD_PREFIX + name).encode())
    txn = {
        "compare": [{"key": key, "result": "EQUAL", "target": "CREATE", "create_revision": "0"}],
        "success": [{"request_put": {"key": key, "value": _b64(pod)}}],
    }
    return "/v3/kv/txn", json.dumps(txn).encode()


def created(target: Target, status: int, body: bytes) -> bool:
    if target.kind == "kube":
        return status == 201
    return status == 200 and b'"succeeded":true' in body


def list_request(target: Target) -> tuple[str, str, bytes | None]:
    """(method, path, body) listing every pod."""
    if target.kind == "kube":
        return "GET", KUBE_PODS, None
    prefix = ETCD_PREFIX.encode()
    body = {"key": _b64(prefix), "range_end": _b64(_prefix_end(prefix))}
    return "POST", "/v3/kv/range", json.dumps(body).encode()


def listed_count(target: Target, body: bytes) -> int:
    doc = json.loads(body)
    if target.kind == "kube":
        return len(doc["items"])
    return len(doc.get("kvs", []))


def stamps(target: Target, data: bytes) -> list[int]:
    """Send times (monotonic ns) of the watch-phase pods whose events are in `data`."""
    if target.kind == "kube":
        return [int(m) for m in KUBE_STAMP.findall(data)]
    out = []
    for key in ETCD_KEY.findall(data):
        name = base64.b64decode(key).rsplit(b"/", 1)[-1]
        if name.startswith(b"w-"):
            out.append(int(name.split(b"-")[1]))
    return out


# --- one process's share of a workload --------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One load-generator process's share. `op`: creates | paced | list | watch."""

    op: str
    target: Target
    prefix: str = "c"
    count: int = 0  # creates / lists / expected events per watcher
    clients: int = 1  # concurrent clients (creates), watch streams (watch)
    rate: float = 0.0  # paced: creates/s from this process
    start_at: float = 0.0  # paced: monotonic time of the first send
    deadline: float = 0.0  # watch: give up waiting for events at this monotonic time
    resource_version: str = ""  # watch: kube resourceVersion to start after


@dataclass
class Outcome:
    """Raw measurements of one job: latencies in seconds, window of the work, errors."""

    latencies: list[float] = field(default_factory=list)
    began: float = 0.0
    ended: float = 0.0
    errors: int = 0
    detail: str = ""
    items: int = 0


def _session(target: Target, limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=target.base_url,
        connector=aiohttp.TCPConnector(limit=limit, limit_per_host=limit, force_close=False),
        headers=target.headers(),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
    )


def _raw_create(target: Target, name: str) -> bytes:
    path, body = create_request(target, name)
    host = target.base_url.split("://", 1)[1]
    return http.request_bytes("POST", path, host, target.headers(), body)


class _Pool:
    """Keep-alive connections, opened as needed up to `limit`; beyond that a request waits
    for an idle one (its latency still counts from when it was due)."""

    def __init__(self, target: Target, limit: int = 256) -> None:
        self.target = target
        self.idle: list[http.Connection] = []
        self.all: list[http.Connection] = []
        self.slots = asyncio.Semaphore(limit)

    async def create(self, name: str, out: Outcome) -> None:
        async with self.slots:
            conn = self.idle.pop() if self.idle else await self._open()
            status, body = await conn.request(_raw_create(self.target, name))
            self.idle.append(conn)
        if not created(self.target, status, body):
            out.errors += 1
            out.detail = out.detail or f"{status}: {body[:300]!r}"

    async def _open(self) -> http.Connection:
        conn = await http.connect(self.target.base_url)
        self.all.append(conn)
        return conn

    def close(self) -> None:
        for conn in self.all:
            conn.close()


async def _creates(job: Job) -> Outcome:
    out = Outcome()
    todo = iter(range(job.count))
    pool = _Pool(job.target, limit=job.clients)
    pool.idle = [await pool._open() for _ in range(job.clients)]

    async def client() -> None:
        for i in todo:
            t = time.monotonic()
            await pool.create(f"{job.prefix}-{i}", out)
            out.latencies.append(time.monotonic() - t)

    try:
        out.began = time.monotonic()
        await asyncio.gather(*(client() for _ in range(job.clients)))
        out.ended = time.monotonic()
    finally:
        pool.close()
    return out


async def _paced(job: Job) -> Outcome:
    """`count` creates at `rate`/s from `start_at`; latency counts from the scheduled time."""
    out = Outcome()
    pool = _Pool(job.target)
    pool.idle = [await pool._open() for _ in range(8)]

    async def one(i: int, due: float) -> None:
        await pool.create(f"{job.prefix}-{time.monotonic_ns()}-{i}", out)
        out.latencies.append(time.monotonic() - due)

    try:
        tasks = []
        for i in range(job.count):
            due = job.start_at + i / job.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        out.began, out.ended = job.start_at, time.monotonic()
    finally:
        pool.close()
    return out


async def _lists(job: Job) -> Outcome:
    out = Outcome()
    method, path, body = list_request(job.target)
    async with _session(job.target, 1) as session:
        out.began = time.monotonic()
        for i in range(job.count):
            t = time.monotonic()
            async with session.request(method, path, data=body) as resp:
                data = await resp.read()
            out.latencies.append(time.monotonic() - t)
            if resp.status != 200:
                out.errors += 1
                out.detail = f"{resp.status}: {data[:300]!r}"
            elif i == 0:
                out.items = listed_count(job.target, data)
        out.ended = time.monotonic()
    return out


def _watch_request(job: Job) -> bytes:
    host = job.target.base_url.split("://", 1)[1]
    headers = job.target.headers()
    if job.target.kind == "kube":
        query = f"?watch=1&resourceVersion={job.resource_version}&allowWatchBookmarks=false"
        return http.request_bytes("GET", KUBE_PODS + query, host, headers)
    prefix = ETCD_PREFIX.encode()
    create = {"key": _b64(prefix + b"w-"), "range_end": _b64(_prefix_end(prefix + b"w-"))}
    body = json.dumps({"create_request": create}).encode()
    return http.request_bytes("POST", "/v3/watch", host, headers, body)


async def _watches(job: Job, ready: Callable[[], None]) -> Outcome:
    """`clients` watch streams, each until `count` events arrived or the deadline."""
    out = Outcome()
    raw = _watch_request(job)
    left = [job.count] * job.clients
    finished = asyncio.get_running_loop().create_future()
    open_streams = [job.clients]

    def on_data(index: int) -> Callable[[bytes, int], None]:
        def got(block: bytes, now_ns: int) -> None:
            found = stamps(job.target, block)
            out.latencies.extend((now_ns - stamp) / 1e9 for stamp in found)
            left[index] -= len(found)
            if left[index] <= 0 < left[index] + len(found):
                open_streams[0] -= 1
                if open_streams[0] == 0 and not finished.done():
                    finished.set_result(None)

        return got

    streams = [await http.open_stream(job.target.base_url, raw, on_data(i))
               for i in range(job.clients)]  # fmt: skip
    try:
        statuses = [await s.head for s in streams]
        bad = [st for st in statuses if st != 200]
        if bad:
            out.errors, out.detail = len(bad), f"watch answered {bad[0]}"
        ready()
        out.began = time.monotonic()
        if not bad:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished, timeout=job.deadline - time.monotonic())
        out.ended = time.monotonic()
        out.items = sum(job.count - max(n, 0) for n in left)
    finally:
        for s in streams:
            s.close()
    return out


def _write_all(data: bytes) -> None:
    """Write everything to fd 1, blocking (the event loop may have made stdio non-blocking,
    and a buffered writer can then drop part of a large write)."""
    os.set_blocking(1, True)
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def child_main() -> None:
    """Entry of a load-generator process: a pickled Job on stdin; b"R" on stdout once ready
    (watch streams open), then wait for b"G"; finally the pickled Outcome. A failure before
    ready answers b"E" and the pickled error text instead; after it, the text alone."""
    import uvloop

    job: Job = pickle.load(sys.stdin.buffer)
    released = []

    def ready() -> None:
        _write_all(b"R")
        os.set_blocking(0, True)
        if os.read(0, 1) != b"G":
            raise RuntimeError("the parent went away before the start")
        released.append(True)

    async def main() -> Outcome:
        if job.op == "watch":
            return await _watches(job, ready)
        ready()
        runner = {"creates": _creates, "paced": _paced, "list": _lists}[job.op]
        return await runner(job)

    result: Outcome | str
    try:
        result = uvloop.run(main())
    except BaseException as exc:
        result = f"{job.op} on {job.target.name}: {type(exc).__name__}: {exc}"
        if not released:
            _write_all(b"E")
    _write_all(pickle.dumps(result))


def run_jobs(jobs: list[Job], tick: Callable[[], None] = lambda: None) -> list[Outcome]:
    """Run each job in its own Python process, all released together once every one is ready
    (watch jobs: streams open); `tick` is called about twice a second while they run.

    Plain subprocesses with pickles over pipes rather than multiprocessing: nothing (such as
    multiprocessing's resource tracker) outlives the run."""
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "import apiserver_load; apiserver_load.child_main()")  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE) for _ in jobs]  # fmt: skip
    try:
        for proc, job in zip(procs, jobs, strict=True):
            _send(proc, pickle.dumps(job))
        bufs = _pump(procs, lambda b, eof: b[:1] == b"R" or eof, tick)
        for b in bufs:
            if b[:1] != b"R":
                raise RuntimeError(pickle.loads(b[1:]) if b[:1] == b"E" else "a load process died")
        for proc in procs:
            _send(proc, b"G")
        return [_outcome(b[1:]) for b in _pump(procs, lambda b, eof: eof, tick, bufs)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()


def _send(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.flush()


def _outcome(data: bytes) -> Outcome:
    result = pickle.loads(data) if data else "a load process died without a result"
    if isinstance(result, str):
        raise RuntimeError(result)
    assert isinstance(result, Outcome)
    return result


def _pump(
    procs: list[subprocess.Popen[bytes]],
    done: Callable[[bytes, bool], bool],
    tick: Callable[[], None],
    bufs: list[bytearray] | None = None,
) -> list[bytearray]:
    """Read every process's stdout until `done(buffer, at_eof)` holds for each of them."""
    bufs = bufs if bufs is not None else [bytearray() for _ in procs]
    eof = [False] * len(procs)
    deadline = time.monotonic() + JOB_TIMEOUT
    with selectors.DefaultSelector() as sel:
        for i, proc in enumerate(procs):
            assert proc.stdout is not None
            sel.register(proc.stdout, selectors.EVENT_READ, i)
        while not all(done(bytes(b), e) for b, e in zip(bufs, eof, strict=True)):
            if time.monotonic() > deadline:
                raise RuntimeError("the load-generator processes timed out")
            for key, _ in sel.select(timeout=0.5):
                chunk = os.read(key.fileobj.fileno(), 1 << 16)  # type: ignore[union-attr]
                if chunk:
                    bufs[key.data] += chunk
                else:
                    eof[key.data] = True
                    sel.unregister(key.fileobj)
            tick()
    return bufs


# --- the workloads, split over processes -------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Throughput and latency of a batch of requests."""

    per_second: float
    latencies_ms: np.ndarray[Any, np.dtype[np.float64]]
    errors: int
    detail: str = ""

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else 0.0


def _rate(outcomes: list[Outcome], done: int) -> Rate:
    window = max(o.ended for o in outcomes) - min(o.began for o in outcomes)
    lat = np.array([x for o in outcomes for x in o.latencies], dtype=np.float64) * 1000
    detail = next((o.detail for o in outcomes if o.detail), "")
    return Rate(done / window if window > 0 else 0.0, lat, sum(o.errors for o in outcomes), detail)


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def closed_loop_creates(
    target: Target, *, count: int, clients: int, procs: int, prefix: str = "c", tick: Any = None
) -> Rate:
    """`count` creates from `clients` concurrent clients spread over `procs` processes."""
    jobs = [
        Job("creates", target, prefix=f"{prefix}{i}", count=n, clients=max(c, 1))
        for i, (n, c) in enumerate(zip(_split(count, procs), _split(clients, procs), strict=True))
    ]
    return _rate(run_jobs(jobs, tick or (lambda: None)), count)


def paced_creates(
    target: Target, *, rate: float, seconds: float, procs: int, prefix: str = "p", tick: Any = None
) -> Rate:
    """Creates at `rate`/s in total for `seconds`, open loop, over `procs` processes."""
    start = time.monotonic() + 3.0  # room for the processes to start
    n = int(rate * seconds / procs)
    jobs = [
        Job("paced", target, prefix=f"{prefix}{i}", count=n, rate=rate / procs, start_at=start)
        for i in range(procs)
    ]
    return _rate(run_jobs(jobs, tick or (lambda: None)), n * procs)


def list_all(target: Target, *, times: int) -> tuple[Rate, int]:
    """List every pod `times` times in a row; (rate of lists, items in the first list)."""
    [outcome] = run_jobs([Job("list", target, count=times)])
    return _rate([outcome], times), outcome.items


@dataclass(frozen=True)
class Fanout:
    watchers: int
    events: int  # writes made
    delivered: int  # events received over all watchers
    expected: int
    latencies_ms: np.ndarray[Any, np.dtype[np.float64]]
    errors: int
    detail: str = ""

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else 0.0


def watch_fanout(
    target: Target,
    *,
    watchers: int,
    rate: float,
    seconds: float,
    procs: int,
    resource_version: str = "",
    tick: Any = None,
) -> Fanout:
    """`watchers` streams over `procs` processes while one more process creates pods at
    `rate`/s for `seconds`; latency from each create's send to each watcher's receipt."""
    writes = int(rate * seconds)
    start = time.monotonic() + 5.0 + watchers / 200  # opening many streams takes a moment
    deadline = start + seconds + 30.0
    watch_jobs = [
        Job("watch", target, count=writes, clients=n, deadline=deadline,
            resource_version=resource_version)
        for n in _split(watchers, procs) if n
    ]  # fmt: skip
    writer = Job("paced", target, prefix="w", count=writes, rate=rate, start_at=start)
    *watched, wrote = run_jobs([*watch_jobs, writer], tick or (lambda: None))
    lat = np.array([x for o in watched for x in o.latencies], dtype=np.float64) * 1000
    errors = wrote.errors + sum(o.errors for o in watched)
    detail = next((o.detail for o in [*watched, wrote] if o.detail), "")
    delivered = sum(o.items for o in watched)
    return Fanout(watchers, writes, delivered, writes * watchers, lat, errors, detail)


# --- servers ------------------------------------------------------------------------------------


@contextlib.contextmanager
def kcore_apiserver(max_in_flight: int = 4000) -> Iterator[tuple[Target, subprocess.Popen[bytes]]]:
    """`kcore apiserver` in a subprocess (plain HTTP, SQLite store in a temp data dir)."""
    data_dir = Path(tempfile.mkdtemp(prefix="kcore-apiserver-bench-"))
    argv = [sys.executable, "-m", "kcore.cli", "apiserver", "--data-dir", str(data_dir),
            "--port", "0", "--insecure-http", "--max-in-flight", str(max_in_flight)]  # fmt: skip
    log = (data_dir / "apiserver.log").open("wb")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log)
    try:
        url = _wait_kcore(proc, data_dir)
        token = (data_dir / "pki" / "admin.token").read_text().strip()
        yield Target("kcore", "kube", url, token), proc
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_kcore(proc: subprocess.Popen[bytes], data_dir: Path) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("export KUBECONFIG="):
        _stop(proc)
        log = (data_dir / "apiserver.log").read_text(errors="replace")
        raise RuntimeError(f"kcore apiserver did not start:\n{log[-3000:]}")
    for text in (data_dir / "admin.kubeconfig").read_text().splitlines():
        if text.strip().startswith("server:"):
            return text.split(":", 1)[1].strip()
    raise RuntimeError("no server URL in the admin kubeconfig")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def etcd_target(endpoint: str) -> Target:
    return Target("etcd", "etcd", f"http://{endpoint}")


def kube_resource_version(target: Target) -> str:
    """The store's current resourceVersion, from a one-item list."""
    import urllib.request

    req = urllib.request.Request(target.base_url + KUBE_PODS + "?limit=1", headers=target.headers())
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(json.loads(resp.read())["metadata"]["resourceVersion"])
