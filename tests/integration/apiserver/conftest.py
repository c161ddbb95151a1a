"""Fixtures for driving a real kcore API server with real clients.

`apiserver` starts `kcore apiserver` as a subprocess (memory store, free port, HTTPS, fresh
data dir) once per test module; `kubectl` runs the real kubectl against it with a private
cache dir; `ns` gives each test its own namespace. `cluster` is the in-process variant
(kcore.Cluster) for tests that need the store itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import kcore

sys.path.insert(0, str(Path(__file__).parent))

from apiserver_support import ServerProc, start_server, stop_server


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    server = start_server(tmp_path_factory.mktemp("kcore"), "--store", "memory")
    yield server
    stop_server(server)


class Kubectl:
    """Runs the real kubectl against one server, with a private HOME and cache dir."""

    def __init__(self, server: ServerProc, home: Path) -> None:
        self.flags = [f"--kubeconfig={server.kubeconfig}", f"--cache-dir={home / 'cache'}"]
        self.env = {**os.environ, "HOME": str(home)}

    def __call__(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        env_extra: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            ["kubectl", *self.flags, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **(env_extra or {})},
            timeout=timeout,
        )
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {res.stderr}")
        return res

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["kubectl", *self.flags, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )


@pytest.fixture
def kubectl(apiserver: ServerProc, tmp_path: Path) -> Kubectl:
    return Kubectl(apiserver, tmp_path)


@pytest.fixture
def core_api(apiserver: ServerProc) -> Any:
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(str(apiserver.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        yield api


@pytest.fixture
def ns(core_api: Any) -> Iterator[str]:
    from kubernetes import client

    name = f"t-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(core_api).create_namespace({"metadata": {"name": name}})
    yield name
    client.CoreV1Api(core_api).delete_namespace(name)


@pytest.fixture(scope="module", params=["memory", "sqlite", "etcd"])
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend name, or etcd's endpoint (module scope: etcd starts before the
    per-test leak check takes its snapshot of child processes)."""
    if request.param == "etcd":
        return f"etcd://{request.getfixturevalue('etcd_endpoint')}"
    return str(request.param)


@pytest.fixture
async def cluster(backend: str, tmp_path: Path) -> AsyncIterator[Any]:
    """An in-process control plane on each store backend."""
    match backend:
        case "memory":
            store = "memory://"
        case "sqlite":
            store = f"sqlite://{tmp_path / 'state.db'}"
        case _:
            store = f"{backend}/kcore-{uuid.uuid4().hex[:8]}"
    async with kcore.Cluster(store=store) as c:
        yield c


@pytest.fixture
async def small_cluster() -> AsyncIterator[Any]:
    """A cluster whose watch caches keep only 4 events, so old watches expire quickly."""
    async with kcore.Cluster(watch_cache_capacity=4) as c:
        yield c
