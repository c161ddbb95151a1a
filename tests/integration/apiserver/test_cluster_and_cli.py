"""kcore.Cluster (the in-process control plane) and `kcore apiserver` modes."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from apiserver_support import start_server, stop_server

import kcore
from kcore.api.codec import from_dict
from kcore.api.core import ConfigMap, Namespace

pytestmark = pytest.mark.timeout(120)


async def test_cluster_hands_back_a_ready_client(tmp_path: Path) -> None:
    async with kcore.Cluster(data_dir=tmp_path / "data") as cluster:
        namespaces = await cluster.client.list(Namespace)
        names = {n.metadata.name for n in namespaces.items}
        assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
        cm = from_dict(ConfigMap, {"metadata": {"name": "c", "namespace": "default"},
                                   "data": {"a": "1"}})  # fmt: skip
        await cluster.client.create(cm)
        async with cluster.new_client(wire="msgpack") as packed:
            got = await packed.get(ConfigMap, "c", namespace="default")
        assert got.data == {"a": "1"}
        assert cluster.url.startswith("https://127.0.0.1:")
        proc = await asyncio.create_subprocess_exec(
            "kubectl", f"--kubeconfig={cluster.kubeconfig}", f"--cache-dir={tmp_path}/c",
            "get", "cm", "c", "-o", "json", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={**os.environ, "HOME": str(tmp_path)},
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err
        assert json.loads(out)["data"] == {"a": "1"}
    assert (tmp_path / "data" / "admin.kubeconfig").exists()
    with pytest.raises(RuntimeError):
        _ = cluster.client


def test_insecure_http_mode_still_requires_a_token(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--store", "memory", "--insecure-http")
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url + "/version") as resp:
            assert json.load(resp)["minor"] == "32"
        auth = {"Authorization": f"Bearer {server.token}"}
        req = urllib.request.Request(server.url + "/api/v1/namespaces", headers=auth)
        with urllib.request.urlopen(req) as resp:
            body: Any = json.load(resp)
        assert body["kind"] == "NamespaceList"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.url + "/api/v1/namespaces")
        assert info.value.code == 401
    finally:
        assert stop_server(server) == 0
