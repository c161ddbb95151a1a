"""The service proxy end to end, with real pods on Docker (issue 8's "must show").

One node for the module (see proxy_e2e_helpers.Node): a Deployment "web" of 3 busybox httpd
pods, each serving its own name on its pod IP, behind several Services: "web" (ClusterIP),
"web-node" (NodePort), "web-sticky" (sessionAffinity ClientIP), "web-lc" (least-connections
by annotation); "empty" selects no pod and "unready" selects a pod that runs but never passes
its readiness probe. Traffic is plain HTTP/1.0 over a new connection per request, so every
request is a balancing decision of the proxy. Tests that change the pods come last and leave
3 ready web pods behind them; the module's teardown deletes the Deployments and checks that
the kubelet left no container behind."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from proxy_e2e_helpers import (
    NODE_IP,
    NS,
    Node,
    containers_of,
    eventually,
    fetch,
    kill_container_of,
    remove_containers,
    until,
)

from kcore.api.apps import Deployment
from kcore.api.core import Pod, Service
from kcore.proxy.config import POLICY_ANNOTATION

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(240)]
SERVICES = {"web": 0, "web-node": 1, "web-sticky": 2, "empty": 3, "unready": 4, "web-lc": 5}
SERVICE_EXTRAS: dict[str, dict[str, Any]] = {
    "web-node": {"type": "NodePort"},
    "web-sticky": {"sessionAffinity": "ClientIP"},
    "web-lc": {"annotations": {POLICY_ANNOTATION: "LeastConnections"}},
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    n = Node(tmp_path_factory.mktemp("proxy-e2e"))
    try:
        n.start()
        n.run(lambda: _create_objects(n))
        yield n
        n.run(lambda: _delete_workloads(n), timeout=120)
    finally:
        left = remove_containers(n.node_name)
        n.stop()
    assert not left, f"the kubelet left containers behind: {left}"


async def _create_objects(n: Node) -> None:
    await n.client.create(n.web_deployment("web", replicas=3, ready_path="/index.html"))
    await n.client.create(n.web_deployment("unready", replicas=1, ready_path="/not-there"))
    for name, index in SERVICES.items():
        app = {"empty": "nobody", "unready": "unready"}.get(name, "web")
        extra = {"annotations": {}, **SERVICE_EXTRAS.get(name, {})}
        await n.client.create(n.service(name, index, app=app, **extra))


async def _delete_workloads(n: Node) -> None:
    for name in ("web", "unready"):
        await n.client.delete(Deployment, name, namespace=NS)

    async def gone() -> bool:
        pods = (await n.client.list(Pod, namespace=NS)).items
        return not pods and not n.kubelet.workers

    await eventually(gone, within=90)


def settled(node: Node, service: str = "web", replicas: int = 3) -> dict[str, str]:
    """Wait for `replicas` ready web pods, all (and only they) in the proxy's table for
    `service`; name -> pod IP."""

    async def check() -> dict[str, str] | None:
        pods = await node.ready_pods("web")
        ok = len(pods) == replicas and node.endpoints_in_proxy(service) == set(pods.values())
        return pods if ok else None

    pods: dict[str, str] = node.run(lambda: eventually(check, within=90), timeout=100)
    return pods


def test_cluster_ip_reaches_all_three_pods(node: Node) -> None:
    pods = settled(node)
    answers = [fetch(node.cluster_ip(SERVICES["web"]), 80) for _ in range(30)]
    assert set(answers) == set(pods)
    # round-robin over new connections: each pod gets a third
    assert sorted(answers.count(p) for p in pods) == [10, 10, 10]


def test_node_port_answers_on_the_node_ip(node: Node) -> None:
    pods = settled(node, "web-node")
    answers = {fetch(NODE_IP, node.node_port) for _ in range(9)}
    assert answers == set(pods)
    # the same Service also answers on its ClusterIP
    assert fetch(node.cluster_ip(SERVICES["web-node"]), 80) in pods


def test_client_ip_affinity_pins_each_client(node: Node) -> None:
    pods = settled(node, "web-sticky")
    ip = node.cluster_ip(SERVICES["web-sticky"])
    pinned: dict[str, str] = {}
    for k in range(1, 7):
        source = f"127.0.9.{k}"
        answers = {fetch(ip, 80, source=source) for _ in range(15)}
        assert len(answers) == 1, f"client {source} was balanced over {answers}"
        pinned[source] = answers.pop()
    # new clients are still balanced: six clients spread over all three pods
    assert set(pinned.values()) == set(pods)
    for source, pod in pinned.items():  # and pins hold after the others came
        assert fetch(ip, 80, source=source) == pod


def test_least_connections_avoids_the_busy_pod(node: Node) -> None:
    pods = settled(node, "web-lc")
    ip, key = node.cluster_ip(SERVICES["web-lc"]), f"{NS}/web-lc:http"
    with socket.create_connection((ip, 80), timeout=5.0) as held:
        held.sendall(b"GET / HTTP/1.0\r\n")  # the request is not finished: the pod waits
        busy = until(lambda: _busy_endpoint(node, key), within=10, what="one endpoint busy")
        answers = set()
        for _ in range(12):
            # the last request's connection is over for the proxy too: only `held` counts
            until(lambda: _busy_endpoint(node, key) == busy, within=10, what="only held busy")
            answers.add(fetch(ip, 80))
        assert answers == {name for name, pod_ip in pods.items() if pod_ip != busy}
        held.sendall(b"\r\n")
        assert pods[_read_body(held)] == busy


def _busy_endpoint(node: Node, key: str) -> str | None:
    busy = [addr.host for addr, active in node.server.proxy.endpoint_load(key) if active]
    return busy[0] if len(busy) == 1 else None


def _read_body(conn: socket.socket) -> str:
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0], data[:80]
    return body.decode().strip()


def test_established_connection_survives_table_changes(node: Node) -> None:
    """A connection through the proxy lives on while the Service's endpoints grow and the
    Service itself is changed (its table entry updated in place)."""
    pods = settled(node)
    ip = node.cluster_ip(SERVICES["web"])
    try:
        with socket.create_connection((ip, 80), timeout=5.0) as held:
            held.sendall(b"GET / HTTP/1.0\r\n")
            node.run(lambda: node.client.scale(Deployment, "web", 4, namespace=NS))
            grown = settled(node, replicas=4)
            sticky = {"spec": {"sessionAffinity": "ClientIP"}}
            node.run(lambda: node.client.patch(Service, "web", sticky, namespace=NS))
            until(lambda: _affinity_on(node, "web"), within=30, what="affinity programmed")
            held.sendall(b"Host: web\r\n\r\n")
            assert _read_body(held) in pods
    finally:
        plain = {"spec": {"sessionAffinity": "None", "sessionAffinityConfig": None}}
        node.run(lambda: node.client.patch(Service, "web", plain, namespace=NS))
        node.run(lambda: node.client.scale(Deployment, "web", 3, namespace=NS))
    until(lambda: not _affinity_on(node, "web"), within=30, what="affinity gone")
    assert set(settled(node)) < set(grown)


def test_connection_to_a_removed_endpoint_finishes(node: Node) -> None:
    """The pod a connection goes to is deleted: it leaves the proxy's table at once (new
    connections go elsewhere), while the established one still gets its answer from it."""
    pods = settled(node)
    ip, key = node.cluster_ip(SERVICES["web"]), f"{NS}/web:http"
    with socket.create_connection((ip, 80), timeout=5.0) as held:
        held.sendall(b"GET / HTTP/1.0\r\n")
        busy = until(lambda: _busy_endpoint(node, key), within=10, what="one endpoint busy")
        victim = next(name for name, pod_ip in pods.items() if pod_ip == busy)
        node.run(lambda: node.client.delete(Pod, victim, namespace=NS))
        until(lambda: busy not in node.endpoints_in_proxy("web"), within=30, what="removed")
        assert victim not in {fetch(ip, 80) for _ in range(6)}
        held.sendall(b"Host: web\r\n\r\n")
        assert _read_body(held) == victim
    settled(node)  # the replacement


def _affinity_on(node: Node, name: str) -> bool:
    port = node.server.proxy.services().get(f"{NS}/{name}:http")
    return port is not None and port.affinity_timeout > 0


def test_metrics_count_the_traffic(node: Node) -> None:
    settled(node)
    until(lambda: node.programmed("empty"), within=30, what="empty in the proxy's table")
    before = node.server.proxy.stats(f"{NS}/web:http").connections
    for _ in range(5):
        fetch(node.cluster_ip(SERVICES["web"]), 80)
    url = f"http://127.0.0.1:{node.server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    line = f'kcore_proxy_connections_total{{service="{NS}/web:http"}} '
    counts = [int(x.removeprefix(line)) for x in text.splitlines() if x.startswith(line)]
    assert counts and counts[0] >= before + 5
    assert f'kcore_proxy_rejected_total{{service="{NS}/empty:http"}} ' in text


def _refusal(host: str, port: int) -> BaseException | None:
    """What a client gets from host:port: None for a response, else the error it raised (a
    TimeoutError if the connection hangs)."""
    try:
        fetch(host, port, timeout=10.0)
    except OSError as err:
        return err
    return None


def test_service_without_ready_endpoints_refuses_at_once(node: Node) -> None:
    async def unready_pod_ip() -> str | None:
        pods = (await node.client.list(Pod, namespace=NS, label_selector="app=unready")).items
        return pods[0].status.pod_ip if pods and pods[0].status.pod_ip else None

    pod_ip = node.run(lambda: eventually(unready_pod_ip, within=60))
    # the pod itself serves (only its readiness path is missing), so a refusal is the proxy's
    served = until(lambda: _answers(pod_ip), what="the unready pod serves")
    assert served and served.startswith("unready")
    for name in ("empty", "unready"):
        until(partial(node.programmed, name), within=30, what=f"{name} in the proxy's table")
        assert node.endpoints_in_proxy(name) == set()
        key = f"{NS}/{name}:http"
        before = node.server.proxy.stats(key).rejected
        err = _refusal(node.cluster_ip(SERVICES[name]), 80)
        assert isinstance(err, ConnectionResetError | ConnectionRefusedError), repr(err)
        assert node.server.proxy.stats(key).rejected == before + 1


def _answers(pod_ip: str) -> str | None:
    try:
        return fetch(pod_ip, 8080, timeout=2.0)
    except OSError:
        return None


class Load:
    """Requests through one address, one after another on new connections, in a thread,
    paced at about `rate` per second and bounded by `limit` in all.

    `between(fn)` runs `fn` in the load's own thread between two requests, so that it meets
    no request of this load in flight."""

    def __init__(self, host: str, port: int, *, rate: float = 200.0, limit: int = 12000) -> None:
        self.addr = (host, port)
        self.pause = 1.0 / rate
        self.limit = limit
        self.answers: list[str] = []
        self.errors: list[str] = []
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proxy-e2e-load")

    def _run(self) -> None:
        while not self._stop.wait(self.pause) and self.made() < self.limit:
            with contextlib.suppress(queue.Empty):
                self._jobs.get_nowait()()
            try:
                self.answers.append(fetch(*self.addr))
            except OSError as err:
                self.errors.append(repr(err))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def between(self, fn: Callable[[], None]) -> None:
        done = threading.Event()

        def job() -> None:
            try:
                fn()
            finally:
                done.set()

        self._jobs.put(job)
        assert done.wait(timeout=30), "the load did not run the job"

    def wait_for(self, count: int, within: float = 60.0) -> None:
        """Until `count` more requests have been made."""
        target = self.made() + count
        until(lambda: self.made() >= target or not self._thread.is_alive(), within=within)
        assert self.made() >= target, f"the load stopped at its limit of {self.limit}"

    def made(self) -> int:
        return len(self.answers) + len(self.errors)


def test_deleting_a_pod_under_load_fails_no_request(node: Node) -> None:
    pods = settled(node)
    victim = sorted(pods)[0]
    with Load(node.cluster_ip(SERVICES["web"]), 80) as load:
        load.wait_for(100)
        node.run(lambda: node.client.delete(Pod, victim, namespace=NS))
        replaced = settled(node)  # the replacement is ready; the proxy has let the victim go
        seen = len(load.answers)
        node.run(lambda: eventually(lambda: _gone(node, victim), within=60), timeout=70)
        load.wait_for(100)  # on past the end of the victim's container
    assert load.errors == []
    assert not [c for c in containers_of(node.node_name) if c.pod == victim]
    assert len(load.answers) >= 250
    assert victim in load.answers[:seen]
    # (the one request that may have been in flight while `seen` was read aside)
    assert victim not in load.answers[seen + 1 :]
    newcomer = (set(replaced) - set(pods)).pop()
    assert newcomer in load.answers[seen:]


async def _gone(node: Node, pod: str) -> bool:
    """The kubelet has finished the pod (preStop, SIGTERM, SIGKILL) and it is deleted."""
    return pod not in {p.metadata.name for p in (await node.client.list(Pod, namespace=NS)).items}


def _dead(ip: str) -> bool:
    """The pod IP refuses connections: nothing listens there any more."""
    try:
        socket.create_connection((ip, 8080), timeout=2.0).close()
    except ConnectionRefusedError:
        return True
    return False


def test_killing_a_container_under_load_fails_no_request(node: Node) -> None:
    """docker kill (SIGKILL) of one pod's container while requests go on: the proxy still has
    the pod as an endpoint until the kubelet and the endpoints controller notice, finds it
    refusing, and moves on to another. The kill happens between two requests of the load:
    an exchange the dying process had already accepted would be cut, by any TCP proxy."""
    pods = settled(node)
    victim = sorted(pods)[0]
    key = f"{NS}/web:http"
    before = node.server.proxy.stats(key)

    def kill() -> None:
        kill_container_of(node.node_name, victim)
        until(lambda: _dead(pods[victim]), within=10, what="the killed pod refuses")

    with Load(node.cluster_ip(SERVICES["web"]), 80) as load:
        load.wait_for(100)
        load.between(kill)
        killed_at = load.made()
        load.wait_for(50)
        after_kill = node.server.proxy.stats(key)
        node.run(lambda: eventually(lambda: _restarted(node, victim), within=60), timeout=70)
        settled(node)  # ready again and back in the proxy's table
        back_at = load.made()
        load.wait_for(30)
    assert load.errors == []
    assert after_kill.connect_errors > before.connect_errors  # the dead pod was tried, skipped
    assert node.server.proxy.stats(key).failed == before.failed
    assert victim in load.answers[:killed_at] and victim in load.answers[back_at:]


async def _restarted(node: Node, pod: str) -> bool:
    p = await node.client.get(Pod, pod, namespace=NS)
    return any(c.restart_count >= 1 for c in p.status.container_statuses)
