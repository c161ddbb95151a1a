"""Result rows: ratio, which way is better, published sources, the JSON schema, CDF points."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kcore.bench.results import (
    Report,
    ScenarioRun,
    Series,
    cdf_points,
    ratio_of,
    read_json,
    result,
    write_json,
)

SCHEMA_KEYS = {
    "scenario", "metric", "unit", "kcore", "peer", "peer_value", "peer_source", "ratio",
    "higher_is_better",
}  # fmt: skip


def row(kcore: float, peer: float, higher: bool) -> object:
    return result(scenario="s", metric="m", unit="u", kcore=kcore, peer="p", peer_value=peer,
                  higher_is_better=higher)  # fmt: skip


def test_ratio_is_kcore_over_peer() -> None:
    assert ratio_of(300.0, 100.0) == 3.0
    assert ratio_of(50.0, 200.0) == 0.25


@pytest.mark.parametrize("peer", [0.0, math.inf, math.nan])
def test_ratio_is_none_when_not_comparable(peer: float) -> None:
    assert ratio_of(1.0, peer) is None


@pytest.mark.parametrize(
    ("kcore", "peer", "higher", "better"),
    [
        (200, 100, True, True),  # throughput: more is better
        (50, 100, True, False),
        (5, 10, False, True),  # latency: less is better
        (20, 10, False, False),
        (10, 10, False, None),  # even
        (10, 0, True, None),  # no ratio
    ],
)
def test_kcore_better_follows_higher_is_better(
    kcore: float, peer: float, higher: bool, better: bool | None
) -> None:
    assert row(kcore, peer, higher).kcore_better is better  # type: ignore[attr-defined]


def test_published_peer_needs_its_source() -> None:
    with pytest.raises(ValueError, match="source"):
        result(scenario="s", metric="m", unit="u", kcore=1, peer="p", peer_value=2,
               higher_is_better=True, peer_source="published")  # fmt: skip
    ok = result(scenario="s", metric="m", unit="u", kcore=1, peer="p", peer_value=2,
                higher_is_better=True, peer_source="published", source="somewhere")  # fmt: skip
    assert ok.peer_source == "published" and ok.source == "somewhere"


def test_json_rows_carry_every_schema_field(tmp_path: Path) -> None:
    report = Report(machine={"cores": 2}, results=[row(3, 1, True), row(0, 0, False)],  # type: ignore[list-item]
                    scenarios=[ScenarioRun(name="s", status="ok", seconds=1.0)])  # fmt: skip
    path = tmp_path / "out" / "bench.json"
    write_json(report, path)
    doc = json.loads(path.read_text())
    assert set(doc) >= {"machine", "results", "scenarios"}
    for r in doc["results"]:
        assert set(r) >= SCHEMA_KEYS
        assert r["peer_source"] in ("measured", "published")
    assert doc["results"][0]["ratio"] == 3.0
    assert doc["results"][1]["ratio"] is None
    assert read_json(path) == report


def test_series_round_trip(tmp_path: Path) -> None:
    s = Series(name="x", kind="bar", title="t", xlabel="a", ylabel="b", groups=["g1", "g2"],
               bars={"kcore": [1.0, 2.0]})  # fmt: skip
    path = tmp_path / "r.json"
    write_json(Report(machine={}, series=[s]), path)
    assert read_json(path).series == [s]


def test_cdf_points_are_monotone_and_keep_the_tail() -> None:
    samples = [float(i) for i in range(1, 10_001)]
    points = cdf_points(samples, points=10)
    xs, qs = [p[0] for p in points], [p[1] for p in points]
    assert xs == sorted(xs) and qs == sorted(qs)
    assert points[0] == (1.0, 0.0) and points[-1] == (10_000.0, 1.0)
    assert (9900.0, 0.99) in points or any(q == 0.99 and 9899 <= x <= 9901 for x, q in points)
    assert all(type(x) is float for x in xs)
    assert cdf_points([]) == []


@pytest.mark.parametrize(
    ("ratio", "shown"), [(3.0, "3.00"), (0.5, "0.50"), (0.0123, "0.012"), (6450.2, "6,450")]
)
def test_ratio_numbers_stay_readable(ratio: float, shown: str) -> None:
    from kcore.bench.table import ratio_number

    assert ratio_number(ratio) == shown
