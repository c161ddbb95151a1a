"""`kcore kubelet`: argument parsing and the process loop of a stand-alone kubelet.

`kcore/cli.py` calls `add_parser(subparsers)` and, for the `kubelet` command, `run(args)`.
The kubelet stops on SIGINT/SIGTERM and leaves its containers running for the next one.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from pathlib import Path

from kcore.client import Client
from kcore.kubelet.agent import Kubelet
from kcore.kubelet.config import KubeletConfig


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
