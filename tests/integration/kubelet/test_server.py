"""The kubelet's HTTP server on a hollow kubelet: health, pod list, errors of logs and manifests."""

from __future__ import annotations

import aiohttp
from kubelet_support import StartKubelet, bind_to, busybox, simple_pod, wait_for

import kcore


async def test_server_routes_and_errors(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet(runtime="fake", tls=False)
    pod = simple_pod("h", busybox("c", "sleep", "1"))
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    await wait_for(cluster.client, "h", lambda p: p.status.phase == "Running")
    base = f"http://{kubelet.config.node_ip}:{kubelet.port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200 and await resp.text() == "ok"
        async with http.get(f"{base}/pods") as resp:
            body = await resp.json()
            assert body["kind"] == "PodList"
            assert [p["metadata"]["name"] for p in body["items"]] == ["h"]
        async with http.get(f"{base}/containerLogs/default/nope/c") as resp:
            assert resp.status == 404 and "not on this node" in await resp.text()
        async with http.get(f"{base}/containerLogs/default/h/other") as resp:
            assert resp.status == 400
        async with http.get(f"{base}/containerLogs/default/h/c", params={"previous": "true"}) as r:
            assert r.status == 400 and "previous terminated" in await r.text()
        async with http.get(f"{base}/containerLogs/default/h/c", params={"tailLines": "x"}) as r:
            assert r.status == 400
        async with http.get(f"{base}/containerLogs/default/h/c") as resp:
            assert resp.status == 200 and await resp.read() == b""
        async with http.post(f"{base}/pods", data="kind: Service\nmetadata: {name: s}\n") as r:
            assert r.status == 400 and "invalid pod manifest" in await r.text()
        async with http.delete(f"{base}/pods/default/never-posted") as resp:
            assert resp.status == 404
        async with http.get(f"{base}/exec/default/h/c") as resp:
            assert resp.status == 400  # no command
