"""Fixtures every test can use: a real etcd, and leak checks for child processes and tasks.

`etcd_endpoint` starts one Debian etcd-server per session (tests share it and keep apart by
key prefix); it fails, never skips, when etcd is missing, because ci/test installs it.

Every test is checked for leaks: a child process still running after the test's teardown, or
(for async tests) a task still pending, fails the test and is killed/cancelled. Processes that
a session- or module-scoped fixture starts are exempt, as those outlive the test on purpose.
Mark a test `allow_leaks` to opt out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from etcd_server import running_etcd

_fixture_children: set[int] = set()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_leaks: skip the child-process and task leak checks")


@pytest.fixture(scope="session")
def etcd_endpoint() -> Iterator[str]:
    """A healthy etcd for the whole session, as "127.0.0.1:PORT"."""
    with running_etcd() as server:
        yield server.endpoint


def _live_children() -> set[int]:
    """Pids of this process's children that have not exited (zombies do not count)."""
    me, found = os.getpid(), set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == me and state != "Z":
            found.add(int(entry.name))
    return found


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[object], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Remember processes started by fixtures wider than one test: they are not leaks."""
    if fixturedef.scope == "function":
        return (yield)
    before = _live_children()
    try:
        return (yield)
    finally:
        _fixture_children.update(_live_children() - before)


def _leaked_children(before: set[int]) -> set[int]:
    deadline = time.monotonic() + 2.0
    while True:
        leaked = _live_children() - before - _fixture_children
        if not leaked or time.monotonic() > deadline:
            return leaked
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves child processes running (or, if async, tasks pending)."""
    if request.node.get_closest_marker("allow_leaks"):
        yield
        return
    if asyncio.iscoroutinefunction(getattr(request, "function", None)):
        request.getfixturevalue("_no_leaked_tasks")
    before = _live_children()
    yield
    leaked = _leaked_children(before)
    for pid in leaked:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if leaked:
        pytest.fail(f"test left child processes running: {sorted(leaked)}")


@pytest.fixture
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Set up before the test's other async fixtures, so it checks after their teardown."""
    before = asyncio.all_tasks()
    yield
    for _ in range(3):
        await asyncio.sleep(0)
    current = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
    for task in leaked:
        task.cancel()
    if leaked:
        pytest.fail(f"test left tasks pending: {leaked}")
