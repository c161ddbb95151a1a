"""Scheduler profiles from a KubeSchedulerConfiguration-like YAML file.

    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    percentageOfNodesToScore: 100        # the default: kcore scores every node
    profiles:
    - schedulerName: default-scheduler
      plugins:
        multiPoint: {enabled: [{name: MyPlugin}]}   # every point MyPlugin implements
        score:
          disabled: [{name: NodeResourcesBalancedAllocation}]
          enabled: [{name: NodeResourcesFit, weight: 5}]
      pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: MostAllocated}}

percentageOfNodesToScore is accepted and validated, but kcore always filters and scores every
node: the fused kernel makes a full pass cheaper than kube-scheduler's sampling bookkeeping.

As in kube-scheduler, the default plugins are enabled at every point they implement
("multiPoint"); a point's `disabled` list removes some (`*`: all defaults) and its `enabled`
list adds or re-weights. Weights default to Kubernetes' (TaintToleration 3, NodeAffinity 2,
PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1, BalancedAllocation 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kcore.scheduler.adapter import DEFAULT_SCHEDULER


@dataclass(frozen=True)
class PluginRef:
    name: str
    weight: int = 0


DEFAULT_PLUGINS = (
    PluginRef("NodeUnschedulable"),
    PluginRef("NodeName"),
    PluginRef("TaintToleration", 3),
    PluginRef("NodeAffinity", 2),
    PluginRef("NodePorts"),
    PluginRef("NodeResourcesFit", 1),
    PluginRef("PodTopologySpread", 2),
    PluginRef("InterPodAffinity", 2),
    PluginRef("DefaultPreemption"),
    PluginRef("NodeResourcesBalancedAllocation", 1),
    PluginRef("DefaultBinder"),
)
POINTS = {
    "preFilter": "pre_filter",
    "filter": "filter",
    "postFilter": "post_filter",
    "preScore": "pre_score",
    "score": "score",
    "reserve": "reserve",
    "permit": "permit",
    "bind": "bind",
}
Implements = Callable[[str, str], bool]
"""(plugin name, point) -> does the plugin implement that point?"""


@dataclass(frozen=True)
class ProfileConfig:
    scheduler_name: str = DEFAULT_SCHEDULER
    multi_point: tuple[PluginRef, ...] = DEFAULT_PLUGINS
    enabled: Mapping[str, tuple[PluginRef, ...]] = field(default_factory=dict)
    disabled: Mapping[str, frozenset[str]] = field(default_factory=dict)
    args: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def plugins_for(self, point: str, implements: Implements) -> list[PluginRef]:
        """The plugins (with weights) enabled at `point` ("filter", "score", ...)."""
        off = self.disabled.get(point, frozenset())
        out = [
            p
            for p in self.multi_point
            if "*" not in off and p.name not in off and implements(p.name, point)
        ]
        for ref in self.enabled.get(point, ()):
            out = [p for p in out if p.name != ref.name]
            if implements(ref.name, point):
                out.append(ref)
        return out

    def names(self) -> list[str]:
        """Every plugin this profile mentions as enabled somewhere."""
        seen = {p.name: None for p in self.multi_point}
        for refs in self.enabled.values():
            seen.update({p.name: None for p in refs})
        return list(seen)


@dataclass(frozen=True)
class SchedulerConfig:
    profiles: tuple[ProfileConfig, ...] = (ProfileConfig(),)
    percentage_of_nodes_to_score: int = 100

    def profile(self, scheduler_name: str) -> ProfileConfig | None:
        return next((p for p in self.profiles if p.scheduler_name == scheduler_name), None)


def _refs(items: Any) -> tuple[PluginRef, ...]:
    return tuple(PluginRef(str(i["name"]), int(i.get("weight") or 0)) for i in items or ())


def _profile(doc: Mapping[str, Any]) -> ProfileConfig:
    plugins = doc.get("plugins") or {}
    multi = plugins.get("multiPoint") or {}
    off_everywhere = {r.name for r in _refs(multi.get("disabled"))}
    defaults = () if "*" in off_everywhere else DEFAULT_PLUGINS
    multi_point = tuple(p for p in defaults if p.name not in off_everywhere)
    for ref in _refs(multi.get("enabled")):
        multi_point = (*(p for p in multi_point if p.name != ref.name), ref)
    enabled, disabled = {}, {}
    for yaml_name, point in POINTS.items():
        section = plugins.get(yaml_name) or {}
        enabled[point] = _refs(section.get("enabled"))
        disabled[point] = frozenset(r.name for r in _refs(section.get("disabled")))
    args = {str(c["name"]): dict(c.get("args") or {}) for c in doc.get("pluginConfig") or ()}
    return ProfileConfig(
        scheduler_name=str(doc.get("schedulerName") or DEFAULT_SCHEDULER),
        multi_point=multi_point,
        enabled=enabled,
        disabled=disabled,
        args=args,
    )


def parse_config(doc: Mapping[str, Any] | None) -> SchedulerConfig:
    doc = doc or {}
    kind = doc.get("kind", "KubeSchedulerConfiguration")
    if kind != "KubeSchedulerConfiguration":
        raise ValueError(f"expected kind KubeSchedulerConfiguration, got {kind!r}")
    percentage = int(doc.get("percentageOfNodesToScore") or 100)
    if not 0 < percentage <= 100:
        raise ValueError("percentageOfNodesToScore must be in 1..100")
    profiles = tuple(_profile(p) for p in doc.get("profiles") or ()) or (ProfileConfig(),)
    names = [p.scheduler_name for p in profiles]
    if len(set(names)) != len(names):
        raise ValueError("profiles must have distinct schedulerNames")
    return SchedulerConfig(profiles=profiles, percentage_of_nodes_to_score=percentage)


def load_config(path: str | Path) -> SchedulerConfig:
    return parse_config(yaml.safe_load(Path(path).read_text()))


__all__ = [
    "DEFAULT_PLUGINS",
    "PluginRef",
    "ProfileConfig",
    "SchedulerConfig",
    "load_config",
    "parse_config",
]
