"""Fixtures for the proxy tests: real loopback backends and a proxy that must not leak.

The `proxy` fixture fails the test if worker threads or file descriptors outlive it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from proxy_testing import Backend, Behaviour, echo, open_fds

from kcore.proxy import Proxy


@pytest.fixture
def backends() -> Iterator[Callable[..., Backend]]:
    made: list[Backend] = []

    def make(behaviour: Behaviour = echo, **kw: str) -> Backend:
        made.append(Backend(behaviour, **kw))
        return made[-1]

    yield make
    for b in made:
        b.close()


@pytest.fixture
def proxy_factory() -> Iterator[Callable[..., Proxy]]:
    before = open_fds()
    made: list[Proxy] = []

    def make(**kw: float | str) -> Proxy:
        made.append(Proxy(workers=2, **kw).start())  # type: ignore[arg-type]
        return made[-1]

    yield make
    for p in made:
        p.stop()
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("kcore-proxy")]
    assert not leaked, f"proxy threads leaked: {leaked}"
    assert open_fds() <= before, "proxy leaked file descriptors"


@pytest.fixture
def proxy(proxy_factory: Callable[..., Proxy]) -> Proxy:
    return proxy_factory()
