"""`kcore bench` end to end with toy scenarios: the table, the JSON file, the PNG plots, and
the exit status."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from kcore.bench import cli
from kcore.bench.harness import SCENARIO_MODULES, Context, ScenarioFn
from kcore.bench.plots import write_plots
from kcore.bench.results import Series, cdf_points, result


def measured(ctx: Context) -> None:
    ctx.add(result(scenario=ctx.scenario, metric="ops", unit="ops/s", kcore=300,
                   peer="peer", peer_value=100, higher_is_better=True))  # fmt: skip
    ctx.plot(Series(name=f"{ctx.scenario}-cdf", kind="cdf", title="t", xlabel="ms",
                    ylabel="fraction", points={"kcore": cdf_points([1.0, 2.0, 3.0])}))  # fmt: skip


def broken(ctx: Context) -> None:
    raise RuntimeError("no peer")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_parser_knows_every_scenario_and_all() -> None:
    for name in [*SCENARIO_MODULES, "all"]:
        args = parse(["bench", name, "--quick"])
        assert args.scenario == name and args.quick
    assert cli.selected("all") == list(SCENARIO_MODULES)
    with pytest.raises(SystemExit):
        parse(["bench", "nonsense"])


def test_run_writes_json_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loader: dict[str, ScenarioFn] = {"apiserver": measured}
    args = parse(["bench", "apiserver", "--json", str(tmp_path / "b.json"),
                  "--plot", str(tmp_path / "plots")])  # fmt: skip
    assert cli.run(args, loader=loader.__getitem__) == 0
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["results"][0]["ratio"] == 3.0
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["python"]
    assert (tmp_path / "plots" / "apiserver-cdf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "3.00x" in out and "better" in out


def test_run_fails_when_any_scenario_failed(tmp_path: Path) -> None:
    loader: dict[str, ScenarioFn] = {n: measured for n in SCENARIO_MODULES}
    loader["stats"] = broken
    args = parse(["bench", "all", "--quick", "--json", str(tmp_path / "b.json")])
    assert cli.run(args, loader=loader.__getitem__) == 1
    doc = json.loads((tmp_path / "b.json").read_text())
    statuses = {s["name"]: s["status"] for s in doc["scenarios"]}
    assert statuses["stats"] == "failed" and statuses["proxy"] == "ok"
    assert {r["scenario"] for r in doc["results"]} == set(SCENARIO_MODULES) - {"stats"}


def test_every_plot_kind_draws(tmp_path: Path) -> None:
    series = [
        Series(name="line", kind="line", title="t", xlabel="n", ylabel="r", log_x=True,
               log_y=True, points={"a": [(1e3, 10.0), (5e3, 5.0)]}),
        Series(name="cdf", kind="cdf", title="t", xlabel="ms", ylabel="f",
               points={"a": cdf_points([1.0, 5.0, 9.0])}),
        Series(name="bar", kind="bar", title="t", xlabel="w", ylabel="r", groups=["x", "y"],
               bars={"a": [1.0, 2.0], "b": [3.0, 4.0]}),
    ]  # fmt: skip
    paths = write_plots(series, tmp_path)
    assert [p.name for p in paths] == ["line.png", "cdf.png", "bar.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_markdown_table_marks_published_peers(tmp_path: Path) -> None:
    def published(ctx: Context) -> None:
        ctx.add(result(scenario="s", metric="pods/s", unit="pods/s", kcore=1000, peer="k8s",
                       peer_value=500, higher_is_better=True, peer_source="published",
                       source="a config file"))  # fmt: skip

    args = parse(["bench", "scheduler", "--markdown", str(tmp_path / "t.md")])
    assert cli.run(args, loader={"scheduler": published}.__getitem__) == 0
    lines = (tmp_path / "t.md").read_text().splitlines()
    assert lines[0].startswith("| scenario |")
    assert lines[2] == "| s | pods/s | pods/s | 1,000 | k8s* | 500 | 2.00x better |"
