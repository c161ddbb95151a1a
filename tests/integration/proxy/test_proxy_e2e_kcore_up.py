"""`kcore up` as a user runs it: its own proxy serves a NodePort Service of pods its own kubelet
started, all applied with kubectl.

The subprocess gets a temp data dir, the memory store and a free API port. The Service takes
a ClusterIP and a nodePort picked at random (other clusters may run on this machine at the
same time; `kcore up`'s allocator would count up from the same first addresses), and the
Deployment a unique name, by which its containers are found for the final check.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxy_e2e_helpers import IMAGE, NODE_IP, containers_of, fetch, until

pytestmark = [pytest.mark.docker, pytest.mark.kubectl, pytest.mark.slow, pytest.mark.timeout(180)]
NODE = "kcore-node-1"  # `kcore up`'s first kubelet


def manifests(name: str, cluster_ip: str, node_port: int) -> str:
    script = (
        'mkdir -p /www && echo "$POD_NAME" > /www/index.html && '
        "exec httpd -f -p $POD_IP:8080 -h /www"
    )
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: {IMAGE}
        imagePullPolicy: Never
        command: [sh, -c, {json.dumps(script)}]
        env: [{{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}]
        ports: [{{name: http, containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /index.html, port: http}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  type: NodePort
  clusterIP: {cluster_ip}
  selector: {{app: {name}}}
  ports: [{{name: http, port: 80, targetPort: http, nodePort: {node_port}}}]
"""


class Up:
    """A `kcore up` subprocess and kubectl pointed at it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        cmd = [sys.executable, "-m", "kcore.cli", "up", "--data-dir", str(tmp / "data")]
        cmd += ["--port", "0", "--store", "memory"]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("export KUBECONFIG="), line
        self.kubeconfig = line.strip().split("=", 1)[1]

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        res = subprocess.run(
            ["kubectl", f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.tmp}/cache", *args],
            input=stdin, capture_output=True, text=True, timeout=60,
            env={**os.environ, "HOME": str(self.tmp)},
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        return res.stdout

    def get(self, *args: str) -> Any:
        """The object as JSON; {} while it does not exist."""
        out = self.kubectl("get", *args, "-o", "json", "--ignore-not-found")
        return json.loads(out) if out.strip() else {}

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    running = Up(tmp_path)
    try:
        yield running
    finally:
        assert running.stop() == 0


def _containers(name: str) -> list[Any]:
    return [c for c in containers_of(NODE) if c.pod.startswith(name)]


def test_kcore_up_serves_a_node_port_service_of_its_pods(up: Up) -> None:
    rng = random.Random()
    name = f"proxy-up-{uuid.uuid4().hex[:6]}"
    cluster_ip = f"127.{rng.randrange(33, 48)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    node_port = rng.randrange(30000, 32768)
    up.kubectl("apply", "-f", "-", stdin=manifests(name, cluster_ip, node_port))
    try:

        def ready_pods() -> set[str]:
            eps = up.get("endpoints", name)
            subsets = eps.get("subsets") or []
            names = {a["targetRef"]["name"] for s in subsets for a in s.get("addresses") or []}
            return names if len(names) == 2 else set()

        pods = until(ready_pods, within=90, what="2 ready pods in the Endpoints")
        svc = up.get("service", name)
        assert svc["spec"]["clusterIP"] == cluster_ip
        assert svc["spec"]["ports"][0]["nodePort"] == node_port

        def answers(host: str, port: int) -> set[str]:
            try:
                return {fetch(host, port) for _ in range(6)}
            except OSError:  # the proxy has not caught up with the Endpoints yet
                return set()

        until(lambda: answers(cluster_ip, 80) == pods, within=30, what="both pods answer")
        assert answers(NODE_IP, node_port) == pods
    finally:
        up.kubectl("delete", "deployment", name)
        until(lambda: not _containers(name), within=60, what="no container left behind")
