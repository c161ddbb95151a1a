"""`kcore up` schedules: a simulated node and a Deployment applied with kubectl end up as
bound pods with Scheduled events, and a pod that fits nowhere shows FailedScheduling. The
pods select the simulated node, so none runs on the kubelet that `kcore up` also starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(180)]

OBJECTS = """
apiVersion: v1
kind: Node
metadata: {name: sim-1, labels: {kubernetes.io/hostname: sim-1}}
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {kubernetes.io/hostname: sim-1}
      containers: [{name: c, image: busybox, resources: {requests: {cpu: 500m}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: too-big, namespace: default}
spec:
  nodeSelector: {kubernetes.io/hostname: sim-1}
  containers: [{name: c, image: busybox, resources: {requests: {cpu: "16"}}}]
"""


def kubectl(kubeconfig: Path, home: Path, *args: str, stdin: str | None = None) -> str:
    res = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", f"--cache-dir={home}/cache", *args],
        input=stdin, capture_output=True, text=True, env={**os.environ, "HOME": str(home)},
        timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout


def _pods(kubeconfig: Path, home: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    items = json.loads(kubectl(kubeconfig, home, "get", "pods", "-o", "json"))["items"]
    return {p["metadata"]["name"]: p for p in items}


def _events(kubeconfig: Path, home: Path) -> list[tuple[str, str, str]]:
    items = json.loads(kubectl(kubeconfig, home, "get", "events", "-o", "json"))["items"]
    return [(e["reason"], e["involvedObject"]["name"], e.get("message", "")) for e in items]


def _until(check, within: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_kcore_up_binds_pods_and_reports_misfits(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "kcore.cli", "up", "--data-dir", str(tmp_path / "data")]
    cmd += ["--port", "0", "--store", "memory"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("export KUBECONFIG="), line
        kubeconfig = Path(line.strip().split("=", 1)[1])
        kubectl(kubeconfig, tmp_path, "apply", "-f", "-", stdin=OBJECTS)

        def web_bound() -> list[str]:
            pods = _pods(kubeconfig, tmp_path)
            nodes = [p["spec"].get("nodeName", "") for n, p in pods.items() if n.startswith("web-")]
            return nodes if len(nodes) == 3 and all(nodes) else []

        assert _until(web_bound) == ["sim-1"] * 3
        events = _until(
            lambda: [e for e in _events(kubeconfig, tmp_path) if e[0] == "FailedScheduling"]
        )
        assert events and events[0][1] == "too-big"
        # kcore up also runs its own kubelet's node, which the selector rules out
        assert events[0][2].startswith("0/2 nodes are available: 1 Insufficient cpu, ")
        assert "1 node(s) didn't match Pod's node affinity/selector." in events[0][2]
        scheduled = [e for e in _events(kubeconfig, tmp_path) if e[0] == "Scheduled"]
        assert len(scheduled) == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
