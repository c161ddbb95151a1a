"""The figures a bench run produces and the JSON they are written as.

Every measured figure is a `Result` row holding kcore's value beside one peer's value (measured
in the same run, or a published figure with its source) and their ratio, so any tool can read
a run without knowing the scenarios. `ratio` is always kcore / peer; `higher_is_better` says
which way is good, and `kcore_better` applies it. Plot data (`Series`) travels in the same JSON
so plots can be redrawn from a saved run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import msgspec

PeerSource = Literal["measured", "published"]
SeriesKind = Literal["line", "cdf", "bar"]
ScenarioStatus = Literal["ok", "failed", "unavailable"]


class Result(msgspec.Struct, kw_only=True, frozen=True):
    """One figure: kcore's value and a peer's, in `unit`."""

    scenario: str
    metric: str
    unit: str
    kcore: float
    peer: str
    peer_value: float
    peer_source: PeerSource
    ratio: float | None
    higher_is_better: bool
    source: str = ""  # where a published peer figure comes from

    @property
    def kcore_better(self) -> bool | None:
        """Whether kcore's figure beats the peer's (None when they cannot be compared)."""
        if self.ratio is None or self.ratio == 1.0:
            return None
        return (self.ratio > 1.0) == self.higher_is_better


def ratio_of(kcore: float, peer_value: float) -> float | None:
    """kcore / peer, or None when the peer figure is zero or either is not finite."""
    if peer_value == 0 or not (math.isfinite(kcore) and math.isfinite(peer_value)):
        return None
    return kcore / peer_value


def result(
    *,
    scenario: str,
    metric: str,
    unit: str,
    kcore: float,
    peer: str,
    peer_value: float,
    higher_is_better: bool,
    peer_source: PeerSource = "measured",
    source: str = "",
) -> Result:
    """A Result with its ratio filled in; a published peer must name its source."""
    if peer_source == "published" and not source:
        raise ValueError(f"{metric}: a published peer figure needs its source")
    return Result(
        scenario=scenario,
        metric=metric,
        unit=unit,
        kcore=float(kcore),
        peer=peer,
        peer_value=float(peer_value),
        peer_source=peer_source,
        ratio=ratio_of(kcore, peer_value),
        higher_is_better=higher_is_better,
        source=source,
    )


class Series(msgspec.Struct, kw_only=True, frozen=True):
    """Data for one plot. `line`/`cdf`: `points[label]` is a list of [x, y] pairs;
    `bar`: `groups` name the bar groups and `bars[label]` holds one value per group."""

    name: str
    kind: SeriesKind
    title: str
    xlabel: str
    ylabel: str
    points: dict[str, list[tuple[float, float]]] = {}
    groups: list[str] = []
    bars: dict[str, list[float]] = {}
    log_x: bool = False
    log_y: bool = False


class ScenarioRun(msgspec.Struct, kw_only=True):
    """How one scenario went: `error` explains a failed or unavailable one."""

    name: str
    status: ScenarioStatus
    seconds: float
    error: str = ""
    load_avg_1m: float = 0.0  # the machine's load when the scenario ended (it is shared)
    notes: list[str] = []  # what the scenario said about its run (and a failure's traceback)


class Report(msgspec.Struct, kw_only=True):
    """A whole bench run, as written to --json."""

    machine: dict[str, str | int | float]
    results: list[Result] = []
    series: list[Series] = []
    scenarios: list[ScenarioRun] = []
    quick: bool = False
    started: str = ""


def cdf_points(samples_ms: Sequence[float], points: int = 200) -> list[tuple[float, float]]:
    """A latency CDF as [latency, fraction] pairs: `points` evenly spaced quantiles plus the
    tail quantiles p99, p99.9 and the maximum, so a saved run can be redrawn."""
    if not samples_ms:
        return []
    ordered = sorted(samples_ms)
    n = len(ordered)
    fractions = {i / points for i in range(points + 1)} | {0.99, 0.999}
    out = []
    for q in sorted(fractions):
        out.append((float(ordered[min(int(q * (n - 1) + 0.5), n - 1)]), q))
    return out


_encoder = msgspec.json.Encoder()


def write_json(report: Report, path: Path) -> None:
    """Write the report as indented JSON (creating the parent directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(_encoder.encode(report), indent=2) + b"\n")


def read_json(path: Path) -> Report:
    return msgspec.json.decode(path.read_bytes(), type=Report)
