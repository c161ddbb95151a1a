"""Start and stop `kcore apiserver` subprocesses; imported by this unique module name (a bare
`from conftest import ...` resolves to whichever conftest was imported last in a full run)."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass
class ServerProc:
    proc: subprocess.Popen[str]
    data_dir: Path
    kubeconfig: Path

    @property
    def config(self) -> dict[str, Any]:
        return dict(yaml.safe_load(self.kubeconfig.read_text()))

    @property
    def url(self) -> str:
        return str(self.config["clusters"][0]["cluster"]["server"])

    @property
    def token(self) -> str:
        return str(self.config["users"][0]["user"]["token"])

    @property
    def ca_cert(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"


def start_server(data_dir: Path, *extra: str) -> ServerProc:
    cmd = [
        sys.executable,
        "-m",
        "kcore.cli",
        "apiserver",
        "--data-dir",
        str(data_dir),
        "--port",
        "0",
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("export KUBECONFIG="):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"kcore apiserver did not start: {line!r}")
    return ServerProc(proc, data_dir, Path(line.strip().split("=", 1)[1]))


def stop_server(server: ServerProc) -> int:
    server.proc.send_signal(signal.SIGTERM)
    try:
        return server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
        raise
