"""The API server: aiohttp's low-level HTTP server with one handler, so that request routing is
Kubernetes' (see requestinfo and routing) rather than a URL-pattern table.

Each request: authenticate (bearer token; health and /version are open) → in-flight limit (not
for watches and followed logs) → discovery/health/metrics or a resource handler → a Status body
for every error. Metrics record verb, resource, code and duration.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any

import aiohttp
from aiohttp import web

from kcore.api import errors
from kcore.apiserver import bootstrap, discovery, openapi, resources, reviews, routing, wire
from kcore.apiserver.allocator import ServiceAllocator
from kcore.apiserver.auth import Authenticator, is_anonymous_path
from kcore.apiserver.caches import Caches
from kcore.apiserver.config import ServerConfig
from kcore.apiserver.flowcontrol import InFlightLimiter
from kcore.apiserver.handlers.context import Context, Reply
from kcore.apiserver.metrics import Metrics
from kcore.apiserver.objects import decode_stored
from kcore.apiserver.requestinfo import RequestInfo, parse_bool, parse_resource_path, split_path
from kcore.apiserver.resource_store import ResourceStore
from kcore.apiserver.timedstore import TimedStore
from kcore.apiserver.tokens import ServiceAccountTokens
from kcore.storage.interface import (
    CompactedError,
    FutureRevisionError,
    StorageError,
    Store,
    StoreClosedError,
)

log = logging.getLogger(__name__)
_HEALTH = frozenset({"healthz", "livez", "readyz"})
_CACHED_NAMESPACES_MAX = 256  # beyond this, copying the cache's index costs more than a read


class APIServer:
    """Serve the Kubernetes API over `store`. `start()` binds; `url` is then known."""

    def __init__(self, store: Store, config: ServerConfig, authenticator: Authenticator) -> None:
        self.config = config
        self.authn = authenticator
        self.metrics = Metrics()
        self.store: Store = TimedStore(store, self.metrics)
        self.limiter = InFlightLimiter(config.max_in_flight)
        self._stores: dict[tuple[str, str, str], ResourceStore] = {}
        self.allocator = ServiceAllocator(self.resource_store("", "v1", "services"))
        self._runner: web.ServerRunner | None = None
        self._kubelet_session: aiohttp.ClientSession | None = None
        self.caches = Caches(self.store, capacity=config.watch_cache_capacity,
                             bookmark_interval=config.bookmark_interval)  # fmt: skip
        self.port = config.port

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return "https" if self.config.tls_cert else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.config.host}:{self.port}"

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not (self.config.tls_cert and self.config.tls_key):
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.config.tls_cert), str(self.config.tls_key))
        return ctx

    async def start(self) -> None:
        await self._ensure_namespaces()
        await self.caches.start()
        secrets = resources.lookup("", "v1", "secrets")
        if secrets is not None and self.authn.fallback is None:
            self.authn.fallback = ServiceAccountTokens(self.caches.get(secrets)).lookup
        # aiohttp's low-level server: routing is ours (requestinfo), so the Application's URL
        # dispatcher would only match one catch-all pattern per request at a measurable cost.
        # Bodies are read by Context.body under wire.MAX_BODY.
        handler = web.Server(self.handle, handler_cancellation=True, access_log=None)
        self._runner = web.ServerRunner(handler, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            self.config.host,
            self.config.port,
            ssl_context=self._ssl_context(),
            reuse_address=True,
        )
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        await bootstrap.reconcile_master_service(self, self.config.host, self.port)

    async def stop(self) -> None:
        """Stopping the caches first ends every watch stream cleanly, so that closing the
        listener does not wait for long-running requests."""
        await self.caches.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._kubelet_session is not None:
            await self._kubelet_session.close()
            self._kubelet_session = None

    async def _ensure_namespaces(self) -> None:
        namespaces = self.resource_store("", "v1", "namespaces")
        from kcore.apiserver import admission, objects

        for name in self.config.default_namespaces:
            if await namespaces.store.get(namespaces.key("", name)) is not None:
                continue
            raw: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name},
            }
            admission.prepare_create(namespaces.info, raw)
            try:
                await namespaces.create(objects.admit(namespaces.info, raw, strict=False))
            except errors.StatusError as e:
                if e.code != 409:
                    raise

    def resource_store(self, group: str, version: str, plural: str) -> ResourceStore:
        key = (group, version, plural)
        rs = self._stores.get(key)
        if rs is None:
            info = resources.lookup(group, version, plural)
            if info is None:
                raise errors.StatusError(404, "NotFound", routing.NOT_FOUND_MESSAGE)
            rs = self._stores[key] = ResourceStore(self.store, info)
        return rs

    async def namespace_lookup(self, name: str) -> Any:
        """A namespace's current object (None if absent) for namespaced creates.

        Like Kubernetes' NamespaceLifecycle admission: the namespaces watch cache answers when
        it holds the namespace and has seen every namespace write this server acknowledged
        (so a client that saw its delete succeed is never told the namespace is active);
        otherwise a store read does."""
        namespaces = self.resource_store("", "v1", "namespaces")
        key = namespaces.key("", name)
        cache = self.caches.get(namespaces.info)
        fresh = cache.running and cache.current_revision >= namespaces.last_write_revision
        if fresh and len(cache) <= _CACHED_NAMESPACES_MAX:
            cached = cache.objects().get(key)
            if cached is not None:
                return cached.object
        kv = await namespaces.store.get(key)
        return None if kv is None else decode_stored(kv.value, kv.mod_revision)

    def kubelet_session(self) -> aiohttp.ClientSession:
        if self._kubelet_session is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=5)
            self._kubelet_session = aiohttp.ClientSession(timeout=timeout)
        return self._kubelet_session

    # -- request handling ------------------------------------------------------------------
    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        accept = wire.parse_accept(request.headers.get("Accept"))
        labels = ["", ""]
        try:
            if "Expect" in request.headers:
                await _expect(request)
            response = await self._authenticated(request, accept, labels)
        except errors.StatusError as e:
            response = self._error(e, accept)
        except StorageError as e:
            response = self._error(storage_status(e), accept)
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            response = self._error(errors.internal("an internal error occurred"), accept)
        self.metrics.request(
            labels[0] or request.method, labels[1], response.status, time.perf_counter() - started
        )
        return response

    async def _authenticated(
        self, request: web.BaseRequest, accept: wire.Accept, labels: list[str]
    ) -> web.StreamResponse:
        user = self.authn.authenticate(request.headers.get("Authorization"))
        if user is None and not is_anonymous_path(request.path):
            raise errors.unauthorized()
        parts = split_path(request.path)
        ri = parse_resource_path(request.method, parts, parse_bool(request.query.get("watch")))
        if ri is None:
            return self._answer(Reply(200, self._non_resource(request, parts)), accept)
        labels[:] = [ri.verb, ri.resource + (f"/{ri.subresource}" if ri.subresource else "")]
        if user is not None and reviews.is_review(ri):
            return self._answer(Reply(201, reviews.answer(ri, user)), accept)
        long_running = ri.verb == "watch" or ri.subresource in ("log", "exec")
        if long_running:
            return await self._resource(request, ri, accept)
        self.limiter.acquire()
        self.metrics.inflight += 1
        try:
            return await self._resource(request, ri, accept)
        finally:
            self.limiter.release()
            self.metrics.inflight -= 1

    async def _resource(
        self, request: web.BaseRequest, ri: RequestInfo, accept: wire.Accept
    ) -> web.StreamResponse:
        info = resources.lookup(ri.group, ri.version, ri.resource)
        handler = routing.resolve(ri, info)
        assert info is not None
        rs = self.resource_store(info.group, info.version, info.plural)
        result = await handler(Context(self, request, ri, info, rs, accept))
        if isinstance(result, Reply):
            return self._answer(result, accept)
        assert isinstance(result, web.StreamResponse)
        return result

    def _non_resource(self, request: web.BaseRequest, parts: list[str]) -> Any:
        """Discovery, version, health, metrics and OpenAPI. Raises 404 for anything else."""
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed(f"{request.method} is not allowed on {request.path}")
        doc = self._discovery(request, parts)
        if doc is None:
            raise errors.StatusError(404, "NotFound", routing.NOT_FOUND_MESSAGE)
        return doc

    def _discovery(self, request: web.BaseRequest, parts: list[str]) -> Any:
        match parts:
            case ["version"]:
                return discovery.VERSION_INFO
            case [health, *_] if health in _HEALTH:
                return _Raw(b"ok", "text/plain")
            case ["metrics"]:
                return _Raw(self.metrics.render().encode(), "text/plain; version=0.0.4")
            case ["openapi", "v2"]:
                return _Raw(b"", "application/octet-stream")
            case ["openapi", "v3"]:
                return _Raw(openapi.v3_root(), "application/json")
            case ["openapi", "v3", "api", version]:
                return _json_or_none(openapi.v3_document("", version))
            case ["openapi", "v3", "apis", group, version]:
                return _json_or_none(openapi.v3_document(group, version))
            case ["api"]:
                return discovery.api_versions(f"{self.config.host}:{self.port}")
            case ["api", version]:
                return discovery.resource_list("", version)
            case ["apis"]:
                return discovery.api_group_list()
            case ["apis", group]:
                return discovery.api_group(group)
            case ["apis", group, version]:
                return discovery.resource_list(group, version)
        return None

    def _answer(self, reply: Reply, accept: wire.Accept) -> web.StreamResponse:
        if isinstance(reply.doc, _Raw):
            return web.Response(
                status=reply.status,
                body=reply.doc.body,
                headers={"Content-Type": reply.doc.content_type},
            )
        body = wire.encode(reply.doc, accept.fmt)
        headers = {"Content-Type": accept.content_type, **reply.headers}
        return web.Response(status=reply.status, body=body, headers=headers)

    def _error(self, e: errors.StatusError, accept: wire.Accept) -> web.StreamResponse:
        headers = {}
        if e.retry_after_seconds:
            headers["Retry-After"] = str(e.retry_after_seconds)
        return self._answer(Reply(e.code, e.to_status(), headers), accept)


async def _expect(request: web.BaseRequest) -> None:
    """`Expect: 100-continue` as aiohttp's Application answers it (the low-level server
    leaves it to us): clients such as curl wait for it before sending a large body."""
    if request.version == aiohttp.HttpVersion11:
        if request.headers["Expect"].lower() != "100-continue":
            raise errors.StatusError(417, "ExpectationFailed", "unknown Expect header")
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0


def _json_or_none(body: bytes | None) -> _Raw | None:
    return None if body is None else _Raw(body, "application/json")


def storage_status(e: StorageError) -> errors.StatusError:
    """Storage errors that reach the top, as Kubernetes answers them."""
    if isinstance(e, CompactedError):
        return errors.gone(f"too old resource version: {e.requested} ({e.compacted})")
    if isinstance(e, FutureRevisionError):
        return errors.StatusError(504, "Timeout", f"Too large resource version: {e.requested}, "
                                  f"current: {e.current}")  # fmt: skip
    if isinstance(e, StoreClosedError):
        return errors.StatusError(503, "ServiceUnavailable", "the store is shutting down")
    return errors.internal(f"storage error: {e}")


class _Raw:
    """A non-JSON body (health text, metrics, the empty OpenAPI v2 document)."""

    __slots__ = ("body", "content_type")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type
