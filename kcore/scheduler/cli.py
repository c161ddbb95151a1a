"""`kcore scheduler`: argument parsing and the process loop of a stand-alone scheduler, and
`embedded()` for `kcore up`.

`kcore/cli.py` calls `add_parser(subparsers)` and, for the `scheduler` command, `run(args)`.
Extra plugins come as `--plugin module:Class` (registered under the class's NAME) and are
enabled through the `--config` file like any built-in.
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
from kcore.scheduler.config import SchedulerConfig, load_config
from kcore.scheduler.framework import builtin_registry, load_plugin
from kcore.scheduler.scheduler import Scheduler


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("scheduler", help="run the scheduler")
    p.add_argument("--kubeconfig", type=Path, required=True, help="credentials for the API")
    p.add_argument("--config", type=Path, default=None, help="KubeSchedulerConfiguration YAML")
    p.add_argument("--plugin", action="append", default=[], help="module:Class, repeatable")
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="act only while holding the kube-system/kube-scheduler Lease",
    )
    p.add_argument(
        "--no-scheduled-events", action="store_true", help="skip the Normal Scheduled events"
    )
    p.add_argument("-v", "--verbose", action="store_true")


def build(client: Client, args: argparse.Namespace) -> Scheduler:
    config = load_config(args.config) if args.config else SchedulerConfig()
    registry = builtin_registry()
    for path in args.plugin:
        registry.register(load_plugin(path))
    return Scheduler(
        client,
        config=config,
        registry=registry,
        record_scheduled_events=not args.no_scheduled_events,
    )


async def run(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Client.from_kubeconfig(
        args.kubeconfig, wire="msgpack", user_agent="kcore-scheduler"
    ) as client:
        scheduler = build(client, args)
        task = asyncio.create_task(scheduler.run(leader_elect=args.leader_elect))
        print("kcore scheduler running", file=sys.stderr, flush=True)
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for t in (task, waiter):
            t.cancel()
        results = await asyncio.gather(task, waiter, return_exceptions=True)
    failed = [r for r in results if isinstance(r, Exception)]
    return 1 if failed else 0


@contextlib.asynccontextmanager
async def embedded(kubeconfig: Path) -> AsyncIterator[Scheduler]:
    """A leader-elected scheduler running in this process until the block exits."""
    async with Client.from_kubeconfig(
        kubeconfig, wire="msgpack", user_agent="kcore-scheduler"
    ) as client:
        scheduler = Scheduler(client)
        task = asyncio.create_task(scheduler.run(leader_elect=True), name="scheduler")
        try:
            yield scheduler
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


__all__ = ["add_parser", "build", "embedded", "run"]
