"""The async REST client: typed verbs over one aiohttp connection pool.

`Client` speaks the Kubernetes REST API (JSON, or msgpack to kcore's own API server) and
decodes answers straight from bytes into the kind's msgspec Struct. A kind is named by its
Struct type (looked up in kcore.api.registry) or by a `ResourceInfo`, whose `type` may be
`dict` for untyped use. Non-2xx answers raise `StatusError` built from the Status body. 429s
are retried after Retry-After; connection errors are retried with backoff for idempotent verbs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import quote, urlencode

import aiohttp
import msgspec

import kcore.api.kinds  # noqa: F401  (fills the registry resource_info reads)
from kcore.api.errors import StatusError
from kcore.api.meta import Added, Bookmark, Deleted, Error, Modified
from kcore.api.registry import ResourceInfo, all_resources
from kcore.client import codecs, h1
from kcore.client.backoff import Backoff
from kcore.client.kubeconfig import Config, load_incluster, load_kubeconfig
from kcore.client.meta import name_of, namespace_of

log = logging.getLogger(__name__)
T = TypeVar("T")
Kind = ResourceInfo | type[Any]
PatchType = Literal["merge", "strategic", "json", "apply"]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
UNREACHABLE: tuple[type[Exception], ...] = (aiohttp.ClientError, OSError, TimeoutError)
"""Errors meaning the server could not be reached or the exchange broke off."""
REQUEST_FAILED: tuple[type[Exception], ...] = (StatusError, *UNREACHABLE)
"""Everything a request may raise on purpose: an answer that is an error, or no answer."""
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
MAX_RETRIES = 10


@dataclass(frozen=True, slots=True)
class ObjectList(Generic[T]):
    """One page of a list: items plus the resourceVersion to watch from."""

    items: list[T]
    resource_version: str
    continue_: str = ""
    remaining_item_count: int | None = None


@dataclass(frozen=True, slots=True)
class WatchEvent(Generic[T]):
    type: EventType
    object: T


@dataclass(frozen=True, slots=True)
class BookmarkEvent:
    """The server's progress note: everything up to `resource_version` has been sent."""

    resource_version: str


EventStream = AsyncGenerator[WatchEvent[T] | BookmarkEvent, None]
"""What `Client.watch` returns: typed events, bookmarks, until the server ends the stream."""

_by_type: dict[type[Any], ResourceInfo] = {}


def resource_info(kind: Kind) -> ResourceInfo:
    """The ResourceInfo for a Struct type (from the registry) or the ResourceInfo itself."""
    if isinstance(kind, ResourceInfo):
        return kind
    info = _by_type.get(kind)
    if info is None:
        _by_type.update({i.type: i for i in all_resources() if i.type is not dict})
        info = _by_type.get(kind)
    if info is None:
        raise LookupError(f"{kind!r} is not a registered kind (import kcore.api.kinds)")
    return info


def resource_path(
    info: ResourceInfo, namespace: str | None, name: str = "", subresource: str = ""
) -> str:
    """/api/v1/namespaces/NS/pods/NAME/SUB; cluster-wide when `namespace` is empty."""
    path = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    if info.namespaced and namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{info.plural}"
    if name:
        path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
    return path


def _query(**params: object) -> dict[str, str]:
    """Query parameters with None/empty dropped, Kubernetes' camelCase, bools as true/false."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None or value == "" or value is False:
            continue
        head, *rest = key.rstrip("_").split("_")
        name = head + "".join(w.capitalize() for w in rest)
        out[name] = "true" if value is True else str(value)
    return out


def status_error(code: int, body: bytes, content_type: str) -> StatusError:
    """The StatusError for a non-2xx answer; bodies that are not a Status get a generic one."""
    try:
        doc = codecs.decode_any(body, content_type)
    except (msgspec.DecodeError, ValueError):
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        doc.setdefault("code", code)
        return StatusError.from_status(doc)
    reason = _REASONS.get(code, "InternalError" if code >= 500 else "BadRequest")
    text = body[:1024].decode("utf-8", "replace").strip()
    return StatusError(code, reason, text or f"the server answered HTTP {code}")


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class Client:
    """An async Kubernetes API client on one connection pool; use as `async with`."""

    def __init__(
        self,
        config: Config,
        *,
        wire: codecs.Wire = "json",
        user_agent: str = "kcore-client",
        timeout: float = 60.0,
        max_connections: int = 100,
    ) -> None:
        self.config = config
        self.wire = wire
        self._accept = codecs.MSGPACK if wire == "msgpack" else codecs.JSON
        self._user_agent = user_agent
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._h1: h1.H1Pool | None = None
        self._token: tuple[float, str | None] = (-1e9, None)

    @classmethod
    def from_kubeconfig(
        cls, path: str | Path | None = None, *, context: str | None = None, **kw: Any
    ) -> Client:
        return cls(load_kubeconfig(path, context=context), **kw)

    @classmethod
    def in_cluster(cls, **kw: Any) -> Client:
        return cls(load_incluster(), **kw)

    async def __aenter__(self) -> Client:
        self._open()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._h1 is not None:
            await self._h1.close()
            self._h1 = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def namespace(self) -> str:
        """The default namespace (from the kubeconfig context or the service account)."""
        return self.config.namespace

    def _pool(self) -> h1.H1Pool:
        """The unary requests' connections (watches and logs use the aiohttp session)."""
        if self._h1 is None:
            self._h1 = h1.H1Pool(
                self.config.server,
                self.config.ssl_context(),
                limit=self._max_connections,
                user_agent=self._user_agent,
            )
        return self._h1

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            ssl_ctx = self.config.ssl_context()
            connector = aiohttp.TCPConnector(
                ssl=ssl_ctx if ssl_ctx is not None else False, limit=self._max_connections
            )
            self._session = aiohttp.ClientSession(
                self.config.server,
                connector=connector,
                timeout=self._timeout,
                headers={"User-Agent": self._user_agent},
                auto_decompress=True,
            )
        return self._session

    def _headers(
        self, content_type: str | None = None, accept: str | None = None
    ) -> dict[str, str]:
        headers = {"Accept": accept or self._accept}
        if content_type:
            headers["Content-Type"] = content_type
        token = self._bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self.config.username and self.config.password:
            headers["Authorization"] = aiohttp.BasicAuth(
                self.config.username, self.config.password
            ).encode()
        return headers

    def _bearer(self) -> str | None:
        # Token files rotate; re-read them at most once a minute.
        if not self.config.token_file:
            return self.config.token
        read_at, token = self._token
        if time.monotonic() - read_at > 60.0:
            token = self.config.bearer_token()
            self._token = (time.monotonic(), token)
        return token

    # -- transport ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str | None = None,
    ) -> tuple[bytes, str]:
        """Send one request (with retries); the 2xx body and its content type, else raise."""
        pool = self._pool()
        target = request_target(path, params)
        headers = self._headers(content_type, accept)
        backoff: Backoff | None = None
        for attempt in range(MAX_RETRIES + 1):
            last = attempt == MAX_RETRIES
            try:
                answer = await pool.request(method, target, headers, body, self._timeout.total)
                ctype = answer.content_type or codecs.JSON
                if answer.status < 300:
                    return answer.body, ctype
                delay = self._retry_delay(method, answer.status, answer.retry_after, last)
                if delay is None:
                    raise status_error(answer.status, answer.body, ctype)
            except (TimeoutError, aiohttp.ClientConnectionError) as exc:
                # A refused connection never reached the server: safe to retry any verb.
                never_sent = isinstance(exc, aiohttp.ClientConnectorError | h1.NeverSent)
                tls_refused = isinstance(exc, aiohttp.ClientSSLError | h1.TLSRefused)
                if last or tls_refused or not (never_sent or method in _IDEMPOTENT):
                    raise
                backoff = backoff or Backoff(initial=0.2, cap=5.0, jitter=0.5)
                delay = backoff.next()
                log.debug("%s %s failed (%s); retrying in %.2fs", method, path, exc, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    @staticmethod
    def _retry_delay(method: str, status: int, retry_after: str | None, last: bool) -> float | None:
        """Seconds to wait before retrying this answer, or None to give up on it."""
        if last:
            return None
        if status == 429 or (retry_after and status >= 500 and method in _IDEMPOTENT):
            try:
                return min(float(retry_after or 1), 60.0)
            except ValueError:
                return 1.0
        return None

    def _encode(self, obj: Any) -> tuple[bytes, str]:
        return codecs.encode(obj, self.wire), self._accept

    def _ns(self, info: ResourceInfo, namespace: str | None, obj: Any = None) -> str | None:
        if not info.namespaced:
            return None
        return namespace or (namespace_of(obj) if obj is not None else "") or self.namespace

    # -- verbs -------------------------------------------------------------------------------

    @overload
    async def get(self, kind: type[T], name: str, *, namespace: str | None = None) -> T: ...
    @overload
    async def get(self, kind: ResourceInfo, name: str, *, namespace: str | None = None) -> Any: ...

    async def get(self, kind: Kind, name: str, *, namespace: str | None = None) -> Any:
        info = resource_info(kind)
        data, ctype = await self.request(
            "GET", resource_path(info, self._ns(info, namespace), name)
        )
        return self._decode(info, data, ctype)

    def _decode(self, info: ResourceInfo, data: bytes, ctype: str) -> Any:
        wire = _wire_of(ctype)
        return codecs.decode_with(codecs.codec_for(info.type, wire).obj, info.type, data, wire)

    @overload
    async def list(
        self,
        kind: type[T],
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[T]: ...
    @overload
    async def list(
        self,
        kind: ResourceInfo,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[Any]: ...

    async def list(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[Any]:
        """One page; `namespace=None` lists every namespace."""
        info = resource_info(kind)
        params = _query(
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_=continue_,
            resource_version=resource_version,
        )
        data, ctype = await self.request("GET", resource_path(info, namespace), params=params)
        wire = _wire_of(ctype)
        decoder = codecs.codec_for(info.type, wire).list
        body = codecs.decode_with(decoder, codecs.ListBody[info.type], data, wire)  # type: ignore[name-defined]
        meta = body.metadata
        return ObjectList(
            body.items or [], meta.resource_version, meta.continue_, meta.remaining_item_count
        )

    async def list_all(
        self, kind: type[T] | ResourceInfo, *, page_size: int = 500, **kw: Any
    ) -> ObjectList[T]:
        """Every item, following `continue` tokens; the resourceVersion of the first page."""
        page: ObjectList[T] = await self.list(kind, limit=page_size, **kw)  # type: ignore[arg-type]
        items, rv = list(page.items), page.resource_version
        while page.continue_:
            page = await self.list(kind, limit=page_size, continue_=page.continue_, **kw)  # type: ignore[arg-type]
            items.extend(page.items)
        return ObjectList(items, rv)

    async def create(
        self,
        obj: T,
        *,
        namespace: str | None = None,
        kind: ResourceInfo | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> T:
        info = kind or resource_info(type(obj))
        body, ctype = self._encode(obj)
        path = resource_path(info, self._ns(info, namespace, obj))
        params = _query(dry_run="All" if dry_run else None, field_manager=field_manager)
        data, rtype = await self.request("POST", path, params=params, body=body, content_type=ctype)
        result: T = self._decode(info, data, rtype)
        return result

    async def update(
        self,
        obj: T,
        *,
        namespace: str | None = None,
        kind: ResourceInfo | None = None,
        subresource: str = "",
        field_manager: str | None = None,
    ) -> T:
        """PUT the whole object; a stale resourceVersion raises 409 Conflict."""
        info = kind or resource_info(type(obj))
        path = resource_path(info, self._ns(info, namespace, obj), name_of(obj), subresource)
        body, ctype = self._encode(obj)
        params = _query(field_manager=field_manager)
        data, rtype = await self.request("PUT", path, params=params, body=body, content_type=ctype)
        result: T = self._decode(info, data, rtype)
        return result

    async def update_status(
        self, obj: T, *, namespace: str | None = None, kind: ResourceInfo | None = None
    ) -> T:
        return await self.update(obj, namespace=namespace, kind=kind, subresource="status")

    @overload
    async def patch(
        self,
        kind: type[T],
        name: str,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        namespace: str | None = None,
        subresource: str = "",
        field_manager: str | None = None,
        force: bool = False,
    ) -> T: ...
    @overload
    async def patch(
        self,
        kind: ResourceInfo,
        name: str,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        namespace: str | None = None,
        subresource: str = "",
        field_manager: str | None = None,
        force: bool = False,
    ) -> Any: ...

    async def patch(
        self,
        kind: Kind,
        name: str,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        namespace: str | None = None,
        subresource: str = "",
        field_manager: str | None = None,
        force: bool = False,
    ) -> Any:
        """Patch with a merge, strategic-merge or JSON patch (a dict/list, or encoded bytes)."""
        info = resource_info(kind)
        path = resource_path(info, self._ns(info, namespace), name, subresource)
        body = patch if isinstance(patch, bytes | str) else codecs.encode_json(patch)
        params = _query(field_manager=field_manager, force=force)
        data, ctype = await self.request(
            "PATCH",
            path,
            params=params,
            body=body if isinstance(body, bytes) else body.encode(),
            content_type=PATCH_CONTENT_TYPES[patch_type],
        )
        return self._decode(info, data, ctype)

    @overload
    async def delete(
        self,
        kind: type[T],
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> T | None: ...
    @overload
    async def delete(
        self,
        kind: ResourceInfo,
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> Any: ...

    async def delete(
        self,
        kind: Kind,
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Delete; the object as it stands (finalizers pending) or None once it is gone."""
        info = resource_info(kind)
        path = resource_path(info, self._ns(info, namespace), name)
        body = _delete_options(grace_period_seconds, propagation_policy, preconditions, dry_run)
        data, ctype = await self.request(
            "DELETE", path, body=codecs.encode_json(body), content_type=codecs.JSON
        )
        if codecs.kind_of(data, ctype) == "Status":
            return None
        return self._decode(info, data, ctype)

    async def delete_collection(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        propagation_policy: str | None = None,
    ) -> None:
        info = resource_info(kind)
        params = _query(label_selector=label_selector, field_selector=field_selector)
        body = _delete_options(None, propagation_policy, None, False)
        await self.request(
            "DELETE",
            resource_path(info, self._ns(info, namespace)),
            params=params,
            body=codecs.encode_json(body),
            content_type=codecs.JSON,
        )

    # -- watch -------------------------------------------------------------------------------

    @overload
    def watch(
        self,
        kind: type[T],
        *,
        namespace: str | None = None,
        resource_version: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        bookmarks: bool = True,
    ) -> AsyncGenerator[WatchEvent[T] | BookmarkEvent, None]: ...
    @overload
    def watch(
        self,
        kind: ResourceInfo,
        *,
        namespace: str | None = None,
        resource_version: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        bookmarks: bool = True,
    ) -> AsyncGenerator[WatchEvent[Any] | BookmarkEvent, None]: ...

    def watch(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        resource_version: str = "",
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        bookmarks: bool = True,
    ) -> AsyncGenerator[WatchEvent[Any] | BookmarkEvent, None]:
        """Events after `resource_version` until the server ends the stream.

        An ERROR event raises its StatusError (410 Expired: relist). Close the iterator
        (`contextlib.aclosing`) to drop the connection early.
        """
        info = resource_info(kind)
        params = _query(
            watch=True,
            resource_version=resource_version,
            label_selector=label_selector,
            field_selector=field_selector,
            timeout_seconds=timeout_seconds,
            allow_watch_bookmarks=bookmarks,
        )
        return self._watch(info, resource_path(info, namespace), params)

    async def _watch(
        self, info: ResourceInfo, path: str, params: dict[str, str]
    ) -> AsyncGenerator[WatchEvent[Any] | BookmarkEvent, None]:
        session = self._open()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        async with session.get(
            path, params=params, headers=self._headers(), timeout=timeout
        ) as resp:
            if resp.status >= 300:
                raise status_error(resp.status, await resp.read(), resp.content_type)
            wire = _wire_of(resp.content_type)
            decoder = codecs.codec_for(info.type, wire).event
            union = codecs.event_type(info.type)  # built once per stream, not per frame
            frames = _msgpack_frames(resp) if wire == "msgpack" else _json_lines(resp)
            async for frame in frames:
                yield _event(codecs.decode_with(decoder, union, frame, wire))

    # -- subresources ------------------------------------------------------------------------

    async def bind(self, name: str, node_name: str, *, namespace: str) -> None:
        """Bind a pod to a node (POST pods/NAME/binding), as the scheduler does."""
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        await self._post_subresource("pods", namespace, name, "binding", binding)

    async def evict(
        self, name: str, *, namespace: str, grace_period_seconds: int | None = None
    ) -> None:
        """Evict a pod through the eviction subresource (honours disruption budgets)."""
        eviction: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        if grace_period_seconds is not None:
            eviction["deleteOptions"] = {"gracePeriodSeconds": grace_period_seconds}
        await self._post_subresource("pods", namespace, name, "eviction", eviction)

    async def _post_subresource(
        self, plural: str, namespace: str, name: str, sub: str, doc: dict[str, Any]
    ) -> None:
        path = f"/api/v1/namespaces/{namespace}/{plural}/{name}/{sub}"
        await self.request("POST", path, body=codecs.encode_json(doc), content_type=codecs.JSON)

    async def get_scale(self, kind: Kind, name: str, *, namespace: str | None = None) -> Any:
        """The autoscaling/v1 Scale of a deployment, replicaset, ... (as a dict)."""
        info = resource_info(kind)
        path = resource_path(info, self._ns(info, namespace), name, "scale")
        data, ctype = await self.request("GET", path, accept=codecs.JSON)
        return codecs.decode_any(data, ctype)

    async def scale(
        self, kind: Kind, name: str, replicas: int, *, namespace: str | None = None
    ) -> Any:
        """Set `spec.replicas` through the scale subresource; the new Scale (as a dict)."""
        info = resource_info(kind)
        current = await self.get_scale(info, name, namespace=namespace)
        current.setdefault("spec", {})["replicas"] = replicas
        path = resource_path(info, self._ns(info, namespace), name, "scale")
        data, ctype = await self.request(
            "PUT",
            path,
            body=codecs.encode_json(current),
            content_type=codecs.JSON,
            accept=codecs.JSON,
        )
        return codecs.decode_any(data, ctype)

    async def logs(
        self,
        name: str,
        *,
        namespace: str,
        container: str | None = None,
        tail_lines: int | None = None,
        previous: bool = False,
        timestamps: bool = False,
    ) -> str:
        """A container's log as text."""
        params = _query(
            container=container, tail_lines=tail_lines, previous=previous, timestamps=timestamps
        )
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/log"
        data, _ = await self.request("GET", path, params=params, accept="text/plain")
        return data.decode("utf-8", "replace")

    async def follow_logs(
        self,
        name: str,
        *,
        namespace: str,
        container: str | None = None,
        tail_lines: int | None = None,
        timestamps: bool = False,
    ) -> AsyncGenerator[bytes, None]:
        """A container's log lines (with their newlines) as they are written, like `-f`."""
        params = _query(
            container=container, tail_lines=tail_lines, timestamps=timestamps, follow=True
        )
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/log"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        headers = self._headers(accept="text/plain")
        async with self._open().get(path, params=params, headers=headers, timeout=timeout) as resp:
            if resp.status >= 300:
                raise status_error(resp.status, await resp.read(), resp.content_type)
            async for line in _lines(resp, keep_ends=True):
                yield line


def request_target(path: str, params: Mapping[str, str] | None) -> str:
    """The request line's target: the path percent-encoded as yarl would, then the query."""
    target = quote(path, safe="/:@!$&'()*+,;=-._~%")
    if params:
        target += "?" + urlencode(params, quote_via=quote, safe="")
    return target


def _wire_of(content_type: str) -> codecs.Wire:
    return "msgpack" if content_type.startswith(codecs.MSGPACK) else "json"


def _delete_options(
    grace: int | None, propagation: str | None, pre: Mapping[str, str] | None, dry_run: bool
) -> dict[str, Any]:
    opts: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
    if grace is not None:
        opts["gracePeriodSeconds"] = grace
    if propagation:
        opts["propagationPolicy"] = propagation
    if pre:
        opts["preconditions"] = dict(pre)
    if dry_run:
        opts["dryRun"] = ["All"]
    return opts


def _event(decoded: Any) -> WatchEvent[Any] | BookmarkEvent:
    match decoded:
        case Added(object=obj):
            return WatchEvent("ADDED", obj)
        case Modified(object=obj):
            return WatchEvent("MODIFIED", obj)
        case Deleted(object=obj):
            return WatchEvent("DELETED", obj)
        case Bookmark(object=obj):
            from kcore.client.meta import resource_version_of

            return BookmarkEvent(resource_version_of(obj))
        case Error(object=status):
            raise StatusError.from_status(msgspec.to_builtins(status))
    raise ValueError(f"unexpected watch event {decoded!r}")


async def _json_lines(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Newline-delimited JSON frames (blank lines skipped)."""
    async for line in _lines(resp, keep_ends=False):
        if line.strip():
            yield line


async def _lines(resp: aiohttp.ClientResponse, *, keep_ends: bool) -> AsyncIterator[bytes]:
    """The body's lines, however the chunks happen to split them (no line-length limit)."""
    buffer = b""
    end = b"\n" if keep_ends else b""
    async for chunk in resp.content.iter_any():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line + end
    if buffer:
        yield buffer


async def _msgpack_frames(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """4-byte big-endian length, then that many bytes of msgpack."""
    while True:
        try:
            head = await resp.content.readexactly(4)
            yield await resp.content.readexactly(int.from_bytes(head, "big"))
        except asyncio.IncompleteReadError:
            return
