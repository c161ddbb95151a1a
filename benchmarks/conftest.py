"""Benchmark fixtures: a real etcd (the same launcher the tests use) and an event loop per test.

pytest-benchmark's `benchmark` fixture is synchronous, so benchmarks drive their async code
through `run` (one loop per test) instead of pytest-asyncio. Figures that pytest-benchmark's
table cannot show (creates/s, events/s, p99 latency, sqlite/etcd ratio) go into
`benchmark.extra_info` and are repeated in a short summary at the end of the run.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from etcd_server import running_etcd
from figures import FIGURES

SUMMARY = FIGURES  # the same dict, for benchmarks that import it from here


@pytest.fixture(scope="session")
def etcd_endpoint() -> Iterator[str]:
    with running_etcd() as server:
        yield server.endpoint


@pytest.fixture
def run() -> Iterator[Callable[[Awaitable[Any]], Any]]:
    """Run a coroutine to completion on this test's own event loop."""
    loop = asyncio.new_event_loop()
    try:
        yield loop.run_until_complete
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("figures")
    for name, figures in FIGURES.items():
        shown = ", ".join(f"{key}={value}" for key, value in figures.items())
        terminalreporter.write_line(f"{name}: {shown}")
