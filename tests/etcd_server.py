"""Start and stop a throwaway single-member etcd (Debian's etcd-server) on loopback ports.

Shared by tests/conftest.py (the `etcd_endpoint` fixture) and benchmarks/conftest.py, so both
run against the same real server the same way. The data dir is a fresh temp dir; etcd keeps its
default fsync-before-ack behaviour, so benchmarks measure durable writes.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ETCD_BINARY = "/usr/bin/etcd"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class EtcdServer:
    """A running etcd: `endpoint` is "127.0.0.1:PORT" for gRPC clients."""

    process: subprocess.Popen[bytes]
    client_port: int
    data_dir: Path

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _command(data_dir: Path, client: int, peer: int) -> list[str]:
    client_url = f"http://127.0.0.1:{client}"
    peer_url = f"http://127.0.0.1:{peer}"
    return [
        ETCD_BINARY,
        "--name=default",
        f"--data-dir={data_dir / 'data'}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=default={peer_url}",
        "--initial-cluster-state=new",
        "--log-level=warn",
        "--logger=zap",
    ]


def _healthy(client_port: int) -> bool:
    url = f"http://127.0.0.1:{client_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return b'"true"' in response.read()
    except OSError:
        return False


def _wait_healthy(server: EtcdServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = (server.data_dir / "etcd.log").read_text(errors="replace")
            raise RuntimeError(f"etcd exited with {server.process.returncode}:\n{log[-4000:]}")
        if _healthy(server.client_port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"etcd on port {server.client_port} not healthy after {START_TIMEOUT}s")


def start_etcd(data_dir: Path | None = None) -> EtcdServer:
    """Start etcd and wait until /health answers; raise if the binary is missing.

    Pass the `data_dir` of a stopped server to restart it on the same data (new ports)."""
    if not Path(ETCD_BINARY).exists():
        raise RuntimeError(f"{ETCD_BINARY} not found: install Debian's etcd-server")
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="kcore-etcd-"))
    client, peer = _free_ports(2)
    log = (data_dir / "etcd.log").open("ab")
    process = subprocess.Popen(
        _command(data_dir, client, peer), stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    server = EtcdServer(process, client, data_dir)
    try:
        _wait_healthy(server)
    except BaseException:
        stop_etcd(server)
        raise
    return server


def kill_etcd(server: EtcdServer) -> None:
    """SIGKILL the process (a crash: no chance to flush anything) and reap it; keep the data."""
    server.process.kill()
    server.process.wait()


def stop_etcd(server: EtcdServer) -> None:
    """Terminate (then kill) the process and remove its data dir."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill_etcd(server)
    shutil.rmtree(server.data_dir, ignore_errors=True)


@contextlib.contextmanager
def running_etcd(attempts: int = 3) -> Iterator[EtcdServer]:
    """A running etcd for the block; retries start-up in case a picked port was taken."""
    for attempt in range(attempts):
        try:
            server = start_etcd()
            break
        except RuntimeError:
            if attempt == attempts - 1 or not Path(ETCD_BINARY).exists():
                raise
    try:
        yield server
    finally:
        stop_etcd(server)
