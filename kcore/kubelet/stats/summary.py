"""The kubelet Summary API (/stats/summary, stats/v1alpha1 shape) from sampler views.

Node figures come from /proc; each pod lists its containers (only containers the kubelet
tracked with a `ContainerRef`), and a pod's cpu and memory are the sums of its containers'
(Docker's cgroupfs driver gives pods no cgroup of their own). Fields a sample lacks are left
out, as the kubelet omits nil pointers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from kcore.api.timeutil import from_timestamp
from kcore.kubelet.stats import columns as c
from kcore.kubelet.stats.refs import ContainerStats, NodeStats

Json = dict[str, Any]


def build_summary(
    node_name: str,
    node: NodeStats | None,
    containers: Iterable[ContainerStats],
    *,
    pod_uids: Collection[str] | None = None,
) -> Json:
    pods: dict[tuple[str, str, str], list[ContainerStats]] = {}
    for stats in containers:
        ref = stats.ref
        if ref is None or (pod_uids is not None and ref.pod_uid not in pod_uids):
            continue
        pods.setdefault((ref.namespace, ref.pod_name, ref.pod_uid), []).append(stats)
    return {
        "node": node_summary(node_name, node),
        "pods": [pod_summary(key, members) for key, members in sorted(pods.items())],
    }


def node_summary(node_name: str, node: NodeStats | None) -> Json:
    out: Json = {"nodeName": node_name, "systemContainers": []}
    if node is None:
        return out
    s, time = node.sample, from_timestamp(node.time)
    out["startTime"] = from_timestamp(node.start_time)
    out["cpu"] = _cpu(time, node.cpu_nano_cores, s.cpu_ns)
    out["memory"] = {
        "time": time,
        "availableBytes": s.mem_available,
        "usageBytes": s.mem_usage,
        "workingSetBytes": s.mem_working_set,
        "rssBytes": s.mem_anon,
        "pageFaults": s.pgfault,
        "majorPageFaults": s.pgmajfault,
    }
    out["rlimit"] = {"time": time, "maxpid": s.pid_max, "curproc": s.procs}
    return out


def pod_summary(key: tuple[str, str, str], members: list[ContainerStats]) -> Json:
    namespace, name, uid = key
    members = sorted(members, key=lambda s: s.ref.container_name if s.ref else "")
    starts = [m.ref.pod_start_time for m in members if m.ref and m.ref.pod_start_time]
    start = min(starts) if starts else min(m.start_time for m in members)
    time = from_timestamp(max(m.time for m in members))
    out: Json = {
        "podRef": {"name": name, "namespace": namespace, "uid": uid},
        "startTime": from_timestamp(start),
        "containers": [container_summary(m) for m in members],
        "cpu": _cpu(time, _sum_or_none(m.cpu_nano_cores for m in members), _sum(members, c.CPU_NS)),
        "memory": _pod_memory(time, members),
    }
    pids = _sum(members, c.PIDS)
    if pids is not None:
        out["process_stats"] = {"process_count": pids}
    return out


def container_summary(stats: ContainerStats) -> Json:
    time = from_timestamp(stats.time)
    memory: Json = {"time": time}
    for field, column in _MEMORY_FIELDS:
        value = stats.get(column)
        if value is not None:
            memory[field] = value
    working = stats.get(c.MEM_WORKING_SET)
    if stats.memory_limit is not None and working is not None:
        memory["availableBytes"] = max(0, stats.memory_limit - working)
    return {
        "name": stats.ref.container_name if stats.ref else stats.container_id,
        "startTime": from_timestamp(stats.start_time),
        "cpu": _cpu(time, stats.cpu_nano_cores, stats.get(c.CPU_NS)),
        "memory": memory,
    }


_MEMORY_FIELDS = (
    ("usageBytes", c.MEM_USAGE),
    ("workingSetBytes", c.MEM_WORKING_SET),
    ("rssBytes", c.MEM_RSS),
    ("pageFaults", c.MEM_PGFAULT),
    ("majorPageFaults", c.MEM_PGMAJFAULT),
)


def _pod_memory(time: str, members: list[ContainerStats]) -> Json:
    memory: Json = {"time": time}
    for field, column in _MEMORY_FIELDS:
        total = _sum(members, column)
        if total is not None:
            memory[field] = total
    return memory


def _cpu(time: str, nano_cores: int | None, core_ns: int | None) -> Json:
    cpu: Json = {"time": time}
    if nano_cores is not None:
        cpu["usageNanoCores"] = nano_cores
    if core_ns is not None:
        cpu["usageCoreNanoSeconds"] = core_ns
    return cpu


def _sum(members: list[ContainerStats], column: int) -> int | None:
    return _sum_or_none(m.get(column) for m in members)


def _sum_or_none(values: Iterable[int | None]) -> int | None:
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total
