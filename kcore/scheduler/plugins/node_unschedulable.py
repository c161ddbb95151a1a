"""NodeUnschedulable: cordoned nodes take only pods tolerating the unschedulable taint.

The kernel checks the node's unschedulable flag against the pod's tolerations; with the
filter disabled the pod is given a toleration for it.
"""

from kcore.api.core import Pod
from kcore.scheduler.framework.interface import CycleState, KernelPlugin
from kcore.scheduler.framework.status import Result
from kcore.scheduler.query import Toleration
from kcore.scheduler.table import UNSCHEDULABLE_TAINT_KEY

NAME = "NodeUnschedulable"


class NodeUnschedulable(KernelPlugin):
    NAME = NAME

    def pre_filter(self, state: CycleState, pod: Pod) -> Result:
        if not self.filter_enabled:
            extra = Toleration(key=UNSCHEDULABLE_TAINT_KEY, operator="Exists", effect="NoSchedule")
            state.requirements.setdefault("tolerations", []).append(extra)
        return None


PLUGIN = NodeUnschedulable
