"""The built-in plugins, one module each, registered by NAME (see `BUILTINS`).

The filter and score plugins among them are `KernelPlugin`s: their checks run in the fused
Cython kernel. DefaultBinder and DefaultPreemption are plain Python plugins.
"""

from kcore.scheduler.plugins import (
    balanced_allocation,
    default_binder,
    default_preemption,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    taint_toleration,
)

BUILTINS: dict[str, type] = {
    m.PLUGIN.NAME: m.PLUGIN
    for m in (
        node_resources_fit,
        node_name,
        node_unschedulable,
        node_affinity,
        taint_toleration,
        node_ports,
        balanced_allocation,
        inter_pod_affinity,
        pod_topology_spread,
        default_binder,
        default_preemption,
    )
}

__all__ = ["BUILTINS"]
