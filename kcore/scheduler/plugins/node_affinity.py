"""NodeAffinity: nodeSelector and required node affinity terms (kernel filter: In, NotIn,
Exists, DoesNotExist, Gt, Lt; matchFields on metadata.name); preferred terms score the sum of
matching weights, normalized to `100*sum//max`."""

from kcore.api.core import Pod
from kcore.scheduler import adapter
from kcore.scheduler.framework.interface import CycleState, KernelPlugin
from kcore.scheduler.framework.status import Result, Status

NAME = "NodeAffinity"


class NodeAffinity(KernelPlugin):
    NAME = NAME
    PROFILE_WEIGHT = "node_affinity_weight"

    def pre_filter(self, state: CycleState, pod: Pod) -> Result:
        try:
            required, preferred = adapter.node_affinity(pod)
        except ValueError as exc:
            return Status.unschedulable(str(exc), resolvable=False)
        if self.filter_enabled:
            state.requirements["node_selector"] = dict(pod.spec.node_selector)
            state.requirements["required_terms"] = required
        state.requirements["preferred_terms"] = preferred
        return None


PLUGIN = NodeAffinity
