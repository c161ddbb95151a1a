"""The `kcore` command: `kcore up` (all-in-one: API server, controller manager, kubelets,
scheduler, proxy), each part alone (`kcore apiserver|controller-manager|kubelet|scheduler|proxy`)
and `kcore bench`.

`kcore up` and `kcore apiserver` keep their state in the data dir (credentials, SQLite store,
admin kubeconfig), print `export KUBECONFIG=...` once serving, and stop cleanly on
SIGINT/SIGTERM; a restart with the same data dir resumes the same cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from pathlib import Path

from kcore.apiserver.app import start_apiserver
from kcore.bench import cli as bench_cli
from kcore.controllers import cli as controllers_cli
from kcore.kubelet import cli as kubelet_cli
from kcore.proxy import cli as proxy_cli
from kcore.scheduler import cli as scheduler_cli


def _store_url(raw: str | None, data_dir: Path) -> str | None:
    if raw in (None, "sqlite"):
        return None
    if raw == "memory":
        return "memory://"
    return raw


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kcore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("up", "run the all-in-one control plane"),
        ("apiserver", "run the API server alone"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--data-dir", type=Path, default=Path.home() / ".kcore")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=6443)
        p.add_argument(
            "--store",
            default=None,
            help="sqlite (default, in the data dir) | memory | etcd://HOST:PORT[/prefix]"
            " | sqlite:///path/state.db",
        )
        p.add_argument("--insecure-http", action="store_true", help="serve plain HTTP")
        p.add_argument("--max-in-flight", type=int, default=400)
        p.add_argument("-v", "--verbose", action="store_true")
        if name == "up":
            kubelet_cli.add_up_arguments(p)
    kubelet_cli.add_parser(sub)
    bench_cli.add_parser(sub)
    controllers_cli.add_parser(sub)
    scheduler_cli.add_parser(sub)
    proxy_cli.add_parser(sub)
    return parser


async def _serve(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    running = await start_apiserver(
        data_dir,
        store=_store_url(args.store, data_dir),
        host=args.host,
        port=args.port,
        tls=not args.insecure_http,
        max_in_flight=args.max_in_flight,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"kcore API server listening on {running.url}", file=sys.stderr, flush=True)
    print(f"export KUBECONFIG={running.kubeconfig}", flush=True)
    try:
        async with contextlib.AsyncExitStack() as parts:
            if args.command == "up":
                await parts.enter_async_context(controllers_cli.embedded(running.kubeconfig))
                await parts.enter_async_context(
                    kubelet_cli.embedded(
                        running.kubeconfig, data_dir, nodes=args.nodes, runtime=args.runtime
                    )
                )
                await parts.enter_async_context(scheduler_cli.embedded(running.kubeconfig))
                indexes = range(1, args.nodes + 1)
                await parts.enter_async_context(
                    proxy_cli.embedded(
                        running.kubeconfig,
                        node_ips=[kubelet_cli.node_ip(i) for i in indexes],
                        node_names=[kubelet_cli.node_name(i) for i in indexes],
                    )
                )
            await stop.wait()
    finally:
        await running.stop()
    return 0


def tune_gc() -> None:
    """The collector settings of a long-running daemon.

    A daemon keeps large caches of decoded API objects (informer stores, node tables, the watch
    cache), tens of empty lists each, all tracked by the cycle collector. At CPython's
    defaults (700, 10, 10) a full collection walks that whole heap every few thousand pods:
    in the scheduler that was ~45% of its CPU at 3,000 pods/s. Decoded objects are trees
    and die by reference counting, so full passes are made rare (every 100 middle ones,
    each after 20 young ones of 10,000 net allocations) and what was built at startup
    (modules, parsers, tables) is moved out of the collector's view.
    """
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        return bench_cli.run(args)
    tune_gc()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import uvloop

    if args.command == "kubelet":
        return int(uvloop.run(kubelet_cli.run(args)))
    if args.command == "scheduler":
        return int(uvloop.run(scheduler_cli.run(args)))
    if args.command == "controller-manager":
        return int(uvloop.run(controllers_cli.run(args)))
    if args.command == "proxy":
        return int(uvloop.run(proxy_cli.run(args)))
    return int(uvloop.run(_serve(args)))


if __name__ == "__main__":
    sys.exit(main())
