"""`kcore bench SCENARIO [--quick] [--json PATH] [--plot DIR] [--markdown PATH]`: argparse
wiring for the bench subcommand. kcore/cli.py calls `add_parser` to register it and `run` to
execute it.

Exit status: 0 when every scenario ran, 1 when any failed or was unavailable (the figures of
the others are still printed and written).
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from kcore.bench.harness import SCENARIO_MODULES, ScenarioFn, load, run_scenarios
from kcore.bench.machine import machine_facts
from kcore.bench.plots import write_plots
from kcore.bench.results import Report, write_json
from kcore.bench.table import markdown, print_report


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "bench",
        help="run benchmark scenarios beside their peers",
        description="Run benchmark scenarios, each beside its peer, and print/write the figures.",
    )
    p.add_argument("scenario", choices=[*SCENARIO_MODULES, "all"])
    p.add_argument("--quick", action="store_true", help="small sizes (all: under 10 minutes)")
    p.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--plot", type=Path, default=None, help="write PNG plots into this directory")
    p.add_argument("--markdown", type=Path, default=None, help="write the table as Markdown")


def selected(scenario: str) -> list[str]:
    return list(SCENARIO_MODULES) if scenario == "all" else [scenario]


def run(args: argparse.Namespace, loader: Callable[[str], ScenarioFn] = load) -> int:
    """Run the selected scenarios (`loader` finds each one's `run`), print, write, plot."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    report = Report(machine=machine_facts(), quick=args.quick, started=started)
    try:
        run_scenarios(selected(args.scenario), report, console=console, loader=loader)
    finally:
        print_report(report, console)
        if args.json is not None:
            write_json(report, args.json)
            console.print(f"results written to {args.json}")
        if args.markdown is not None:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(markdown(report))
    if args.plot is not None and report.series:
        for path in write_plots(report.series, args.plot):
            console.print(f"plot written to {path}")
    return 0 if all(r.status == "ok" for r in report.scenarios) else 1
