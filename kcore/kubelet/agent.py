"""The Kubelet: pod sources merged into pod workers, a relist of the runtime, node heartbeats.

Sources: the API server (an informer on pods with spec.nodeName=this node), the manifest dir,
the manifest URL and pods POSTed to the kubelet's server — each a set of pods keyed by uid.
Every pod gets a `PodWorker`. A relist of the runtime every `relist_period` wakes the
workers whose containers changed (like Kubernetes' PLEG) and, once every source has been
read, removes containers whose pod no longer exists. At start the kubelet registers its
Node, then renews its Lease every 10 s and reports node status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import aiohttp

from kcore.api import codec
from kcore.api.core import ConfigMap, Node, Pod, PodStatus, Secret, Service, ServiceAccount
from kcore.api.errors import StatusError
from kcore.client import Client, EventRecorder, SharedInformer, SharedInformerFactory
from kcore.kubelet import mirror, sources, statsapi
from kcore.kubelet.backoff import RestartBackoff
from kcore.kubelet.config import KubeletConfig
from kcore.kubelet.heartbeat import NodeHeartbeat
from kcore.kubelet.podfeed import PodFeed, Subscriber
from kcore.kubelet.podip import PodIPAllocator, derived_cidr
from kcore.kubelet.runtime import ContainerInfo, LogOptions, Runtime, make_runtime
from kcore.kubelet.runtime.types import ExecInput
from kcore.kubelet.satoken import ApiAccess
from kcore.kubelet.server import KubeletServer, LogNotFound
from kcore.kubelet.stats import StatsProvider
from kcore.kubelet.tls import ensure_cert, server_context
from kcore.kubelet.worker import PodWorker, WorkerDeps

log = logging.getLogger(__name__)
T = TypeVar("T")


class _ApiLookup:
    """Config maps and secrets by GET; service accounts from an informer when there is one (a
    GET per pod sync would cost every pod start a round trip, mostly for a 404 in clusters
    without the controller manager)."""

    def __init__(
        self, client: Client, accounts: Callable[[], SharedInformer[ServiceAccount] | None]
    ) -> None:
        self._client = client
        self._accounts = accounts

    async def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        return await _get_or_none(self._client, ConfigMap, namespace, name)

    async def secret(self, namespace: str, name: str) -> Secret | None:
        return await _get_or_none(self._client, Secret, namespace, name)

    async def service_account(self, namespace: str, name: str) -> ServiceAccount | None:
        informer = self._accounts()
        if informer is not None:
            return informer.get(f"{namespace}/{name}")
        return await _get_or_none(self._client, ServiceAccount, namespace, name)


async def _get_or_none(client: Client, kind: type[T], namespace: str, name: str) -> T | None:
    try:
        return await client.get(kind, name, namespace=namespace)
    except StatusError as e:
        if e.code == 404:
            return None
        raise


class Kubelet:
    def __init__(
        self,
        config: KubeletConfig,
        client: Client,
        *,
        runtime: Runtime | None = None,
        feed: PodFeed | None = None,
    ) -> None:
        """`feed`: a process-wide pods informer to subscribe to instead of a watch of our own."""
        self.config, self.client, self._feed = config, client, feed
        self.runtime = runtime or make_runtime(config.runtime)
        self.server = KubeletServer(self, host=config.node_ip, port=config.port)
        self.heartbeat: NodeHeartbeat | None = None
        self.workers: dict[str, PodWorker] = {}
        self._sources: dict[str, dict[str, Pod]] = defaultdict(dict)  # source -> uid -> pod
        self._allocator = PodIPAllocator(derived_cidr(config.node_name))
        self._tasks: list[asyncio.Task[None]] = []
        self._factory = SharedInformerFactory(client)
        self._services: SharedInformer[Service] | None = None
        self._accounts: SharedInformer[ServiceAccount] | None = None
        self._adoptable: dict[str, list[ContainerInfo]] = defaultdict(list)
        self._gc_enabled = False
        self._session: aiohttp.ClientSession | None = None
        self._deps: WorkerDeps | None = None
        self.stats: StatsProvider | None = None
        self.events = EventRecorder(client, component="kubelet", host=config.node_name)

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Kubelet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> None:
        """Register, read every pod source once, then run; on failure nothing is left open."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self._session = aiohttp.ClientSession()
        self._deps = self._worker_deps(self._session)
        ctx = None
        if cfg.tls:
            ctx = server_context(
                *ensure_cert(cfg.data_dir / "pki", node_name=cfg.node_name, node_ip=cfg.node_ip)
            )
        await self._start_stats()
        await self.server.start(ctx)
        version = f"{self.runtime.name}://{await self.runtime.version()}"
        if cfg.register_node:
            self.heartbeat = NodeHeartbeat(
                cfg,
                self.client,
                port=self.server.port,
                runtime_version=version,
                on_node=self._use_pod_cidr,
                images=self.runtime.images,
                stored=self._feed.node if self._feed is not None else None,
            )
            await self.heartbeat.register()
        for info in await self.runtime.list_containers(cfg.node_name):
            self._adoptable[info.pod_uid].append(info)
        await self._start_api_source()
        await self._start_static_sources()
        # every source has been read once: containers nobody claimed belong to vanished pods
        # (a manifest URL not answering yet loses its pods' containers; they start again)
        self._adoptable.clear()
        self._gc_enabled = True
        self._spawn(self._relist_loop())
        if self.heartbeat is not None:
            self._spawn(self.heartbeat.lease_loop())
            self._spawn(self.heartbeat.status_loop())

    async def _start_stats(self) -> None:
        """The cgroup sampler behind /stats/summary and /metrics/* (real runtimes only)."""
        if self.runtime.hollow or not self.config.stats:
            return
        self.stats = StatsProvider(node_name=self.config.node_name)
        await self.stats.start()
        self.server.add_routes(statsapi.routes(self.stats, lambda: list(self.workers)))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(coro))

    async def stop(self) -> None:
        """Stop the kubelet; containers keep running (a new kubelet adopts them)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._feed is not None:
            self._feed.unsubscribe(self.config.node_name)
        await asyncio.gather(*(w.stop() for w in self.workers.values()))
        await self._factory.stop()
        await self.events.close()
        await self.server.stop()
        if self.stats is not None:
            await self.stats.stop()
        if self._session is not None:
            await self._session.close()
        await self.runtime.close()

    def _worker_deps(self, session: aiohttp.ClientSession) -> WorkerDeps:
        cfg = self.config
        return WorkerDeps(
            node_name=cfg.node_name,
            node_ip=cfg.node_ip,
            data_dir=cfg.data_dir,
            runtime=self.runtime,
            allocator=lambda: self._allocator,
            lookup=_ApiLookup(self.client, lambda: self._accounts),
            services=self._services_in,
            crash_backoff=RestartBackoff(base=cfg.crash_backoff_base, cap=cfg.crash_backoff_cap),
            image_backoff=RestartBackoff(base=cfg.image_backoff_base, cap=cfg.crash_backoff_cap),
            session=session,
            post_status=self._post_status,
            finished=self._finished,
            resync_period=cfg.resync_period,
            record=self.events.event,
            api_access=None if self.runtime.hollow else self._api_access(),
        )

    def _api_access(self) -> ApiAccess:
        """Pods reach the API server where this kubelet does (host network)."""
        cfg = self.client.config
        lookup = _ApiLookup(self.client, lambda: self._accounts)
        return ApiAccess.from_server(lookup, cfg.server, cfg.ca_data)

    def _services_in(self, namespace: str) -> list[Service]:
        if self._services is None:
            return []
        return [
            s
            for s in self._services.list()
            if s.metadata.namespace in (namespace, "default")
            and (s.metadata.namespace == namespace or s.metadata.name == "kubernetes")
        ]

    # -- node -----------------------------------------------------------------------------

    @property
    def node(self) -> Node | None:
        return self.heartbeat.node if self.heartbeat is not None else None

    def _use_pod_cidr(self, n: Node) -> None:
        """New pods take addresses from the node's podCIDR; running pods keep theirs."""
        cidr = n.spec.pod_cidr
        if cidr and cidr != self._allocator.cidr:
            self._allocator = self._allocator.moved_to(cidr)

    # -- sources --------------------------------------------------------------------------

    async def _start_api_source(self) -> None:
        if self._feed is not None:
            self._feed.subscribe(self.config.node_name, Subscriber(self._api_pod, self._api_gone))
        else:
            pods = self._factory.informer(
                Pod, field_selector=f"spec.nodeName={self.config.node_name}"
            )
            pods.add_event_handler(
                on_add=self._api_pod,
                on_update=lambda _, p: self._api_pod(p),
                on_delete=self._api_gone,
            )
        if not self.runtime.hollow:
            self._services = self._factory.informer(Service)
            self._accounts = self._factory.informer(ServiceAccount)
        self._factory.start()
        await self._factory.wait_for_sync()

    def _api_pod(self, pod: Pod) -> None:
        if sources.is_mirror(pod):
            self._mirror_changed(pod)
            return
        self._upsert("api", codec.deep_copy(pod))

    def _api_gone(self, pod: Pod) -> None:
        if sources.is_mirror(pod):
            self._mirror_changed(pod, deleted=True)
            return
        self._sources["api"].pop(pod.metadata.uid, None)
        worker = self.workers.get(pod.metadata.uid)
        if worker is not None:
            worker.remove()

    def _mirror_changed(self, mirror_pod: Pod, *, deleted: bool = False) -> None:
        """A mirror pod deleted (or being deleted) while its static pod runs comes back."""
        if not deleted and not mirror_pod.metadata.deletion_timestamp:
            return
        static = self._static_by_name(mirror_pod.metadata.namespace, mirror_pod.metadata.name)
        if static is not None:
            self._spawn(self._recreate_mirror(static, mirror_pod, deleted))

    async def _recreate_mirror(self, static: Pod, old: Pod, deleted: bool) -> None:
        if not deleted:
            await mirror.delete_mirror(self.client, old)
        await mirror.ensure_mirror(self.client, static, self.node)
        worker = self.workers.get(static.metadata.uid)
        if worker is not None:
            worker.resend_status()

    def _static_by_name(self, namespace: str, name: str) -> Pod | None:
        for source in ("file", "http", "kubelet"):
            for pod in self._sources[source].values():
                if pod.metadata.namespace == namespace and pod.metadata.name == name:
                    return pod
        return None

    async def _start_static_sources(self) -> None:
        cfg = self.config
        if cfg.manifest_dir is not None:
            await self._set_source("file", sources.read_dir(cfg.manifest_dir, cfg.node_name))
            self._spawn(
                sources.watch_dir(
                    cfg.manifest_dir, cfg.node_name, cfg.file_check_period, self._set_source
                )
            )
        if cfg.manifest_url:
            assert self._session is not None
            self._spawn(
                sources.poll_url(
                    cfg.manifest_url,
                    cfg.node_name,
                    cfg.manifest_url_period,
                    self._session,
                    self._set_source,
                )
            )

    async def _set_source(self, source: str, pods: list[Pod]) -> None:
        """Make `source`'s pods exactly `pods`: start the new, update, remove the vanished."""
        wanted = {p.metadata.uid: p for p in pods}
        for uid in set(self._sources[source]) - set(wanted):
            del self._sources[source][uid]
            if uid in self.workers:
                self.workers[uid].remove()
        for pod in pods:
            self._upsert(source, pod)
            await self._ensure_mirror(pod)

    async def _ensure_mirror(self, pod: Pod) -> None:
        try:
            await mirror.ensure_mirror(self.client, pod, self.node)
        except Exception as e:
            log.warning("mirror pod for %s: %s", pod.metadata.name, e)

    def _upsert(self, source: str, pod: Pod) -> None:
        uid = pod.metadata.uid
        self._sources[source][uid] = pod
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        if pod.metadata.deletion_timestamp and not self._adoptable.get(uid):
            self._spawn(self._finish_unstarted(pod))
            return
        assert self._deps is not None
        worker = PodWorker(self._deps, pod, self._adoptable.pop(uid, []))
        self.workers[uid] = worker
        worker.start()

    async def _finish_unstarted(self, pod: Pod) -> None:
        """A pod deleted before it ran here: confirm the deletion at once."""
        self._sources["api"].pop(pod.metadata.uid, None)
        await self._confirm_deletion(pod)

    # -- worker callbacks -------------------------------------------------------------------

    def _source_of(self, uid: str) -> str:
        return next((s for s, pods in self._sources.items() if uid in pods), "")

    async def _post_status(self, pod: Pod, status: PodStatus) -> bool:
        """Write the status; False when there is no object to write it to (yet)."""
        try:
            await self.client.patch(
                Pod,
                pod.metadata.name,
                mirror.status_patch(status),
                patch_type="strategic",
                namespace=pod.metadata.namespace,
                subresource="status",
            )
        except StatusError as e:
            if e.code != 404:
                raise
            return False
        return True

    async def _finished(self, pod: Pod, deleting: bool) -> None:
        uid = pod.metadata.uid
        source = self._source_of(uid)
        self.workers.pop(uid, None)
        if source == "api" or (not source and deleting):
            self._sources["api"].pop(uid, None)
            await self._confirm_deletion(pod)
        elif source == "" and sources.CONFIG_HASH in pod.metadata.annotations:
            await mirror.delete_mirror_of(self.client, pod)

    async def _confirm_deletion(self, pod: Pod) -> None:
        if not pod.metadata.deletion_timestamp:
            return
        try:
            await self.client.delete(
                Pod,
                pod.metadata.name,
                namespace=pod.metadata.namespace,
                grace_period_seconds=0,
                preconditions={"uid": pod.metadata.uid},
            )
        except StatusError as e:
            if e.code not in (404, 409):
                raise

    # -- relist ---------------------------------------------------------------------------

    async def _relist_loop(self) -> None:
        seen: dict[str, str] = {}
        while True:
            try:
                seen = await self._relist(seen)
            except Exception as e:
                log.warning("relist failed: %s", e)
            await asyncio.sleep(self.config.relist_period)

    async def _relist(self, seen: dict[str, str]) -> dict[str, str]:
        containers = await self.runtime.list_containers(self.config.node_name)
        now: dict[str, str] = {c.id: c.state for c in containers}
        if self.stats is not None and now != seen:
            self.stats.sync(statsapi.refs(self._known_containers(containers)))
        for c in containers:
            worker = self.workers.get(c.pod_uid)
            if worker is not None and seen.get(c.id) != c.state:
                worker.wake()
        if self._gc_enabled:
            orphans = [c for c in containers if c.pod_uid not in self.workers]
            await asyncio.gather(*(self._remove_orphan(c) for c in orphans))
        return now

    def _known_containers(self, listed: list[ContainerInfo]) -> list[ContainerInfo]:
        """The listed containers, as their workers last inspected them (with start times)."""
        inspected = {c.id: c for w in self.workers.values() for c in w.containers()}
        return [inspected.get(c.id, c) for c in listed]

    async def _remove_orphan(self, info: ContainerInfo) -> None:
        log.info("removing container %s of vanished pod %s", info.id[:12], info.pod_uid)
        if info.state == "running":
            await self.runtime.stop(info.id, 2)
        await self.runtime.remove(info.id)

    # -- server backend -------------------------------------------------------------------

    def running_pods(self) -> list[Pod]:
        return [w.pod for w in self.workers.values()]

    async def post_pods(self, manifest: str) -> list[Pod]:
        pods = sources.parse_manifests(
            manifest, source="kubelet:http", node_name=self.config.node_name
        )
        for pod in pods:
            self._upsert("kubelet", pod)
            await self._ensure_mirror(pod)
        return pods

    async def delete_posted_pod(self, namespace: str, name: str) -> bool:
        for uid, pod in list(self._sources["kubelet"].items()):
            if pod.metadata.namespace == namespace and pod.metadata.name == name:
                del self._sources["kubelet"][uid]
                if uid in self.workers:
                    self.workers[uid].remove()
                return True
        return False

    def _worker_named(self, namespace: str, pod: str) -> PodWorker:
        named = [
            w
            for w in self.workers.values()
            if w.pod.metadata.namespace == namespace and w.pod.metadata.name == pod
        ]
        worker = min(named, key=lambda w: w.terminating, default=None)
        if worker is None:
            raise LogNotFound(f'pod "{pod}" in namespace "{namespace}" is not on this node')
        return worker

    async def open_exec(
        self,
        namespace: str,
        pod: str,
        container: str,
        command: list[str],
        *,
        stdin: asyncio.Queue[ExecInput] | None,
        tty: bool,
    ) -> AsyncGenerator[tuple[int, bytes], None]:
        info = self._worker_named(namespace, pod).container_for_logs(container, previous=False)
        if info is None or info.state != "running":
            raise LogNotFound(f'container "{container}" in pod "{pod}" is not running')
        return self._exec_stream(self.runtime.exec_stream(info.id, command, stdin=stdin, tty=tty))

    async def _exec_stream(
        self, stream: AsyncIterator[tuple[int, bytes]]
    ) -> AsyncGenerator[tuple[int, bytes], None]:
        try:
            async for item in stream:
                yield item
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def open_logs(
        self, namespace: str, pod: str, container: str, previous: bool, options: LogOptions
    ) -> AsyncGenerator[bytes, None]:
        worker = self._worker_named(namespace, pod)
        info = worker.container_for_logs(container, previous=previous)
        if info is None:
            which = "previous terminated" if previous else ""
            raise LogNotFound(
                f'{which} container "{container}" in pod "{pod}" is not available'.strip(),
                status=400,
            )
        return self._log_stream(info.id, options)

    async def _log_stream(self, cid: str, options: LogOptions) -> AsyncGenerator[bytes, None]:
        stream = self.runtime.logs(cid, options)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
