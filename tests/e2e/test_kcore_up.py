"""`kcore up` end to end: a subprocess with the default SQLite store in a data dir, driven by
real kubectl; stopped with SIGTERM and restarted, it resumes the same cluster (same CA and
token, same objects, resourceVersions moving forward)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(180)]

CM = """
apiVersion: v1
kind: ConfigMap
metadata: {name: survivor, namespace: default}
data: {a: "1"}
"""


def start(data_dir: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kcore.cli", "up", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("export KUBECONFIG="), line
    return proc, Path(line.strip().split("=", 1)[1])


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def kubectl(kubeconfig: Path, home: Path, *args: str, stdin: str | None = None) -> str:
    res = subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", f"--cache-dir={home}/cache", *args],
        input=stdin, capture_output=True, text=True, env={**os.environ, "HOME": str(home)},
        timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_up_survives_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, kubeconfig = start(data)
    try:
        assert kubeconfig == data / "admin.kubeconfig"
        assert (data / "state.db").exists() and (data / "pki" / "ca.crt").exists()
        kubectl(kubeconfig, tmp_path, "apply", "-f", "-", stdin=CM)
        first = json.loads(kubectl(kubeconfig, tmp_path, "get", "cm", "survivor", "-o", "json"))
        token_before = kubeconfig.read_text().split("token: ")[1].split()[0]
    finally:
        assert stop(proc) == 0
    proc, kubeconfig = start(data)
    try:
        again = json.loads(kubectl(kubeconfig, tmp_path, "get", "cm", "survivor", "-o", "json"))
        assert again["metadata"]["uid"] == first["metadata"]["uid"]
        assert again["data"] == {"a": "1"}
        assert kubeconfig.read_text().split("token: ")[1].split()[0] == token_before
        kubectl(kubeconfig, tmp_path, "label", "cm", "survivor", "after=restart")
        later = json.loads(kubectl(kubeconfig, tmp_path, "get", "cm", "survivor", "-o", "json"))
        rv_before = int(first["metadata"]["resourceVersion"])
        assert int(later["metadata"]["resourceVersion"]) > rv_before
        namespaces = kubectl(kubeconfig, tmp_path, "get", "ns", "-o", "name").split()
        assert "namespace/kube-system" in namespaces
        watch_cmd = ["kubectl", f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp_path}/cache",
                     "get", "cm", "-w"]  # fmt: skip
        env = {**os.environ, "HOME": str(tmp_path)}
        watcher = subprocess.Popen(watch_cmd, stdout=subprocess.PIPE, text=True, env=env)
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split()[0] == "NAME"  # the watch is open
    finally:
        assert stop(proc) == 0  # an open watch does not hold up the shutdown
    watcher.wait(timeout=30)  # kubectl ends once the server has closed the stream
    watcher.stdout.close()
