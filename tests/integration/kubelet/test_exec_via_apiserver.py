"""`kubectl exec` (and the official Python client's exec) through the API server's pods/exec
to a real kubelet on real Docker.

Uses the `cluster` and `start_kubelet` fixtures of this folder's conftest (which also fails a
test that leaks containers); the few pod helpers are written out here.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.stream import stream

import kcore
from kcore.api.core import (
    Container,
    DaemonEndpoint,
    Node,
    NodeAddress,
    NodeDaemonEndpoints,
    NodeStatus,
    Pod,
    PodSpec,
)
from kcore.api.meta import ObjectMeta

IMAGE = "kcore-test/busybox:1"

pytestmark = pytest.mark.timeout(180)


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


async def kubectl(cluster: kcore.Cluster, *args: str, stdin: bytes | None = None) -> Run:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        *args,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def sleeper(name: str, node: str) -> Pod:
    container = Container(
        name="main", image=IMAGE, image_pull_policy="IfNotPresent", command=["sleep", "3600"]
    )
    spec = PodSpec(containers=[container], node_name=node, termination_grace_period_seconds=1)
    return Pod(metadata=ObjectMeta(name=name, namespace="default"), spec=spec)


async def wait_running(cluster: kcore.Cluster, name: str) -> None:
    for _ in range(300):
        pod = await cluster.client.get(Pod, name, namespace="default")
        if pod.status is not None and pod.status.phase == "Running":
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"pod {name} never ran")


@pytest.fixture
async def running_pod(cluster: kcore.Cluster, start_kubelet: Callable[..., Awaitable[Any]]) -> str:
    kubelet = await start_kubelet()
    await cluster.client.create(sleeper("shell", kubelet.config.node_name))
    await wait_running(cluster, "shell")
    return "shell"


@pytest.mark.kubectl
async def test_exec_prints_output_and_returns_exit_codes(
    cluster: kcore.Cluster, running_pod: str
) -> None:
    hello = await kubectl(cluster, "exec", running_pod, "--", "echo", "hello")
    assert (hello.code, hello.out) == (0, "hello\n"), hello.err
    both = await kubectl(cluster, "exec", running_pod, "--", "sh", "-c", "echo out; echo err >&2")
    assert (both.code, both.out, both.err) == (0, "out\n", "err\n")
    failing = await kubectl(cluster, "exec", running_pod, "--", "sh", "-c", "exit 3")
    assert failing.code == 3, failing.err


@pytest.mark.kubectl
async def test_exec_passes_stdin(cluster: kcore.Cluster, running_pod: str) -> None:
    data = b"hi\nthere\n" + b"x" * 100_000 + b"\n"
    cat = await kubectl(cluster, "exec", "-i", running_pod, "--", "cat", stdin=data)
    assert cat.code == 0, cat.err
    assert cat.out.encode() == data
    counted = await kubectl(cluster, "exec", "-i", running_pod, "--", "wc", "-l", stdin=b"a\nb\n")
    assert counted.out.strip() == "2"


@pytest.mark.kubectl
async def test_exec_errors_are_statuses(cluster: kcore.Cluster, running_pod: str) -> None:
    missing = await kubectl(cluster, "exec", "nope", "--", "true")
    assert missing.code != 0 and "NotFound" in missing.err and '"nope" not found' in missing.err
    wrong = await kubectl(cluster, "exec", running_pod, "-c", "other", "--", "true")
    assert wrong.code != 0 and "container other is not valid" in wrong.err


@pytest.mark.kubectl
async def test_discovery_advertises_pods_exec(cluster: kcore.Cluster) -> None:
    run = await kubectl(cluster, "get", "--raw", "/api/v1")
    resources = {r["name"]: r for r in json.loads(run.out)["resources"]}
    assert resources["pods/exec"]["kind"] == "PodExecOptions"
    assert sorted(resources["pods/exec"]["verbs"]) == ["create", "get"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.kubectl
async def test_exec_without_a_reachable_kubelet(cluster: kcore.Cluster) -> None:
    status = NodeStatus(
        addresses=[NodeAddress(type="InternalIP", address="127.0.0.1")],
        daemon_endpoints=NodeDaemonEndpoints(kubelet_endpoint=DaemonEndpoint(port=closed_port())),
    )
    await cluster.client.create(Node(metadata=ObjectMeta(name="ghost"), status=status))
    await cluster.client.create(sleeper("stranded", "ghost"))
    gone = await kubectl(cluster, "exec", "stranded", "--", "true")
    assert gone.code != 0 and "ServiceUnavailable" in gone.err and "ghost" in gone.err
    unplaced = sleeper("unplaced", "")
    unplaced.spec.node_selector = {"no-such-label": "x"}
    await cluster.client.create(unplaced)
    pending = await kubectl(cluster, "exec", "unplaced", "--", "true")
    assert pending.code != 0 and "does not have a host assigned" in pending.err


def python_client_exec(kubeconfig: str, pod: str, command: list[str]) -> tuple[str, int]:
    """The official client's websocket exec (v4.channel.k8s.io), its exit code from channel 3."""
    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    resp = stream(
        api.connect_get_namespaced_pod_exec,
        pod,
        "default",
        command=command,
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=30)
    out = resp.read_stdout()
    code = resp.returncode
    resp.close()
    api.api_client.close()
    return out, int(code)


async def test_python_client_exec(cluster: kcore.Cluster, running_pod: str) -> None:
    kubeconfig = str(cluster.kubeconfig)
    out, code = await asyncio.to_thread(
        python_client_exec, kubeconfig, running_pod, ["sh", "-c", "echo from-python; exit 4"]
    )
    assert (out, code) == ("from-python\n", 4)


@pytest.mark.kubectl
async def test_interrupted_exec_leaves_the_server_serving(
    cluster: kcore.Cluster, running_pod: str
) -> None:
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        "exec",
        running_pod,
        "--",
        "sh",
        "-c",
        "echo started; sleep 30",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"started\n"
    proc.kill()
    await proc.wait()
    again = await kubectl(cluster, "exec", running_pod, "--", "echo", "still")
    assert (again.code, again.out) == (0, "still\n"), again.err
