"""The scenario runner: figures kept only from scenarios that ran to the end, cleanup run
whatever happens (a real child process and temp dir), failures and unavailability recorded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rich.console import Console

from kcore.bench.cleanup import Cleanup
from kcore.bench.harness import Context, ScenarioFn, Unavailable, run_one, run_scenarios
from kcore.bench.results import Report, result

Started: dict[str, object] = {}


def _row(scenario: str) -> object:
    return result(scenario=scenario, metric="m", unit="u", kcore=2, peer="p", peer_value=1,
                  higher_is_better=True)  # fmt: skip


def starts_then_fails(ctx: Context) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ctx.cleanup.process(proc)  # type: ignore[arg-type]
    Started["proc"] = proc
    Started["tmp"] = ctx.cleanup.tempdir()
    ctx.add(_row(ctx.scenario))  # type: ignore[arg-type]
    raise RuntimeError("peer crashed")


def works(ctx: Context) -> None:
    with ctx.phase("measure", total=2) as phase:
        phase.advance()
        phase.advance()
    ctx.add(_row(ctx.scenario))  # type: ignore[arg-type]


def unavailable(ctx: Context) -> None:
    raise Unavailable("kubelet not available: no benchmarks/test_pod_startup.py")


def leaves_garbage(ctx: Context) -> None:
    def fail() -> None:
        raise OSError("container still there")

    ctx.cleanup.callback("container abc", fail)
    ctx.add(_row(ctx.scenario))  # type: ignore[arg-type]


SCENARIOS: dict[str, ScenarioFn] = {
    "fails": starts_then_fails,
    "works": works,
    "unavailable": unavailable,
    "garbage": leaves_garbage,
}


def ctx(name: str) -> Context:
    return Context(name, quick=True, cleanup=Cleanup())


def test_a_failing_scenario_is_cleaned_up_and_keeps_no_figures() -> None:
    c = ctx("fails")
    record = run_one("fails", c, SCENARIOS.__getitem__)
    assert record.status == "failed"
    assert "RuntimeError: peer crashed" in record.error
    assert c.results == []
    proc = Started["proc"]
    assert isinstance(proc, subprocess.Popen) and proc.poll() is not None
    assert isinstance(Started["tmp"], Path) and not Started["tmp"].exists()
    assert any("peer crashed" in note for note in c.notes)


def test_an_unavailable_scenario_says_why() -> None:
    record = run_one("unavailable", ctx("unavailable"), SCENARIOS.__getitem__)
    assert record.status == "unavailable"
    assert record.error.startswith("kubelet not available")


def test_cleanup_leftovers_fail_an_otherwise_good_scenario() -> None:
    c = ctx("garbage")
    record = run_one("garbage", c, SCENARIOS.__getitem__)
    assert record.status == "failed"
    assert "cleanup: container abc: container still there" in record.error
    assert c.results == []


def test_run_scenarios_collects_each_outcome() -> None:
    report = Report(machine={}, quick=True)
    console = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    try:
        run_scenarios(["works", "unavailable", "fails", "works"], report, console=console,
                      loader=SCENARIOS.__getitem__)  # fmt: skip
    finally:
        console.file.close()
    assert [r.status for r in report.scenarios] == ["ok", "unavailable", "failed", "ok"]
    assert [r.scenario for r in report.results] == ["works", "works"]


def test_notes_travel_with_the_record() -> None:
    def noting(ctx: Context) -> None:
        ctx.notes.append("load generator: 2 processes")

    record = run_one("noting", ctx("noting"), {"noting": noting}.__getitem__)
    assert record.status == "ok" and record.notes == ["load generator: 2 processes"]
