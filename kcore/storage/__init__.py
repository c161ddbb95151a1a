"""Revisioned key-value storage with watches: the Store contract (interface), its backends
(memory, sqlite, etcd) and the watch cache; `open_store(url)` picks a backend by URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from kcore.storage.interface import Store

__all__ = ["Store", "open_store"]


async def open_store(url: str) -> Store:
    """Open a store: "memory://", "sqlite:///abs/path/state.db" (or a plain path), or
    "etcd://HOST:PORT[/prefix]". The etcd backend is imported only when asked for."""
    if url.startswith("memory:"):
        from kcore.storage.memory import MemoryStore

        return MemoryStore()
    if url.startswith("etcd://"):
        return await _open_etcd(url)
    if url.startswith("sqlite://"):
        url = url.removeprefix("sqlite://")
    elif "://" in url:
        raise ValueError(f"unknown store URL {url!r}")
    if not url:
        raise ValueError("sqlite store URL needs a path")
    from kcore.storage.sqlite import SqliteStore

    return await SqliteStore.open(url)


async def _open_etcd(url: str) -> Store:
    from kcore.storage.etcd import EtcdStore

    parts = urlsplit(url)
    if parts.hostname is None:
        raise ValueError(f"etcd URL without a host: {url!r}")
    store: Store = await EtcdStore.open(
        parts.hostname, parts.port or 2379, prefix=parts.path.rstrip("/")
    )
    return store
