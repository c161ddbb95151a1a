"""`kcore controller-manager`: argument parsing, the process loop, and the `kcore up` embedding.

`kcore/cli.py` calls `add_parser(subparsers)` and, for the `controller-manager` command,
`run(args)`; `kcore up` enters `embedded(kubeconfig)` to run a manager beside its API server.
The manager competes for the kube-system/kube-controller-manager Lease unless
`--leader-elect=false`, so several can run and one acts. It stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from kcore.client import Client, ElectionTimings
from kcore.controllers.manager import DEFAULT_WORKERS, ControllerManager, registry


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("controller-manager", help="run the controller manager")
    p.add_argument("--kubeconfig", type=Path, required=True, help="credentials for the API")
    p.add_argument(
        "--controllers",
        default="*",
        help=f"comma-separated, '*' for all: {','.join(DEFAULT_WORKERS)}",
    )
    p.add_argument("--leader-elect", type=_bool, default=True, metavar="BOOL")
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0)
    p.add_argument(
        "--workers",
        action="append",
        default=[],
        metavar="NAME=N",
        help="workers for one controller (repeatable), e.g. deployment=10",
    )
    p.add_argument("-v", "--verbose", action="store_true")


def _controllers(spec: str) -> list[str] | None:
    if spec.strip() in ("", "*"):
        return None
    names = [n.strip() for n in spec.split(",") if n.strip()]
    known = registry()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown controllers: {', '.join(unknown)}")
    return names


def _workers(pairs: list[str]) -> dict[str, int]:
    out = {}
    for pair in pairs:
        name, sep, count = pair.partition("=")
        if not sep or not count.isdigit():
            raise SystemExit(f"--workers expects NAME=N, not {pair!r}")
        out[name] = int(count)
    return out


def manager_from(args: argparse.Namespace, client: Client) -> ControllerManager:
    return ControllerManager(
        client,
        controllers=_controllers(args.controllers),
        workers=_workers(args.workers),
        leader_elect=args.leader_elect,
        timings=ElectionTimings(
            args.leader_elect_lease_duration,
            args.leader_elect_renew_deadline,
            args.leader_elect_retry_period,
        ),
    )


async def run(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Client.from_kubeconfig(args.kubeconfig, user_agent="kcore-controller-manager") as c:
        manager = manager_from(args, c)
        task = asyncio.create_task(manager.run())
        print(f"kcore controller-manager {manager.identity} started", file=sys.stderr, flush=True)
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (task, waiter):
                t.cancel()
            await asyncio.gather(task, waiter, return_exceptions=True)
    return 0


@contextlib.asynccontextmanager
async def embedded(kubeconfig: Path) -> AsyncIterator[ControllerManager]:
    """A leader-elected manager running in this process until the block exits."""
    async with Client.from_kubeconfig(kubeconfig, user_agent="kcore-controller-manager") as c:
        manager = ControllerManager(c)
        task = asyncio.create_task(manager.run(), name="controller manager")
        try:
            yield manager
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
