"""`kcore proxy`: the service proxy of one host, run until SIGINT/SIGTERM.

kcore/cli.py hooks it in like the kubelet: `proxy_cli.add_parser(sub)`, then
`uvloop.run(proxy_cli.run(args))` when args.command == "proxy".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from kcore.client import Client
from kcore.proxy.daemon import ProxyServer
from kcore.proxy.datapath import CONGESTION


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("proxy", help="run the service proxy of this host")
    p.add_argument("--kubeconfig", type=Path, required=True, help="credentials for the API")
    p.add_argument(
        "--node-ip",
        action="append",
        default=[],
        help="an address NodePort Services listen on (repeat for several; 127.0.1.N)",
    )
    p.add_argument(
        "--node-name",
        action="append",
        default=[],
        help="a node on this host: its endpoints are local for the Local traffic policies",
    )
    p.add_argument("--workers", type=int, default=0, help="epoll threads (0: one per core)")
    p.add_argument("--metrics-bind", default="127.0.0.1:10249", help="HOST:PORT of /metrics")
    p.add_argument("--idle-timeout", type=float, default=0.0, help="seconds; 0: none")
    p.add_argument(
        "--congestion",
        default=CONGESTION,
        help="TCP congestion control of the loopback sockets ('': the system's)",
    )
    p.add_argument("-v", "--verbose", action="store_true")


async def run(args: argparse.Namespace) -> int:
    host, _, port = args.metrics_bind.rpartition(":")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Client.from_kubeconfig(args.kubeconfig, user_agent="kcore-proxy") as client:
        server = ProxyServer(
            client,
            node_ips=args.node_ip,
            node_names=args.node_name,
            workers=args.workers or None,
            metrics_host=host or "127.0.0.1",
            metrics_port=int(port),
            idle_timeout=args.idle_timeout,
            congestion=args.congestion,
        )
        await server.start()
        print(
            f"kcore proxy: {server.proxy.workers} workers, metrics on "
            f"{host}:{server.metrics_port}/metrics",
            file=sys.stderr,
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await server.stop()
    return 0


@contextlib.asynccontextmanager
async def embedded(
    kubeconfig: Path, *, node_ips: list[str], node_names: list[str]
) -> AsyncIterator[ProxyServer]:
    """The host's proxy inside `kcore up`: ClusterIPs, and NodePorts on the given node IPs
    (`node_names` are the nodes whose endpoints are local); /metrics on a free loopback port."""
    async with Client.from_kubeconfig(kubeconfig, user_agent="kcore-proxy") as client:
        server = ProxyServer(client, node_ips=node_ips, node_names=node_names, metrics_port=0)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()
