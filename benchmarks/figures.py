"""Figures a benchmark run collects beyond pytest-benchmark's timings (rates, percentiles,
ratios), keyed by benchmark name; benchmarks/conftest.py prints them after the run."""

from __future__ import annotations

from typing import Any

FIGURES: dict[str, dict[str, Any]] = {}


def record(name: str, benchmark: Any, figures: dict[str, Any]) -> None:
    """Attach `figures` to the benchmark's JSON (extra_info) and to the end-of-run summary."""
    benchmark.extra_info.update(figures)
    FIGURES[name] = figures
