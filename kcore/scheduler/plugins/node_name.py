"""NodeName: a pod with spec.nodeName fits only that node (kernel filter)."""

from kcore.api.core import Pod
from kcore.scheduler.framework.interface import CycleState, KernelPlugin
from kcore.scheduler.framework.status import Result

NAME = "NodeName"


class NodeName(KernelPlugin):
    NAME = NAME

    def pre_filter(self, state: CycleState, pod: Pod) -> Result:
        if self.filter_enabled and pod.spec.node_name:
            state.requirements["node_name"] = pod.spec.node_name
        return None


PLUGIN = NodeName
