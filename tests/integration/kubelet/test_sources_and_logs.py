"""Static pods (manifest dir, manifest URL, HTTP), mirror pods, `kubectl logs -f`, hollow mode."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import aiohttp
from aiohttp import web
from kubelet_support import StartKubelet, bind_to, busybox, simple_pod, wait_for

import kcore
from kcore.api.core import Pod
from kcore.api.errors import StatusError
from kcore.kubelet.sources import CONFIG_MIRROR

MANIFEST = """
apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels: {app: static}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: kcore-test/busybox:1
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo $VERSION; sleep 3600"]
    env: [{name: VERSION, value: "%s"}]
"""


def running(pod: Pod) -> bool:
    return pod.status.phase == "Running"


async def test_static_pod_from_manifest_dir_appears_as_mirror_pod(
    cluster: kcore.Cluster, start_kubelet: StartKubelet, tmp_path: Path
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "web.yaml").write_text(MANIFEST % "one")
    kubelet = await start_kubelet(manifest_dir=manifests, file_check_period=0.2)
    name = f"static-web-{kubelet.config.node_name}"
    mirror = await wait_for(cluster.client, name, running)
    assert CONFIG_MIRROR in mirror.metadata.annotations
    assert mirror.spec.node_name == kubelet.config.node_name
    assert [o.kind for o in mirror.metadata.owner_references] == ["Node"]
    first_hash = mirror.metadata.annotations[CONFIG_MIRROR]

    (manifests / "web.yaml").write_text(MANIFEST % "two")  # an edit is a new pod
    changed = await wait_for(
        cluster.client,
        name,
        lambda p: (
            p.metadata.annotations.get(CONFIG_MIRROR, first_hash) != first_hash and running(p)
        ),
    )
    for _ in range(50):
        log = await cluster.client.logs(name, namespace="default")
        if log:
            break
        await asyncio.sleep(0.1)
    assert log.strip() == "two"
    assert changed.status.container_statuses[0].ready

    # a deleted mirror pod comes back while its manifest is there; the static pod keeps running
    before = changed.status.container_statuses[0].container_id
    await cluster.client.delete(Pod, name, namespace="default")
    back = await wait_for(
        cluster.client,
        name,
        lambda p: p.metadata.uid != changed.metadata.uid and not p.metadata.deletion_timestamp,
    )
    assert back.metadata.annotations[CONFIG_MIRROR] == changed.metadata.annotations[CONFIG_MIRROR]
    again = await wait_for(cluster.client, name, running)
    assert again.status.container_statuses[0].container_id == before

    (manifests / "web.yaml").unlink()  # gone from the dir: gone from the node and the API
    for _ in range(200):
        try:
            await cluster.client.get(Pod, name, namespace="default")
        except StatusError as e:
            assert e.code == 404
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("mirror pod was not removed")


async def test_manifest_url_and_http_posted_pods(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    served = {"text": MANIFEST % "url"}

    async def manifest(_: web.Request) -> web.Response:
        return web.Response(text=served["text"])

    app = web.Application()
    app.router.add_get("/pods.yaml", manifest)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        kubelet = await start_kubelet(
            manifest_url=f"http://127.0.0.1:{port}/pods.yaml",
            manifest_url_period=0.5,
            tls=False,
        )
        node = kubelet.config.node_name
        await wait_for(cluster.client, f"static-web-{node}", running)
        posted = (MANIFEST % "posted").replace("static-web", "posted-web")
        base = f"http://{kubelet.config.node_ip}:{kubelet.port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/pods", data=posted) as resp:
                assert resp.status == 201
            await wait_for(cluster.client, f"posted-web-{node}", running)
            async with http.get(f"{base}/pods") as resp:
                names = {p["metadata"]["name"] for p in (await resp.json())["items"]}
            assert names == {f"static-web-{node}", f"posted-web-{node}"}
            async with http.delete(f"{base}/pods/default/posted-web-{node}") as resp:
                assert resp.status == 200
        served["text"] = ""  # the URL now lists no pods: the static one goes too
        for _ in range(300):
            pods = await cluster.client.list(Pod, namespace="default")
            if not pods.items and not kubelet.workers:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"pods were not removed: {[p.metadata.name for p in pods.items]}")
    finally:
        await runner.cleanup()


async def test_kubectl_logs_follow(cluster: kcore.Cluster, start_kubelet: StartKubelet) -> None:
    kubelet = await start_kubelet()
    ticker = busybox(
        "ticker", "sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done"
    )
    pod = simple_pod("ticker", ticker, termination_grace_period_seconds=1)
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    await wait_for(cluster.client, "ticker", running)
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    proc = await asyncio.create_subprocess_exec(
        "kubectl",
        "logs",
        "-f",
        "ticker",
        "--tail=1",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines = []
    try:
        assert proc.stdout is not None
        for _ in range(4):
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            lines.append(line.decode().strip())
    finally:
        proc.kill()
        await proc.wait()
    numbers = [int(line.split()[1]) for line in lines]
    assert all(line.startswith("tick ") for line in lines)
    assert numbers == list(range(numbers[0], numbers[0] + 4))  # followed as they came
    plain = await asyncio.create_subprocess_exec(
        "kubectl",
        "logs",
        "ticker",
        "--tail=2",
        "--timestamps",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await plain.communicate()
    assert plain.returncode == 0, stderr.decode()
    out = stdout.decode().splitlines()
    assert len(out) == 2 and all(" tick " in line and line[:4].isdigit() for line in out)


async def test_hollow_node_runs_pods_without_containers(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet(runtime="fake")
    for i in range(5):
        pod = simple_pod(f"hollow-{i}", busybox("c", "sleep", "1"))
        await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    for i in range(5):
        got = await wait_for(cluster.client, f"hollow-{i}", running)
        assert got.status.container_statuses[0].ready
        assert got.status.container_statuses[0].container_id.startswith("fake://")


async def test_exec_over_the_channel_websocket(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet()
    pod = simple_pod("shell", busybox("sh", "sleep", "3600"), termination_grace_period_seconds=1)
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    await wait_for(cluster.client, "shell", running)
    base = f"https://{kubelet.config.node_ip}:{kubelet.port}/exec/default/shell/sh"

    async def run(*command: str) -> dict[int, bytes]:
        query = [("command", c) for c in command] + [("stdout", "1"), ("stderr", "1")]
        got: dict[int, bytes] = {}
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(base, params=query, protocols=("v5.channel.k8s.io",), ssl=False) as ws,
        ):
            assert ws.protocol == "v5.channel.k8s.io"
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]
        return got

    ok = await run("sh", "-c", "echo out $POD_IP; echo err >&2")
    assert ok[1].decode().split()[0] == "out" and ok[2] == b"err\n"
    assert json.loads(ok[3])["status"] == "Success"
    failed = await run("sh", "-c", "exit 4")
    status = json.loads(failed[3])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"][0]["message"] == "4"
    # stdin: what the client sends reaches the command; closing stdin (v5) ends `cat`
    query = [("command", "cat"), ("stdin", "1"), ("stdout", "1")]
    echoed = b""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(base, params=query, protocols=("v5.channel.k8s.io",), ssl=False) as ws,
    ):
        await ws.send_bytes(b"\x00hello kubelet\n")
        await ws.send_bytes(b"\x04" + json.dumps({"Width": 100, "Height": 30}).encode())
        await ws.send_bytes(b"\xff\x00")
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY and msg.data[0] == 1:
                echoed += msg.data[1:]
            elif msg.type == aiohttp.WSMsgType.BINARY and msg.data[0] == 3:
                assert json.loads(msg.data[1:])["status"] == "Success"
    assert echoed == b"hello kubelet\n"
    async with aiohttp.ClientSession() as http:
        missing = base.replace("/shell/", "/nope/")
        async with http.get(missing, params={"command": "true"}, ssl=False) as resp:
            assert resp.status == 404


async def test_embedded_hollow_kubelets_share_one_pod_feed(
    cluster: kcore.Cluster, tmp_path: Path
) -> None:
    from kcore.kubelet import cli as kubelet_cli

    async with kubelet_cli.embedded(
        cluster.kubeconfig, tmp_path, nodes=3, runtime="fake"
    ) as kubelets:
        assert [k.config.node_name for k in kubelets] == [f"kcore-node-{i}" for i in (1, 2, 3)]
        assert [k.config.node_ip for k in kubelets] == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
        for i in (1, 2, 3):
            pod = simple_pod(f"on-{i}", busybox("c", "sleep", "1"))
            await cluster.client.create(bind_to(pod, f"kcore-node-{i}"))
        for i in (1, 2, 3):
            got = await wait_for(cluster.client, f"on-{i}", running)
            assert got.status.host_ip == f"127.0.1.{i}"
        assert [len(k.workers) for k in kubelets] == [1, 1, 1]
        await cluster.client.delete(Pod, "on-2", namespace="default")
        for _ in range(100):
            if not kubelets[1].workers:
                break
            await asyncio.sleep(0.05)
        assert [len(k.workers) for k in kubelets] == [1, 0, 1]
    for i in (1, 3):
        await cluster.client.delete(Pod, f"on-{i}", namespace="default", grace_period_seconds=0)
