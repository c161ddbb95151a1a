"""A whole kcore node for the proxy end-to-end tests, run on its own event loop in a thread.

`Node` assembles what `kcore up` runs — API server (kcore.Cluster, memory store), controller
manager, a kubelet on real Docker, scheduler and the service proxy — but with a node name,
Service ClusterIPs and a NodePort picked at random, so that its pod CIDR (the node-IPAM
controller takes the /24 numbered by the name's trailing -N) and its listen addresses do not
meet those of another cluster running on this machine at the same time. Tests stay
synchronous: they send plain-socket traffic from the test thread while the control plane and
the proxy's own worker threads carry on, and reach the cluster through `Node.run`.

`fetch` is the HTTP/1.0 client of the tests: a new TCP connection per request (optionally
from a chosen loopback source address), the response body (the answering pod's name) back.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors

import kcore
from kcore.api.apps import Deployment
from kcore.api.codec import from_dict
from kcore.api.core import Endpoints, Pod, Service
from kcore.client import Client
from kcore.controllers import cli as controllers_cli
from kcore.kubelet import Kubelet, KubeletConfig
from kcore.proxy.daemon import ProxyServer
from kcore.scheduler import cli as scheduler_cli

T = TypeVar("T")
IMAGE = "kcore-test/busybox:1"
NODE_IP = "127.0.1.1"
NODE_LABEL = "io.kcore.node"
POD_NAME_LABEL = "io.kubernetes.pod.name"
NS = "default"
_NAME = "metadata.name"
# the index page names the pod, so every response says which pod answered
SCRIPT = (
    'mkdir -p /www && echo "$POD_NAME" > /www/index.html && exec httpd -f -p $POD_IP:8080 -h /www'
)


class Node:
    """The control plane, one kubelet and the proxy, on a loop in a background thread."""

    def __init__(self, tmp: Path) -> None:
        rng = random.Random()
        self.tmp = tmp
        self.node_name = f"proxy-e2e-{rng.randrange(2000, 16000)}"
        # ClusterIPs away from the allocator's low end (it counts up from 127.32.0.1)
        self.ip_base = f"127.{rng.randrange(33, 48)}.{rng.randrange(0, 256)}"
        self.node_port = rng.randrange(30000, 32768)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="proxy-e2e-node")
        self._stop: asyncio.Event | None = None
        self._main: Future[None] | None = None
        self.client: Client
        self.kubelet: Kubelet
        self.server: ProxyServer

    def cluster_ip(self, index: int) -> str:
        return f"{self.ip_base}.{index + 10}"

    def start(self) -> None:
        self._thread.start()
        ready: Future[None] = Future()
        self._main = asyncio.run_coroutine_threadsafe(self._serve(ready), self.loop)
        self._main.add_done_callback(lambda f: _ended_early(f, ready))
        ready.result(timeout=60)

    def stop(self) -> None:
        """Stop every part (also after a failed `start`) and end the thread."""
        if not self._thread.is_alive():
            return
        try:
            if self._stop is not None and self._main is not None and not self._main.done():
                self.loop.call_soon_threadsafe(self._stop.set)
                self._main.result(timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
            self.loop.close()

    def run(self, fn: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
        """Run `fn()` on the node's loop and wait for its result."""

        async def call() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=timeout)

    async def _serve(self, ready: Future[None]) -> None:
        self._stop = asyncio.Event()
        async with self._parts():
            ready.set_result(None)
            await self._stop.wait()

    @contextlib.asynccontextmanager
    async def _parts(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            cluster = await stack.enter_async_context(kcore.Cluster(data_dir=self.tmp / "api"))
            self.client = cluster.client
            kubeconfig = cluster.kubeconfig
            await stack.enter_async_context(controllers_cli.embedded(kubeconfig))
            kubelet_client = await stack.enter_async_context(cluster.new_client())
            cfg = KubeletConfig(
                node_name=self.node_name, node_ip=NODE_IP, port=0, data_dir=self.tmp / "kubelet"
            )
            self.kubelet = Kubelet(cfg, kubelet_client)
            await self.kubelet.start()
            stack.push_async_callback(self.kubelet.stop)
            await stack.enter_async_context(scheduler_cli.embedded(kubeconfig))
            proxy_client = await stack.enter_async_context(cluster.new_client())
            self.server = ProxyServer(
                proxy_client, node_ips=[NODE_IP], node_names=[self.node_name], metrics_port=0
            )
            await self.server.start()
            stack.push_async_callback(self.server.stop)
            await self.server.wait_for_sync()
            yield

    # --- objects -------------------------------------------------------------------------

    def web_deployment(self, name: str, *, replicas: int, ready_path: str) -> Deployment:
        """busybox httpd pods on their pod IP; ready when `ready_path` answers 200."""
        container = {
            "name": "web",
            "image": IMAGE,
            "imagePullPolicy": "Never",
            "command": ["sh", "-c", SCRIPT],
            "env": [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ],
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": ready_path, "port": "http"}, "periodSeconds": 1},
            # Kubernetes' zero-downtime idiom: keep serving until the proxies have let go
            "lifecycle": {"preStop": {"sleep": {"seconds": 3}}},
        }
        spec = {"containers": [container], "terminationGracePeriodSeconds": 5}
        spec["nodeSelector"] = {"kubernetes.io/hostname": self.node_name}
        body = {
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
            },
        }
        return from_dict(Deployment, body)

    def service(
        self, name: str, index: int, *, app: str, annotations: dict[str, str], **spec: Any
    ) -> Service:
        """Service `name` on port 80 (-> the pods' "http") with the `index`-th ClusterIP."""
        port: dict[str, Any] = {"name": "http", "port": 80, "targetPort": "http"}
        if spec.get("type") == "NodePort":
            port["nodePort"] = self.node_port
        body = {"selector": {"app": app}, "ports": [port], "clusterIP": self.cluster_ip(index)}
        body.update(spec)
        meta = {"name": name, "namespace": NS, "annotations": annotations}
        return from_dict(Service, {"metadata": meta, "spec": body})

    # --- observations --------------------------------------------------------------------

    async def ready_pods(self, app: str) -> dict[str, str]:
        """Ready, not terminating pods of `app`: name -> pod IP."""
        pods = (await self.client.list(Pod, namespace=NS, label_selector=f"app={app}")).items
        return {
            p.metadata.name: p.status.pod_ip
            for p in pods
            if not p.metadata.deletion_timestamp
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)
        }

    async def endpoint_ips(self, name: str) -> set[str]:
        eps = await self.client.get(Endpoints, name, namespace=NS)
        return {a.ip for s in eps.subsets for a in s.addresses}

    def programmed(self, name: str) -> bool:
        """The proxy's table holds Service `name`'s port."""
        return f"{NS}/{name}:http" in self.server.proxy.services()

    def endpoints_in_proxy(self, name: str) -> set[str]:
        port = self.server.proxy.services().get(f"{NS}/{name}:http")
        return {a.host for a in port.endpoints} if port else set()


def _ended_early(main: Future[None], ready: Future[None]) -> None:
    """The node's main coroutine ended: if it never got ready, tell `start` why."""
    if not ready.done():
        ready.set_exception(main.exception() or RuntimeError("the node stopped while starting"))


async def eventually(check: Callable[[], Any], *, within: float = 60.0) -> Any:
    """Poll `check()` (sync or async) until it returns something truthy; that value."""
    async with asyncio.timeout(within):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.1)


def until(check: Callable[[], T], *, within: float = 60.0, what: str = "") -> T:
    """Poll `check()` from the calling thread until it returns something truthy; that value."""
    deadline = time.monotonic() + within
    while not (got := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {within} s: {what or check}")
        time.sleep(0.05)
    return got


def fetch(host: str, port: int, *, source: str | None = None, timeout: float = 5.0) -> str:
    """GET / over a new connection; the body (the pod name). Raises OSError on any failure."""
    with socket.create_connection(
        (host, port), timeout=timeout, source_address=(source, 0) if source else None
    ) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200") and not head.startswith(b"HTTP/1.1 200"):
        raise OSError(f"bad response: {data[:80]!r}")
    return body.decode().strip()


@dataclass(frozen=True)
class Container:
    id: str
    name: str
    pod: str  # the pod's name, from the kubelet's label
    state: str  # "running", "exited", ...
    labels: dict[str, str]


def containers_of(node: str) -> list[Container]:
    """The containers the kubelet of `node` made (one list call: no race with removals)."""
    with contextlib.closing(docker.from_env()) as d:
        found = d.api.containers(all=True, filters={"label": f"{NODE_LABEL}={node}"})
    return [
        Container(
            id=c["Id"],
            name=c["Names"][0].lstrip("/"),
            pod=c["Labels"].get(POD_NAME_LABEL, ""),
            state=c["State"],
            labels=c["Labels"],
        )
        for c in found
    ]


def kill_container_of(node: str, pod: str) -> None:
    """SIGKILL the running container of `pod` (as `docker kill` does)."""
    running = [c for c in containers_of(node) if c.pod == pod and c.state == "running"]
    assert running, f"no running container of pod {pod}"
    with contextlib.closing(docker.from_env()) as d:
        d.api.kill(running[0].id)


def remove_containers(node: str) -> list[str]:
    """Force-remove every container of `node`; the names of those there were."""
    found = containers_of(node)
    with contextlib.closing(docker.from_env()) as d:
        for c in found:
            with contextlib.suppress(docker.errors.NotFound):
                d.api.remove_container(c.id, force=True)
    return [c.name for c in found]
