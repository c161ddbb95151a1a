"""The results table printed after a run: kcore and its peer side by side, the ratio, and
whether kcore comes out ahead; published peer figures are marked as such. Below it, one line
per scenario that did not run, with the reason."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from kcore.bench.results import Report, Result


def figure(value: float) -> str:
    """Compact numbers: thousands separators for big ones, 3 significant digits for small."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def ratio_number(ratio: float) -> str:
    """2 decimals in the usual range, 2 significant digits for tiny ratios, none for huge."""
    if ratio >= 100:
        return f"{ratio:,.0f}"
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"


def ratio_text(row: Result) -> str:
    if row.ratio is None:
        return "n/a"
    marker = {True: "[green]better[/green]", False: "[red]worse[/red]", None: "even"}
    return f"{ratio_number(row.ratio)}x {marker[row.kcore_better]}"


def results_table(report: Report) -> Table:
    table = Table(title="kcore bench", show_lines=False)
    for name, justify in (
        ("scenario", "left"),
        ("metric", "left"),
        ("unit", "left"),
        ("kcore", "right"),
        ("peer", "left"),
        ("peer value", "right"),
        ("kcore/peer", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in report.results:
        peer = row.peer if row.peer_source == "measured" else f"{row.peer} (published)"
        table.add_row(
            row.scenario,
            row.metric,
            row.unit,
            figure(row.kcore),
            peer,
            figure(row.peer_value),
            ratio_text(row),
        )
    return table


def markdown(report: Report) -> str:
    """The results as a Markdown table (for a README), published peers marked with *."""
    lines = [
        "| scenario | metric | unit | kcore | peer | peer value | kcore/peer |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    for row in report.results:
        peer = row.peer if row.peer_source == "measured" else f"{row.peer}*"
        verdict = {True: "better", False: "worse", None: "even"}[row.kcore_better]
        ratio = "n/a" if row.ratio is None else f"{ratio_number(row.ratio)}x {verdict}"
        lines.append(f"| {row.scenario} | {row.metric} | {row.unit} | {figure(row.kcore)} | "
                     f"{peer} | {figure(row.peer_value)} | {ratio} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def machine_line(report: Report) -> str:
    m = report.machine
    memory = int(m.get("memory_bytes", 0)) / (1 << 30)
    return (
        f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, {memory:.1f} GiB, "
        f"Linux {m.get('kernel', '?')}, Python {m.get('python', '?')}"
    )


def print_report(report: Report, console: Console) -> None:
    console.print(results_table(report))
    console.print(f"machine: {machine_line(report)}", highlight=False)
    for row in report.results:
        if row.source:
            console.print(f"published: {row.metric}: {row.source}", highlight=False)
    for run in report.scenarios:
        if run.status != "ok":
            console.print(f"[red]{run.name} {run.status}[/red]: {run.error}", highlight=False)
        else:
            console.print(f"{run.name}: ok in {run.seconds:.0f} s (load average "
                          f"{run.load_avg_1m} at the end)", highlight=False)  # fmt: skip
