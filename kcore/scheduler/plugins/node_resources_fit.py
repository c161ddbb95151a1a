"""NodeResourcesFit: the pod's requests must fit the node's free allocatable (kernel filter);
its scoring strategy (args.scoringStrategy.type) is LeastAllocated `(alloc-req)*100//alloc`,
MostAllocated `req*100//alloc`, or RequestedToCapacityRatio over a piecewise-linear shape, as
a weighted mean over args.scoringStrategy.resources (default cpu and memory, weight 1)."""

from typing import Any

from kcore.api.core import Pod
from kcore.scheduler import adapter
from kcore.scheduler.framework.interface import CycleState, KernelPlugin
from kcore.scheduler.framework.status import Result

NAME = "NodeResourcesFit"


class NodeResourcesFit(KernelPlugin):
    NAME = NAME
    PROFILE_WEIGHT = "fit_weight"

    def pre_filter(self, state: CycleState, pod: Pod) -> Result:
        if self.filter_enabled:
            state.requirements["requests"] = adapter.pod_requests(pod)
        state.requirements["nonzero"] = adapter.pod_nonzero(pod)
        return None

    def profile_fields(self, weight: int) -> dict[str, Any]:
        strategy = self.args.get("scoringStrategy") or {}
        fields: dict[str, Any] = {"fit_weight": weight}
        if "type" in strategy:
            fields["strategy"] = strategy["type"]
        if strategy.get("resources"):
            fields["fit_resources"] = tuple(
                (str(r["name"]), int(r.get("weight", 1))) for r in strategy["resources"]
            )
        shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape")
        if shape:
            fields["shape"] = tuple((int(p["utilization"]), int(p["score"])) for p in shape)
        return fields


PLUGIN = NodeResourcesFit
