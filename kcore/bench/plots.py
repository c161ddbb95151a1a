"""PNG plots of a run's `Series` (throughput against cluster size, latency CDFs, proxy bars).

matplotlib is an optional dependency (the `bench` extra), imported only when plots are asked
for, with the non-interactive Agg backend; without it `write_plots` raises a clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kcore.bench.results import Series


class PlotsUnavailable(RuntimeError):
    pass


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotsUnavailable("plots need matplotlib: pip install 'kcore[bench]'") from exc
    return plt


def _draw_points(ax: Any, series: Series) -> None:
    for label, points in series.points.items():
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        if series.kind == "cdf":
            ax.step(xs, ys, where="post", label=label)
        else:
            ax.plot(xs, ys, marker="o", label=label)
    if series.log_x:
        ax.set_xscale("log")
    if series.log_y:
        ax.set_yscale("log")


def _draw_bars(ax: Any, series: Series) -> None:
    labels = list(series.bars)
    width = 0.8 / max(len(labels), 1)
    for i, label in enumerate(labels):
        xs = [g + i * width for g in range(len(series.groups))]
        ax.bar(xs, series.bars[label], width=width, label=label)
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(series.groups))], series.groups)


def draw(series: Series, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        if series.kind == "bar":
            _draw_bars(ax, series)
        else:
            _draw_points(ax, series)
        ax.set_title(series.title)
        ax.set_xlabel(series.xlabel)
        ax.set_ylabel(series.ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def write_plots(series: list[Series], directory: Path) -> list[Path]:
    """One PNG per series in `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in series:
        path = directory / f"{s.name}.png"
        draw(s, path)
        paths.append(path)
    return paths
