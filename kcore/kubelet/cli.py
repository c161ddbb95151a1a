"""`kcore kubelet`: argument parsing and the process loop of a stand-alone kubelet.

`kcore/cli.py` calls `add_parser(subparsers)` and, for the `kubelet` command, `run(args)`;
for `kcore up` it adds `add_up_arguments(parser)` and enters `embedded(kubeconfig, ...)`,
which runs N kubelets (nodes kcore-node-1..N, node IPs 127.0.1.1..) in the same process on
one shared client. A kubelet stops on SIGINT/SIGTERM and leaves its containers running for
the next one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from kcore.client import Client
from kcore.kubelet.agent import Kubelet
from kcore.kubelet.config import KubeletConfig
from kcore.kubelet.podfeed import PodFeed


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("kubelet", help="run a kubelet (node agent) on Docker")
    p.add_argument("--kubeconfig", type=Path, required=True, help="credentials for the API")
    p.add_argument("--node-name", default=socket.gethostname().lower())
    p.add_argument("--node-ip", default="127.0.1.1", help="a loopback address (127.0.1.N)")
    p.add_argument("--port", type=int, default=10250, help="0: any free port")
    p.add_argument("--data-dir", type=Path, default=None, help="default ~/.kcore/kubelet-NODE")
    p.add_argument("--runtime", choices=["docker", "fake"], default="docker")
    p.add_argument("--manifest-dir", type=Path, default=None, help="static pod manifests")
    p.add_argument("--manifest-url", default="", help="a URL of static pod manifests (polled)")
    p.add_argument(
        "--crash-backoff-base",
        type=float,
        default=10.0,
        help="seconds before the second restart of a crashing container (doubling to 5 min)",
    )
    p.add_argument("--insecure-http", action="store_true", help="serve plain HTTP")
    p.add_argument("-v", "--verbose", action="store_true")


def add_up_arguments(parser: argparse.ArgumentParser) -> None:
    """`kcore up` options for its embedded kubelets."""
    parser.add_argument("--nodes", type=int, default=1, help="kubelets to run (0: none)")
    parser.add_argument("--runtime", choices=["docker", "fake"], default="docker")


def node_ip(index: int) -> str:
    """127.0.1.1 for node 1, counting up through 127.0.x.y (never .0 or .255)."""
    base = int(ipaddress.IPv4Address("127.0.1.0"))
    offset = index - 1
    return str(ipaddress.IPv4Address(base + (offset // 254) * 256 + offset % 254 + 1))


def node_name(index: int) -> str:
    """The name of `kcore up`'s node `index` (1-based)."""
    return f"kcore-node-{index}"


@contextlib.asynccontextmanager
async def embedded(
    kubeconfig: Path, data_dir: Path, *, nodes: int = 1, runtime: str = "docker"
) -> AsyncIterator[list[Kubelet]]:
    """Kubelets kcore-node-1..N in this process until the block exits."""
    log = logging.getLogger(__name__)
    kubelets: list[Kubelet] = []
    client = Client.from_kubeconfig(
        kubeconfig, user_agent="kcore-kubelet", max_connections=2 * nodes + 20
    )
    async with client:
        feed = PodFeed(client)
        await feed.start()
        for first in range(1, nodes + 1, 100):
            batch = [
                Kubelet(_embedded_config(data_dir, i, runtime), client, feed=feed)
                for i in range(first, min(first + 100, nodes + 1))
            ]
            results = await asyncio.gather(*(k.start() for k in batch), return_exceptions=True)
            kubelets.extend(k for k, r in zip(batch, results, strict=True) if r is None)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:  # the control plane still serves without (some) nodes
                log.error("%d embedded kubelets could not start: %s", len(failed), failed[0])
                break
        try:
            yield kubelets
        finally:
            await asyncio.gather(*(k.stop() for k in kubelets), return_exceptions=True)
            await feed.stop()


def _embedded_config(data_dir: Path, index: int, runtime: str) -> KubeletConfig:
    name = node_name(index)
    return KubeletConfig(
        node_name=name,
        node_ip=node_ip(index),
        port=0,
        data_dir=data_dir / "kubelet" / name,
        runtime=runtime,
    )


def config_from(args: argparse.Namespace) -> KubeletConfig:
    data_dir = args.data_dir or Path.home() / ".kcore" / f"kubelet-{args.node_name}"
    return KubeletConfig(
        node_name=args.node_name,
        node_ip=args.node_ip,
        port=args.port,
        data_dir=Path(data_dir).resolve(),
        runtime=args.runtime,
        manifest_dir=args.manifest_dir,
        manifest_url=args.manifest_url,
        crash_backoff_base=args.crash_backoff_base,
        tls=not args.insecure_http,
    )


async def run(args: argparse.Namespace) -> int:
    cfg = config_from(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Client.from_kubeconfig(args.kubeconfig, user_agent="kcore-kubelet") as client:
        kubelet = Kubelet(cfg, client)
        await kubelet.start()
        print(
            f"kcore kubelet {cfg.node_name} serving on {cfg.node_ip}:{kubelet.port}",
            file=sys.stderr,
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await kubelet.stop()
    return 0
