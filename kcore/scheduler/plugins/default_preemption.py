"""DefaultPreemption: when no node fits, find lower-priority victims whose eviction would
make room (see kcore/scheduler/preemption.py) and nominate that node; the scheduler deletes
the victims and retries the pod when they are gone."""

from collections.abc import Mapping
from typing import Any, ClassVar

from kcore.api.core import Pod
from kcore.scheduler.framework.interface import CycleState, FitFailure, Handle, PostFilterResult
from kcore.scheduler.preemption import find_candidate

NAME = "DefaultPreemption"


class DefaultPreemption:
    NAME: ClassVar[str] = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle

    def post_filter(
        self, state: CycleState, pod: Pod, failure: FitFailure
    ) -> PostFilterResult | None:
        framework = state.data.get("framework")
        requirements = state.data.get("requirements")
        if framework is None or requirements is None:
            return None
        candidate = find_candidate(self.handle.cache, framework, pod, requirements)
        if candidate is None:
            return PostFilterResult(None, "No preemption victims found for incoming pod.")
        state.data["victims"] = candidate.victims
        return PostFilterResult(candidate.node)


PLUGIN = DefaultPreemption
