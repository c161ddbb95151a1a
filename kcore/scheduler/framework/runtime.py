"""One profile's plugins, run in Kubernetes' order over the node table.

The fast path: every built-in filter and score is a `KernelPlugin`, so after pre_filter has
compiled the pod's requirements, one fused kernel call filters and scores all nodes and
picks the best. Python plugins at filter/score (a user's, added by name) run beside it: the
kernel returns every node's total, the Python filters prune the feasible nodes, the Python
scores (normalized, weighted) are added, and the best total wins (ties at random, as in
kube-scheduler). reserve, permit and bind always run in Python. A pod that permit plugins
hold (Wait) is registered in the shared `WaitingPods`; `wait_on_permit` settles it.
"""

from __future__ import annotations

import dataclasses
import inspect
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kcore.api.core import Pod
from kcore.scheduler import kernels
from kcore.scheduler.config import ProfileConfig
from kcore.scheduler.framework.compiled import QueryCache
from kcore.scheduler.framework.interface import (
    EXTENSION_POINTS,
    CycleState,
    FitFailure,
    Handle,
    KernelPlugin,
    NodeInfo,
    PostFilterResult,
)
from kcore.scheduler.framework.registry import Registry
from kcore.scheduler.framework.status import Code, Result, Status, is_success
from kcore.scheduler.framework.waiting import WaitingPod, WaitingPods, waiting_key
from kcore.scheduler.placement import compiled_profile
from kcore.scheduler.query import PodRequirements, Profile, Query, compile_query
from kcore.scheduler.table import NodeTable

_ZERO_WEIGHTS = {
    "fit_weight": 0,
    "balanced_weight": 0,
    "taint_weight": 0,
    "node_affinity_weight": 0,
    "interpod_weight": 0,
}


@dataclass
class ScheduleResult:
    state: CycleState
    requirements: PodRequirements | None
    node: str | None = None
    failure: FitFailure | None = None
    status: Result = None
    """Why pre_filter stopped the pod (then `failure` carries the message)."""


def implements(registry: Registry, name: str, point: str) -> bool:
    cls = registry.get(name)
    if cls is None:
        raise ValueError(f"no plugin named {name!r} is registered")
    if issubclass(cls, KernelPlugin):
        return cls.implements(point)
    return hasattr(cls, point)


class Framework:
    def __init__(
        self,
        profile: ProfileConfig,
        registry: Registry,
        handle: Handle,
        *,
        waiting: WaitingPods | None = None,
    ) -> None:
        self.name = profile.scheduler_name
        self.handle = handle
        self.waiting = WaitingPods() if waiting is None else waiting
        self._plugins: dict[str, Any] = {}
        points = EXTENSION_POINTS
        self.points = {
            p: profile.plugins_for(p, lambda n, pt: implements(registry, n, pt)) for p in points
        }
        self.weights = {ref.name: ref.weight or 1 for ref in self.points["score"]}
        for name in dict.fromkeys([*profile.names(), *_kernel_names(registry)]):
            self._plugins[name] = registry[name](profile.args.get(name, {}), handle)
        self.kernel_plugins = [p for p in self._plugins.values() if isinstance(p, KernelPlugin)]
        filters = {ref.name for ref in self.points["filter"]}
        for plugin in self.kernel_plugins:
            plugin.filter_enabled = plugin.NAME in filters
        self.profile = self._kernel_profile()
        self.python = {p: self._python_at(p) for p in points}
        self.queries = QueryCache()

    def _python_at(self, point: str) -> list[Any]:
        found = [self._plugins[ref.name] for ref in self.points[point]]
        return [p for p in found if not isinstance(p, KernelPlugin)]

    def _kernel_profile(self) -> Profile:
        fields: dict[str, Any] = dict(_ZERO_WEIGHTS)
        for plugin in self.kernel_plugins:
            weight = self.weights.get(plugin.NAME, 0)
            if weight:
                fields.update(plugin.profile_fields(weight))
        return Profile(**fields)

    def plugin(self, name: str) -> Any:
        return self._plugins[name]

    @property
    def table(self) -> NodeTable:
        return self.handle.cache.table

    @property
    def kernel_only(self) -> bool:
        """No Python filter or score: the kernel's choice is final (batching allowed)."""
        return not (self.python["filter"] or self.python["score"])

    # -- filtering and scoring --------------------------------------------------------------

    def compile(self, requirements: PodRequirements) -> Query:
        compiled_profile(self.table, self.profile)  # may add resource columns: first
        return compile_query(self.table, requirements)

    def _prepare(self, state: CycleState, pod: Pod) -> tuple[PodRequirements, Query] | Status:
        """pre_filter and compile, or the compiled query of an earlier pod with this spec."""
        key = self.queries.key(pod, self.handle.cache)
        compiled_profile(self.table, self.profile)  # may add resource columns: first
        hit = self.queries.get(key, self.table)
        plugins = (
            self.python["pre_filter"] if hit else [*self.kernel_plugins, *self.python["pre_filter"]]
        )
        for plugin in plugins:
            status: Result = plugin.pre_filter(state, pod)
            if not is_success(status):
                assert status is not None
                return status.with_plugin(plugin.NAME)
        if hit is not None:
            return hit
        requirements = PodRequirements(**state.requirements)
        query = self.compile(requirements)
        self.queries.put(key, self.table, requirements, query)
        return requirements, query

    def schedule(self, pod: Pod, *, rng: kernels.Rng | None = None) -> ScheduleResult:
        state = CycleState()
        prepared = self._prepare(state, pod)
        if isinstance(prepared, Status):
            reasons = Counter({prepared.message: len(self.table)})
            failure = FitFailure(fit_message(len(self.table), reasons), reasons, len(self.table))
            return ScheduleResult(state, None, failure=failure, status=prepared)
        requirements, query = prepared
        profile = compiled_profile(self.table, self.profile)
        extra = self._kernel_python_scores(state, pod)
        if extra:
            state.data["python_scored"] = True
        if self.kernel_only and not extra:
            decision = kernels.schedule(self.table, query, profile, rng=rng)
            if decision.index >= 0:
                return ScheduleResult(state, requirements, node=self.table.names[decision.index])
            return ScheduleResult(state, requirements, failure=self._failure(query, decision))
        return self._with_python(state, pod, requirements, query, rng, extra)

    def _kernel_python_scores(
        self, state: CycleState, pod: Pod
    ) -> list[tuple[int, dict[str, int]]]:
        out = []
        for plugin in self.kernel_plugins:
            weight = self.weights.get(plugin.NAME, 0)
            if plugin.PYTHON_SCORE and weight:
                scores = plugin.score_nodes(state, pod)
                if scores is not None:
                    out.append((weight, scores))
        return out

    def _failure(
        self, query: Query, decision: kernels.Decision, extra: Counter[str] | None = None
    ) -> FitFailure:
        reasons = kernel_reasons(self.table, query, decision.fails)
        reasons.update(extra or {})
        n = len(self.table)
        return FitFailure(fit_message(n, reasons), reasons, n)

    def _with_python(
        self,
        state: CycleState,
        pod: Pod,
        requirements: PodRequirements,
        query: Query,
        rng: kernels.Rng | None,
        extra: list[tuple[int, dict[str, int]]],
    ) -> ScheduleResult:
        profile = compiled_profile(self.table, self.profile)
        decision = kernels.schedule(self.table, query, profile, rng=rng, scores=True)
        assert decision.scores is not None
        totals = {
            self.table.names[i]: int(s) for i, s in enumerate(decision.scores.tolist()) if s >= 0
        }
        rejected: Counter[str] = Counter()
        totals = self._python_filter(state, pod, totals, rejected)
        if not totals:
            return ScheduleResult(
                state, requirements, failure=self._failure(query, decision, rejected)
            )
        self._python_score(state, pod, totals)
        for weight, scores in extra:
            for name in totals:
                totals[name] += weight * scores.get(name, 0)
        best = max(totals.values())
        ties = sorted(n for n, s in totals.items() if s == best)
        return ScheduleResult(state, requirements, node=random.choice(ties))

    def _python_filter(
        self, state: CycleState, pod: Pod, totals: dict[str, int], rejected: Counter[str]
    ) -> dict[str, int]:
        cache = self.handle.cache
        out = {}
        for name, total in totals.items():
            info = NodeInfo(name, cache.nodes[name], cache.pods_on(name))
            for plugin in self.python["filter"]:
                status = plugin.filter(state, pod, info)
                if not is_success(status):
                    rejected[(status.message if status else "") or plugin.NAME] += 1
                    break
            else:
                out[name] = total
        return out

    def _python_score(self, state: CycleState, pod: Pod, totals: dict[str, int]) -> None:
        nodes = list(totals)
        for plugin in self.python["pre_score"]:
            plugin.pre_score(state, pod, nodes)
        for plugin in self.python["score"]:
            scores = {n: int(plugin.score(state, pod, n)) for n in nodes}
            if hasattr(plugin, "normalize_score"):
                plugin.normalize_score(state, pod, scores)
            weight = self.weights.get(plugin.NAME, 1)
            for n in nodes:
                totals[n] += weight * scores[n]

    def fits(self, requirements: PodRequirements, node: str) -> bool:
        """Would the kernel's filters accept `node` for these requirements?"""
        query = self.compile(dataclasses.replace(requirements, node_name=node))
        profile = compiled_profile(self.table, self.profile)
        return kernels.schedule(self.table, query, profile, lowest=True).index >= 0

    def feasible(self, requirements: PodRequirements) -> list[str]:
        query = self.compile(requirements)
        profile = compiled_profile(self.table, self.profile)
        decision = kernels.schedule(self.table, query, profile, lowest=True, scores=True)
        assert decision.scores is not None
        return [self.table.names[i] for i in np.flatnonzero(decision.scores >= 0).tolist()]

    def place_batch(self, requirements: PodRequirements, count: int) -> list[str | None]:
        query = self.compile(requirements)
        profile = compiled_profile(self.table, self.profile)
        rows, _ = kernels.place_batch(self.table, query, profile, count)
        return [self.table.names[r] if r >= 0 else None for r in rows.tolist()]

    # -- after the choice -------------------------------------------------------------------

    def post_filter(
        self, state: CycleState, pod: Pod, failure: FitFailure
    ) -> PostFilterResult | None:
        for plugin in self._all_at("post_filter"):
            result: PostFilterResult | None = plugin.post_filter(state, pod, failure)
            if result is not None and result.nominated_node:
                return result
        return None

    def reserve(self, state: CycleState, pod: Pod, node: str) -> Result:
        done: list[Any] = []
        for plugin in self._all_at("reserve"):
            status: Result = plugin.reserve(state, pod, node)
            if not is_success(status):
                self._unreserve(done, state, pod, node)
                return status
            done.append(plugin)
        return None

    def unreserve(self, state: CycleState, pod: Pod, node: str) -> None:
        self._unreserve(self._all_at("reserve"), state, pod, node)

    @staticmethod
    def _unreserve(plugins: Sequence[Any], state: CycleState, pod: Pod, node: str) -> None:
        for plugin in reversed(plugins):
            if hasattr(plugin, "unreserve"):
                plugin.unreserve(state, pod, node)

    def permit(self, state: CycleState, pod: Pod, node: str) -> Result:
        """None, a rejection (or error) from the first plugin that refuses, or Wait: then the
        pod is a WaitingPod until the waiting plugins allow it (see `wait_on_permit`)."""
        timeouts: dict[str, float] | None = None
        for plugin in self._all_at("permit"):
            status: Result = plugin.permit(state, pod, node)
            if is_success(status):
                continue
            assert status is not None
            if status.code != Code.Wait:
                return status.with_plugin(plugin.NAME)
            if timeouts is None:
                timeouts = {}
            timeouts[plugin.NAME] = status.timeout
        if timeouts is None:
            return None
        self.waiting.add(WaitingPod(pod, node, timeouts))
        return Status(Code.Wait, (_WAIT_MESSAGE,))

    async def wait_on_permit(self, pod: Pod) -> Result:
        """For a pod permit answered Wait: None once allowed, else the rejecting Status."""
        waiting = self.waiting.entry(waiting_key(pod))
        if waiting is None:
            return None
        try:
            return await waiting.wait()
        finally:
            waiting.reject("", "the scheduler stopped waiting")  # no-op once settled
            self.waiting.remove(waiting)

    async def bind(self, state: CycleState, pod: Pod, node: str) -> Result:
        for plugin in self._all_at("bind"):
            pending = plugin.bind(state, pod, node)
            status: Result = await pending if inspect.isawaitable(pending) else pending
            if status is None or status.code != Code.Skip:
                return status
        return Status.error("no bind plugin bound the pod")

    def _all_at(self, point: str) -> list[Any]:
        return [self._plugins[ref.name] for ref in self.points[point]]


_WAIT_MESSAGE = "one or more plugins asked to wait and no plugin rejected pod"


def _kernel_names(registry: Registry) -> list[str]:
    return [n for n, cls in registry.items() if issubclass(cls, KernelPlugin)]


def kernel_reasons(table: NodeTable, query: Query, fails: np.ndarray) -> Counter[str]:
    """Per-reason node counts from the kernel's failure slots, taints named as Kubernetes
    names them ("node(s) had untolerated taint {key: value}")."""
    reasons: Counter[str] = Counter()
    for slot, count in enumerate(fails.tolist()):
        if not count:
            continue
        if slot == _TAINT_SLOT:
            reasons.update(taint_reasons(table, query, count))
        elif slot < kernels.FAIL_RESOURCE_BASE:
            reasons[kernels.FAIL_REASONS[slot]] += count
        else:
            name = table.resources[slot - kernels.FAIL_RESOURCE_BASE]
            reasons["Too many pods" if name == "pods" else f"Insufficient {name}"] += count
    return reasons


_TAINT_SLOT = 2


def taint_reasons(table: NodeTable, query: Query, count: int) -> Counter[str]:
    """The first untolerated taint of each node the taint filter rejected."""
    a = table.arrays()
    hit = (a.taints & query.hard_bad[: a.taints.shape[1]]).any(axis=1)
    if not query.tolerates_unschedulable:
        hit &= a.unschedulable == 0
    if query.node_index >= 0:
        hit &= np.arange(a.n) == query.node_index
    out: Counter[str] = Counter()
    for i in np.flatnonzero(hit).tolist():
        for taint in table.node_taints(table.names[i]):
            bit = table.taint_vocab.get(taint)
            if bit is not None and int(query.hard_bad[bit // 64]) >> (bit % 64) & 1:
                out[f"node(s) had untolerated taint {{{taint[0]}: {taint[1]}}}"] += 1
                break
    if sum(out.values()) != count:
        return Counter({kernels.FAIL_REASONS[_TAINT_SLOT]: count})
    return out


def fit_message(nodes: int, reasons: Counter[str] | dict[str, int]) -> str:
    """kube-scheduler's FitError: '0/5 nodes are available: 3 Insufficient cpu, ...'."""
    parts = sorted(f"{count} {reason}" for reason, count in reasons.items() if count)
    head = f"0/{nodes} nodes are available:"
    return f"{head} {', '.join(parts)}." if parts else head


__all__ = ["Framework", "ScheduleResult", "fit_message", "implements", "kernel_reasons"]
