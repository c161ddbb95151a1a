"""The extension points a plugin may implement, and what they are handed.

A plugin is a class with a `NAME`, built as `cls(args, handle)` from its pluginConfig args and
the framework's handle (the scheduler cache, the client). It implements only the points it
needs, as methods named after them:

    pre_filter(state, pod) -> Result              once per pod, before any node is looked at
    filter(state, pod, node) -> Result            per node that passed the built-in filters
    post_filter(state, pod, failure) -> PostFilterResult   when no node fits (preemption)
    pre_score(state, pod, nodes) -> Result        once, over the feasible node names
    score(state, pod, node) -> int                0..100 per feasible node
    normalize_score(state, pod, scores) -> Result rescale `scores` (name -> int) in place
    reserve(state, pod, node) -> Result           after the choice; unreserve(...) undoes it
    permit(state, pod, node) -> Result            Status.wait(timeout) holds the pod, reserved,
                                                  until allowed, rejected or timed out
    bind(state, pod, node) -> Result              async; Skip lets the next binder bind

Permit, as in Kubernetes: any rejection wins (the pod is unreserved and fails as unschedulable:
"0/1 nodes are available: <reason>.", FailedScheduling, PodScheduled=False, the unschedulable
queue; an error status is retried after backoff); otherwise, if some plugins answered Wait, the
pod becomes a `WaitingPod` (one pending entry per waiting plugin, with its deadline), stays
assumed on its node, and its binding task waits until every one of them has `allow`ed it. A
`reject` or a plugin's timeout unreserves the pod, forgets it from the cache and fails it as
unschedulable (FailedScheduling, PodScheduled=False, requeued). Plugins reach waiting pods
through the handle's `get_waiting_pod(uid)` and `iterate_over_waiting_pods(fn)`; a gang plugin
waits until N pods of its group are waiting, then allows them all.

The built-in filter and score plugins are `KernelPlugin`s: their pre_filter writes their part
of the pod's compiled requirements into `state.requirements`, their score weight goes into
the kernel's Profile, and the fused Cython kernel runs them all in one pass over the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from kcore.api.core import Node, Pod
from kcore.scheduler.framework.status import Result
from kcore.scheduler.framework.waiting import WaitingPod

if TYPE_CHECKING:
    from kcore.client.rest import Client
    from kcore.scheduler.cache import SchedulerCache

EXTENSION_POINTS = (
    "pre_filter",
    "filter",
    "post_filter",
    "pre_score",
    "score",
    "normalize_score",
    "reserve",
    "permit",
    "bind",
)


@dataclass
class CycleState:
    """Per-pod scratch space shared by the plugins during one scheduling attempt."""

    requirements: dict[str, Any] = field(default_factory=dict)
    """PodRequirements fields written by the built-ins' pre_filter."""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeInfo:
    """A node as a Python filter sees it: the object and the pods the cache has on it."""

    name: str
    node: Node
    pods: list[Pod]


@dataclass(frozen=True)
class FitFailure:
    """Why no node fit: the framework's message and per-reason node counts."""

    message: str
    reasons: Mapping[str, int]
    nodes: int


@dataclass(frozen=True)
class PostFilterResult:
    nominated_node: str | None
    message: str = ""


class Handle(Protocol):
    """What plugins may reach: the cache (node table, pods), the API client and the pods
    waiting at permit."""

    @property
    def cache(self) -> SchedulerCache: ...

    @property
    def client(self) -> Client | None: ...

    def get_waiting_pod(self, uid: str) -> WaitingPod | None: ...

    def iterate_over_waiting_pods(self, fn: Callable[[WaitingPod], None]) -> None: ...


@runtime_checkable
class Plugin(Protocol):
    NAME: ClassVar[str]


class KernelPlugin:
    """Base of the built-ins whose filter/score runs in the fused kernel."""

    NAME: ClassVar[str] = ""
    POINTS: ClassVar[tuple[str, ...]] = ("pre_filter", "filter")
    """Extension points the kernel runs for this plugin (score is added by PROFILE_WEIGHT)."""
    PROFILE_WEIGHT: ClassVar[str | None] = None
    """The `Profile` field holding this plugin's score weight, if it scores."""

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.args = dict(args)
        self.handle = handle
        self.filter_enabled = True

    def pre_filter(self, state: CycleState, pod: Pod) -> Result:
        return None

    PYTHON_SCORE: ClassVar[bool] = False
    """True if the plugin also scores some pods in Python (`score_nodes`)."""

    @classmethod
    def implements(cls, point: str) -> bool:
        scores = cls.PROFILE_WEIGHT is not None or cls.PYTHON_SCORE
        return point in cls.POINTS or (point == "score" and scores)

    def score_nodes(self, state: CycleState, pod: Pod) -> dict[str, int] | None:
        """Normalized (0..100) scores for what the kernel cannot score, or None."""
        return None

    def profile_fields(self, weight: int) -> dict[str, Any]:
        """Profile fields this plugin sets when it scores with `weight`."""
        return {self.PROFILE_WEIGHT: weight} if self.PROFILE_WEIGHT else {}


__all__ = [
    "EXTENSION_POINTS",
    "CycleState",
    "FitFailure",
    "Handle",
    "KernelPlugin",
    "NodeInfo",
    "Plugin",
    "PostFilterResult",
]
