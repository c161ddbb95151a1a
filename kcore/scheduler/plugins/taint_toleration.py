"""TaintToleration: NoSchedule/NoExecute taints must be tolerated (kernel filter); fewer
untolerated PreferNoSchedule taints score higher (kernel score, normalized and reversed:
`100 - 100*count//max`)."""

from kcore.api.core import Pod
from kcore.scheduler import adapter
from kcore.scheduler.framework.interface import CycleState, KernelPlugin
from kcore.scheduler.framework.status import Result
from kcore.scheduler.query import Toleration

NAME = "TaintToleration"


class TaintToleration(KernelPlugin):
    NAME = NAME
    PROFILE_WEIGHT = "taint_weight"

    def pre_filter(self, state: CycleState, pod: Pod) -> Result:
        tolerations = state.requirements.setdefault("tolerations", [])
        tolerations.extend(adapter.tolerations(pod))
        if not self.filter_enabled:
            tolerations.extend(Toleration(operator="Exists", effect=e) for e in _HARD)
        return None


_HARD = ("NoSchedule", "NoExecute")
PLUGIN = TaintToleration
