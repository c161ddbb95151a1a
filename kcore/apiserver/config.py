"""Settings of one API server instance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 6443  # 0: pick a free port
    tls_cert: Path | None = None  # None with tls_key None: plain HTTP
    tls_key: Path | None = None
    max_in_flight: int = 400
    watch_timeout: float = 1800.0  # default watch length, randomised up to 2x
    bookmark_interval: float = 60.0
    watch_cache_capacity: int = 10_000  # events kept per resource for watches
    default_namespaces: tuple[str, ...] = (
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
    )
