"""NodePorts: a pod's host ports must be free on the node (kernel filter over port bitmaps)."""

from kcore.api.core import Pod
from kcore.scheduler import adapter
from kcore.scheduler.framework.interface import CycleState, KernelPlugin
from kcore.scheduler.framework.status import Result

NAME = "NodePorts"


class NodePorts(KernelPlugin):
    NAME = NAME

    def pre_filter(self, state: CycleState, pod: Pod) -> Result:
        if self.filter_enabled:
            state.requirements["host_ports"] = adapter.host_ports(pod)
        return None


PLUGIN = NodePorts
