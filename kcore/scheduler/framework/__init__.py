"""The scheduling framework: plugins registered by name, run at Kubernetes' extension points
(pre_filter, filter, post_filter, pre_score, score, normalize_score, reserve, permit, bind).

The built-in filters and scores are the fused Cython kernel's fast path; a user's Python
plugin, registered by name and enabled in a profile, runs beside them. See interface.py for
the plugin contract and runtime.py for the order things run in.
"""

from kcore.scheduler.framework.interface import (
    EXTENSION_POINTS,
    CycleState,
    FitFailure,
    Handle,
    KernelPlugin,
    NodeInfo,
    Plugin,
    PostFilterResult,
)
from kcore.scheduler.framework.registry import Registry, builtin_registry, load_plugin
from kcore.scheduler.framework.runtime import Framework, ScheduleResult, fit_message
from kcore.scheduler.framework.status import Code, Result, Status, is_rejection, is_success
from kcore.scheduler.framework.waiting import WaitingPod, WaitingPods

__all__ = [
    "EXTENSION_POINTS",
    "Code",
    "CycleState",
    "FitFailure",
    "Framework",
    "Handle",
    "KernelPlugin",
    "NodeInfo",
    "Plugin",
    "PostFilterResult",
    "Registry",
    "Result",
    "ScheduleResult",
    "Status",
    "WaitingPod",
    "WaitingPods",
    "builtin_registry",
    "fit_message",
    "is_rejection",
    "is_success",
    "load_plugin",
]
