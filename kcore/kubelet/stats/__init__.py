"""Node and container resource stats, like cAdvisor inside the kubelet.

A `Sampler` reads cgroup files (v1 or v2) of every container each housekeeping interval into a
bounded history; `StatsProvider` runs it on the event loop and exports the Summary API
(/stats/summary), cAdvisor's Prometheus metrics (/metrics/cadvisor) and the kubelet's resource
metrics (/metrics/resource).
"""

from kcore.kubelet.stats.provider import StatsProvider
from kcore.kubelet.stats.refs import ContainerRef, ContainerStats, NodeStats

__all__ = ["ContainerRef", "ContainerStats", "NodeStats", "StatsProvider"]
