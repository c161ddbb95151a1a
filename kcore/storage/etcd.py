"""The etcd backend: the `Store` contract on etcd 3.4's v3 gRPC API.

It talks to etcd through the protobuf stubs that ship with aetcd (`aetcd.rpc`) over one
`grpc.aio` channel, not through aetcd's high-level client: that client has no ranged reads at
a revision with a limit, and its callback watcher hides etcd's compaction cancel. Keys are
stored as `<prefix><key>` (so `<prefix>/registry/...`); revisions are etcd's own (a KeyValue's
`mod_revision` is etcd's mod revision), so resourceVersions stay comparable across API servers
that share one etcd. Conditional writes are single etcd transactions, the way the Kubernetes
API server uses etcd: create compares create_revision == 0; update and delete compare the mod
revision and read the current value in the failure branch, so a conflict costs one round trip.

Each `watch()` is its own etcd Watch stream (HTTP/2 flow control then applies per watcher, so
one slow consumer never stalls the others); a stream cancelled for compaction surfaces as
CompactedError, whether at start or mid-stream; a stream lost with its connection surfaces
as WatchTerminatedError (watch again from the last revision seen). These watches do not offer
`progress_revision()` (ProgressWatch): etcd 3.4 answers a progress request from a side channel
that can overtake events still queued for the stream (etcd issue #15220), so a revision learnt
that way could claim events not yet delivered; the watch cache then serves consistent reads
from etcd itself, which is correct, just not cached.

Durability: etcd appends every write to its WAL and fsyncs it before it answers the request
(its default; this module never turns that off), so an acknowledged write survives a crash.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc  # type: ignore[import-untyped, import-not-found, unused-ignore]
from aetcd import rpc

from kcore.storage.interface import (
    CompactedError,
    ConflictError,
    Event,
    EventType,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    StorageError,
    StoreClosedError,
    WatchTerminatedError,
)

T = TypeVar("T")

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
]
_COMPACTED = "required revision has been compacted"
_FUTURE = "required revision is a future revision"
_CMP_CREATE = rpc.Compare.CompareTarget.Value("CREATE")
_CMP_MOD = rpc.Compare.CompareTarget.Value("MOD")
_CMP_EQUAL = rpc.Compare.CompareResult.Value("EQUAL")
_CMP_GREATER = rpc.Compare.CompareResult.Value("GREATER")
_EVENT_DELETE = rpc.Event.EventType.Value("DELETE")


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix` (etcd's range_end)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # every key: etcd reads range_end "\0" as "to the end of the keyspace"


def _task_cancelled() -> bool:
    """Whether the running task itself is being cancelled (not just an RPC under it)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _normalize_prefix(prefix: str) -> bytes:
    prefix = prefix.strip("/")
    return f"/{prefix}".encode() if prefix else b""


class EtcdStore:
    """A `Store` on one etcd cluster endpoint, scoped to a key prefix."""

    def __init__(self, channel: Any, *, prefix: str = "") -> None:
        self._channel = channel
        self._kv = rpc.KVStub(channel)
        self._maintenance = rpc.MaintenanceStub(channel)
        self._watch_stub = rpc.WatchStub(channel)
        self._prefix = _normalize_prefix(prefix)
        self._watches: set[EtcdWatch] = set()
        self._closed = False

    @classmethod
    async def open(
        cls, host: str, port: int, *, prefix: str = "", connect_timeout: float = 10.0
    ) -> EtcdStore:
        """Connect and check that etcd answers within `connect_timeout` seconds."""
        channel = grpc.aio.insecure_channel(f"{host}:{port}", options=_CHANNEL_OPTIONS)
        store = cls(channel, prefix=prefix)
        try:
            await asyncio.wait_for(channel.channel_ready(), connect_timeout)
            await store.current_revision()
        except TimeoutError:
            await channel.close()
            raise StorageError(f"etcd at {host}:{port} not reachable") from None
        except BaseException:
            await channel.close()
            raise
        return store

    # -- keys -----------------------------------------------------------------------------

    def _key(self, key: str) -> bytes:
        return self._prefix + key.encode()

    def _kv_from(self, kv: Any) -> KeyValue:
        key = bytes(kv.key)[len(self._prefix) :].decode()
        return KeyValue(key, bytes(kv.value), kv.create_revision, kv.mod_revision)

    # -- calls ----------------------------------------------------------------------------

    async def _call(
        self, method: Callable[[Any], Awaitable[T]], request: Any, *, revision: int = 0
    ) -> T:
        """Run one unary RPC, turning gRPC failures into storage errors."""
        if self._closed:
            raise StoreClosedError("etcd store is closed")
        try:
            return await method(request)
        except grpc.aio.AioRpcError as error:
            raise await self._translate(error, revision) from error
        except asyncio.CancelledError:
            if self._closed and not _task_cancelled():
                raise StoreClosedError("etcd store is closed") from None
            raise

    async def _translate(self, error: Any, revision: int) -> StorageError:
        details = str(error.details() or "")
        if self._closed:
            return StoreClosedError("etcd store is closed")
        if _COMPACTED in details:
            return CompactedError(revision, await self._compacted_or(revision))
        if _FUTURE in details:
            return FutureRevisionError(revision, await self._current_or(revision))
        return StorageError(f"etcd: {error.code().name}: {details}")

    async def _compacted_or(self, fallback: int) -> int:
        try:
            return await self.compacted_revision()
        except StorageError:
            return fallback

    async def _current_or(self, fallback: int) -> int:
        try:
            return await self.current_revision()
        except StorageError:
            return fallback

    # -- reads ----------------------------------------------------------------------------

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        request = rpc.RangeRequest(key=self._key(key), revision=revision)
        response = await self._call(self._kv.Range, request, revision=revision)
        return self._kv_from(response.kvs[0]) if response.kvs else None

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        start = full = self._key(prefix)
        if start_after:
            start = max(full, self._key(start_after) + b"\0")
        request = rpc.RangeRequest(
            key=start or b"\0", range_end=prefix_end(full), revision=revision, limit=limit
        )
        response = await self._call(self._kv.Range, request, revision=revision)
        items = [self._kv_from(kv) for kv in response.kvs]
        remaining = response.count - len(items) if response.more else 0
        return ListResult(
            items, revision or response.header.revision, bool(response.more), remaining
        )

    async def count(self, prefix: str) -> int:
        full = self._key(prefix)
        request = rpc.RangeRequest(key=full or b"\0", range_end=prefix_end(full), count_only=True)
        response = await self._call(self._kv.Range, request)
        return int(response.count)

    async def current_revision(self) -> int:
        request = rpc.RangeRequest(key=self._prefix or b"\0", count_only=True)
        response = await self._call(self._kv.Range, request)
        return int(response.header.revision)

    async def compacted_revision(self) -> int:
        """etcd's compact revision, from HashKV (the one v3 RPC that reports it); 0 if never.

        HashKV hashes the retained keyspace, so this is for error paths and tests, not hot
        loops."""
        response = await self._call(self._maintenance.HashKV, rpc.HashKVRequest(revision=0))
        return max(int(response.compact_revision), 0)

    # -- writes ---------------------------------------------------------------------------

    async def _txn(self, compare: Any, success: Any, failure: Any = None) -> Any:
        failures = [failure] if failure is not None else []
        request = rpc.TxnRequest(compare=[compare], success=[success], failure=failures)
        return await self._call(self._kv.Txn, request)

    def _exists(self, key: bytes, expected_revision: int) -> Any:
        if expected_revision:
            return rpc.Compare(
                key=key, target=_CMP_MOD, result=_CMP_EQUAL, mod_revision=expected_revision
            )
        return rpc.Compare(key=key, target=_CMP_CREATE, result=_CMP_GREATER, create_revision=0)

    def _failed(self, key: str, expected_revision: int, response: Any) -> StorageError:
        kvs = response.responses[0].response_range.kvs
        if not kvs:
            return KeyNotFoundError(key)
        return ConflictError(key, expected_revision, self._kv_from(kvs[0]))

    async def create(self, key: str, value: bytes) -> KeyValue:
        raw = self._key(key)
        absent = rpc.Compare(key=raw, target=_CMP_CREATE, result=_CMP_EQUAL, create_revision=0)
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value))
        response = await self._txn(absent, put)
        if not response.succeeded:
            raise KeyExistsError(key)
        revision = int(response.header.revision)
        return KeyValue(key, value, revision, revision)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        raw = self._key(key)
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value, prev_kv=True))
        read = rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))
        response = await self._txn(self._exists(raw, expected_revision), put, read)
        if not response.succeeded:
            raise self._failed(key, expected_revision, response)
        prev = response.responses[0].response_put.prev_kv
        return KeyValue(key, value, int(prev.create_revision), int(response.header.revision))

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        raw = self._key(key)
        remove = rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=raw, prev_kv=True))
        read = rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))
        response = await self._txn(self._exists(raw, expected_revision), remove, read)
        if not response.succeeded:
            raise self._failed(key, expected_revision, response)
        prev = response.responses[0].response_delete_range.prev_kvs[0]
        return KeyValue(
            key, bytes(prev.value), int(prev.create_revision), int(response.header.revision)
        )

    async def compact(self, revision: int) -> None:
        """Physical compaction (returns once the old revisions are gone from etcd's backend).
        Compacting at or below the current compact revision is a no-op."""
        request = rpc.CompactionRequest(revision=revision, physical=True)
        try:
            await self._call(self._kv.Compact, request, revision=revision)
        except CompactedError:
            return

    # -- watch and lifecycle --------------------------------------------------------------

    def watch(self, prefix: str, *, revision: int) -> EtcdWatch:
        if self._closed:
            raise StoreClosedError("etcd store is closed")
        full = self._key(prefix)
        create = rpc.WatchCreateRequest(
            key=full or b"\0",
            range_end=prefix_end(full),
            start_revision=revision + 1 if revision else 0,
            prev_kv=True,
        )
        watch = EtcdWatch(self, rpc.WatchRequest(create_request=create), revision)
        self._watches.add(watch)
        return watch

    def _open_stream(self) -> Any:
        return self._watch_stub.Watch()

    def _forget(self, watch: EtcdWatch) -> None:
        self._watches.discard(watch)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for watch in list(self._watches):
            await watch.close()
        await self._channel.close()


class EtcdWatch:
    """One etcd Watch stream, iterated as kcore `Event`s."""

    def __init__(self, store: EtcdStore, create: Any, revision: int) -> None:
        self._store = store
        self._create = create
        self._revision = revision
        self._call: Any = None
        self._pending: deque[Event] = deque()
        self._closed = False

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            await self._fill()
        return self._pending.popleft()

    async def _fill(self) -> None:
        if self._call is None:
            self._call = self._store._open_stream()
            await self._guard(self._call.write(self._create))
        response = await self._guard(self._call.read())
        if response is grpc.aio.EOF:
            self._finish()
            raise WatchTerminatedError("etcd closed the watch stream; watch again")
        if response.canceled:
            self._finish()
            raise self._cancelled(response)
        self._pending.extend(self._translate(event) for event in response.events)

    async def _guard(self, step: Awaitable[T]) -> T:
        """Await a stream step; a local close turns into the end of iteration."""
        try:
            return await step
        except asyncio.CancelledError:
            if self._closed and not _task_cancelled():
                raise StopAsyncIteration from None
            raise
        except grpc.aio.AioRpcError as error:
            closed_here = self._closed
            self._finish()
            if closed_here:
                raise StopAsyncIteration from None
            detail = f"etcd watch lost: {error.code().name}: {error.details()}; watch again"
            raise WatchTerminatedError(detail) from error

    def _cancelled(self, response: Any) -> StorageError:
        if response.compact_revision:
            return CompactedError(self._revision, int(response.compact_revision))
        return StorageError(f"etcd cancelled the watch: {response.cancel_reason}")

    def _translate(self, event: Any) -> Event:
        prev = self._store._kv_from(event.prev_kv) if event.HasField("prev_kv") else None
        kv = self._store._kv_from(event.kv)
        if event.type == _EVENT_DELETE:
            value, created = (prev.value, prev.create_revision) if prev else (b"", 0)
            return Event("DELETED", KeyValue(kv.key, value, created, kv.mod_revision), prev)
        kind: EventType = "ADDED" if kv.create_revision == kv.mod_revision else "MODIFIED"
        return Event(kind, kv, None if kind == "ADDED" else prev)

    def _finish(self) -> None:
        self._closed = True
        self._store._forget(self)
        if self._call is not None:
            self._call.cancel()

    async def close(self) -> None:
        self._finish()
        self._pending.clear()
