"""The scenario runner: a registry of scenarios by name, the `Context` each one gets (size
preset, cleanup stack, progress phases, where its figures go), and `run_scenarios`, which runs
them one after another, records how each went, and always runs each one's cleanup.

Scenario modules are imported lazily, when run, so one whose component is missing cannot stop
the others. A scenario that cannot run here raises `Unavailable` with a message saying why; it
never produces figures it did not measure.
"""

from __future__ import annotations

import importlib
import os
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from kcore.bench.cleanup import Cleanup
from kcore.bench.results import Report, Result, ScenarioRun, ScenarioStatus, Series

SCENARIO_MODULES: dict[str, str] = {
    "scheduler": "kcore.bench.scenarios.scheduler",
    "apiserver": "kcore.bench.scenarios.apiserver",
    "pod-startup": "kcore.bench.scenarios.pod_startup",
    "stats": "kcore.bench.scenarios.stats",
    "proxy": "kcore.bench.scenarios.proxy",
}


class Unavailable(RuntimeError):
    """The scenario cannot run on this machine or checkout (a component or peer is missing)."""


class Phase:
    """One progress bar; `advance` it as work completes, or leave `total` None for a spinner."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: float = 1.0) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)

    def update(self, completed: float) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed)


@dataclass
class Context:
    """What a scenario gets: `quick` sizes, a cleanup stack, progress phases, and its output."""

    scenario: str
    quick: bool
    cleanup: Cleanup
    progress: Progress | None = None
    results: list[Result] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def phase(self, description: str, total: float | None = None) -> Iterator[Phase]:
        """A progress bar for the block, marked complete when the block ends."""
        if self.progress is None:
            yield Phase(None, None)
            return
        label = f"{self.scenario}: {description}"
        task = self.progress.add_task(label, total=total)
        try:
            yield Phase(self.progress, task)
        finally:
            done = self.progress.tasks[task].total
            self.progress.update(task, completed=done if done is not None else 1, total=done or 1)

    def add(self, row: Result) -> None:
        self.results.append(row)

    def plot(self, series: Series) -> None:
        self.series.append(series)


ScenarioFn = Callable[[Context], None]


def load(name: str) -> ScenarioFn:
    """The scenario's `run(ctx)`, importing its module now."""
    module = importlib.import_module(SCENARIO_MODULES[name])
    fn: ScenarioFn = module.run
    return fn


def progress_bars(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def run_one(name: str, ctx: Context, loader: Callable[[str], ScenarioFn] = load) -> ScenarioRun:
    """Run one scenario, then its cleanup whatever happened; failures (including leftovers
    the cleanup could not remove) become a failed or unavailable record without figures."""
    start = time.monotonic()
    status: ScenarioStatus = "ok"
    error = ""
    try:
        loader(name)(ctx)
    except Unavailable as exc:
        status, error = "unavailable", str(exc)
    except Exception as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        ctx.notes.append(traceback.format_exc())
    finally:
        leftovers = ctx.cleanup.close()
    if leftovers:
        status = "failed"
        error = "; ".join([*filter(None, [error]), "cleanup: " + "; ".join(leftovers)])
    if status != "ok":
        ctx.results.clear()  # a scenario's figures stand only if the whole scenario ran
        ctx.series.clear()
    return ScenarioRun(name=name, status=status, seconds=time.monotonic() - start, error=error,
                       load_avg_1m=round(os.getloadavg()[0], 2), notes=list(ctx.notes))  # fmt: skip


def run_scenarios(
    names: list[str],
    report: Report,
    *,
    console: Console,
    loader: Callable[[str], ScenarioFn] = load,
    show_progress: bool = True,
) -> None:
    """Run `names` in order, appending their figures and records to `report`."""
    with progress_bars(console) as progress:
        for name in names:
            ctx = Context(name, report.quick, Cleanup(), progress if show_progress else None)
            record = run_one(name, ctx, loader)
            report.scenarios.append(record)
            report.results.extend(ctx.results)
            report.series.extend(ctx.series)
            if record.status != "ok":
                progress.console.print(f"[red]{name}: {record.status}: {record.error}[/red]")
            for note in ctx.notes:
                progress.console.print(f"{name}: {note}", markup=False, highlight=False)
