"""KubeSchedulerConfiguration-like profiles: defaults, enable/disable, weights, args."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcore.scheduler.config import DEFAULT_PLUGINS, PluginRef, load_config, parse_config
from kcore.scheduler.framework import builtin_registry
from kcore.scheduler.framework.runtime import implements

REGISTRY = builtin_registry()


def _at(profile, point: str) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    refs = profile.plugins_for(point, lambda n, p: implements(REGISTRY, n, p))
    return [(r.name, r.weight) for r in refs]


def test_defaults() -> None:
    config = parse_config(None)
    assert config.percentage_of_nodes_to_score == 100
    (profile,) = config.profiles
    assert profile.scheduler_name == "default-scheduler"
    assert _at(profile, "score") == [
        ("TaintToleration", 3),
        ("NodeAffinity", 2),
        ("NodeResourcesFit", 1),
        ("PodTopologySpread", 2),
        ("InterPodAffinity", 2),
        ("NodeResourcesBalancedAllocation", 1),
    ]
    assert [n for n, _ in _at(profile, "filter")] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert _at(profile, "bind") == [("DefaultBinder", 0)]
    assert _at(profile, "post_filter") == [("DefaultPreemption", 0)]


def test_disable_enable_reweight_and_args(tmp_path: Path) -> None:
    path = tmp_path / "sched.yaml"
    path.write_text(
        """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 50
profiles:
- schedulerName: packer
  plugins:
    filter:
      disabled: [{name: NodePorts}]
    score:
      disabled: [{name: "*"}]
      enabled: [{name: NodeResourcesFit, weight: 5}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
- schedulerName: default-scheduler
"""
    )
    config = load_config(path)
    assert config.percentage_of_nodes_to_score == 50
    packer = config.profile("packer")
    assert packer is not None
    assert _at(packer, "score") == [("NodeResourcesFit", 5)]
    assert "NodePorts" not in dict(_at(packer, "filter"))
    assert packer.args["NodeResourcesFit"] == {"scoringStrategy": {"type": "MostAllocated"}}
    assert config.profile("default-scheduler") is not None and config.profile("x") is None


def test_multipoint_enables_a_user_plugin_everywhere_it_fits() -> None:
    profile = parse_config(
        {"profiles": [{"plugins": {"multiPoint": {"enabled": [{"name": "Mine", "weight": 4}]}}}]}
    ).profiles[0]
    assert profile.multi_point == (*DEFAULT_PLUGINS, PluginRef("Mine", 4))
    only_filter = lambda name, point: name != "Mine" or point == "filter"  # noqa: E731
    assert PluginRef("Mine", 4) in profile.plugins_for("filter", only_filter)
    assert PluginRef("Mine", 4) not in profile.plugins_for("score", only_filter)


@pytest.mark.parametrize(
    "doc",
    [
        {"kind": "Pod"},
        {"percentageOfNodesToScore": 101},
        {"profiles": [{"schedulerName": "a"}, {"schedulerName": "a"}]},
    ],
)
def test_bad_configs(doc: dict) -> None:
    with pytest.raises(ValueError):
        parse_config(doc)


class Mine:
    """A user plugin loaded by `kcore scheduler --plugin module:Class`."""

    NAME = "Mine"

    def __init__(self, args: object, handle: object) -> None:
        pass

    def filter(self, state: object, pod: object, node: object) -> None:
        return None


def test_cli_builds_a_scheduler_from_config_and_plugins(tmp_path: Path) -> None:
    import argparse

    from kcore.scheduler import cli

    path = tmp_path / "sched.yaml"
    path.write_text("profiles: [{plugins: {multiPoint: {enabled: [{name: Mine}]}}}]\n")
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["scheduler", "--kubeconfig", "k", "--config", str(path), "--plugin", f"{__name__}:Mine"]
    )
    assert args.leader_elect
    scheduler = cli.build(None, args)  # type: ignore[arg-type]
    framework = scheduler.frameworks["default-scheduler"]
    assert [type(p).__name__ for p in framework.python["filter"]] == ["Mine"]
    assert not framework.kernel_only
