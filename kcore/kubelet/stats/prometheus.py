"""/metrics/cadvisor and /metrics/resource: the sampler's views under cAdvisor's names.

/metrics/cadvisor labels every series like cAdvisor inside the kubelet (container, id, image,
name, namespace, pod; the node itself is the root container id="/"). /metrics/resource is the
kubelet's small stable set (container/pod/node cpu seconds and working set) that
metrics-server scrapes.
"""

from __future__ import annotations

from collections.abc import Iterable

from kcore.kubelet.stats import columns as c
from kcore.kubelet.stats.exposition import Family, Kind, Labels, render
from kcore.kubelet.stats.refs import ContainerStats, NodeStats

_NS = 1e9

# (name, kind, help, column, divisor); a sample lacking the column gets no series.
_CADVISOR: tuple[tuple[str, Kind, str, int, float], ...] = (
    ("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.",
     c.CPU_NS, _NS),
    ("container_cpu_user_seconds_total", "counter",
     "Cumulative user cpu time consumed in seconds.", c.CPU_USER_NS, _NS),
    ("container_cpu_system_seconds_total", "counter",
     "Cumulative system cpu time consumed in seconds.", c.CPU_SYSTEM_NS, _NS),
    ("container_cpu_cfs_periods_total", "counter",
     "Number of elapsed enforcement period intervals.", c.CFS_PERIODS, 1),
    ("container_cpu_cfs_throttled_periods_total", "counter",
     "Number of throttled period intervals.", c.CFS_THROTTLED_PERIODS, 1),
    ("container_cpu_cfs_throttled_seconds_total", "counter",
     "Total time duration the container has been throttled.", c.CFS_THROTTLED_NS, _NS),
    ("container_memory_usage_bytes", "gauge",
     "Current memory usage in bytes, including all memory regardless of when it was accessed",
     c.MEM_USAGE, 1),
    ("container_memory_working_set_bytes", "gauge", "Current working set in bytes.",
     c.MEM_WORKING_SET, 1),
    ("container_memory_rss", "gauge", "Size of RSS in bytes.", c.MEM_RSS, 1),
    ("container_memory_cache", "gauge", "Number of bytes of page cache memory.", c.MEM_CACHE, 1),
    ("container_memory_swap", "gauge", "Container swap usage in bytes.", c.MEM_SWAP, 1),
    ("container_oom_events_total", "counter",
     "Count of out of memory events observed for the container", c.OOM_KILLS, 1),
    ("container_threads", "gauge", "Number of threads running inside the container", c.PIDS, 1),
)  # fmt: skip


def cadvisor_text(node: NodeStats | None, containers: Iterable[ContainerStats]) -> str:
    families = {name: Family(name, kind, text) for name, kind, text, _, _ in _CADVISOR}
    extra = _extra_families()
    for stats in containers:
        labels = container_labels(stats)
        for name, _, _, column, divisor in _CADVISOR:
            value = stats.get(column)
            if value is not None:
                families[name].add(labels, value / divisor if divisor != 1 else value, stats.time)
        _add_extra(extra, labels, stats)
    if node is not None:
        _add_root(families, extra, node)
    return render([*families.values(), *extra.values()])


def container_labels(stats: ContainerStats) -> Labels:
    ref = stats.ref
    return (
        ("container", ref.container_name if ref else ""),
        ("id", "/" + stats.cgroup_path),
        ("image", ref.image if ref else ""),
        ("name", ref.docker_name if ref else ""),
        ("namespace", ref.namespace if ref else ""),
        ("pod", ref.pod_name if ref else ""),
    )


_ROOT: Labels = (("container", ""), ("id", "/"), ("image", ""), ("name", ""),
                 ("namespace", ""), ("pod", ""))  # fmt: skip


def _extra_families() -> dict[str, Family]:
    return {
        "pgfault": Family("container_memory_failures_total", "counter",
                          "Cumulative count of memory allocation failures."),
        "limit": Family("container_spec_memory_limit_bytes", "gauge",
                        "Memory limit for the container."),
        "start": Family("container_start_time_seconds", "gauge",
                        "Start time of the container since unix epoch in seconds."),
        "seen": Family("container_last_seen", "gauge",
                       "Last time a container was seen by the exporter"),
        "cores": Family("machine_cpu_cores", "gauge", "Number of logical CPU cores."),
        "memory": Family("machine_memory_bytes", "gauge",
                         "Amount of memory installed on the machine."),
    }  # fmt: skip


def _add_extra(extra: dict[str, Family], labels: Labels, stats: ContainerStats) -> None:
    for kind, column in (("pgfault", c.MEM_PGFAULT), ("pgmajfault", c.MEM_PGMAJFAULT)):
        value = stats.get(column)
        if value is not None:
            more = (("failure_type", kind), ("scope", "container"))
            extra["pgfault"].add(labels + more, value, stats.time)
    extra["limit"].add(labels, stats.memory_limit or 0, stats.time)
    extra["start"].add(labels, stats.start_time, stats.time)
    extra["seen"].add(labels, stats.time, stats.time)


def _add_root(families: dict[str, Family], extra: dict[str, Family], node: NodeStats) -> None:
    s, t = node.sample, node.time
    families["container_cpu_usage_seconds_total"].add(_ROOT, s.cpu_ns / _NS, t)
    families["container_memory_usage_bytes"].add(_ROOT, s.mem_usage, t)
    families["container_memory_working_set_bytes"].add(_ROOT, s.mem_working_set, t)
    families["container_memory_rss"].add(_ROOT, s.mem_anon, t)
    extra["cores"].add((), node.cores)
    extra["memory"].add((), s.mem_total)


def resource_text(node: NodeStats | None, containers: Iterable[ContainerStats]) -> str:
    fams = _resource_families()
    pods: dict[tuple[str, str], list[ContainerStats]] = {}
    for stats in containers:
        if stats.ref is None:
            continue
        ref = stats.ref
        labels: Labels = (("container", ref.container_name), ("namespace", ref.namespace),
                  ("pod", ref.pod_name))  # fmt: skip
        _add_cpu_ws(fams, "container", labels, stats.get(c.CPU_NS),
                    stats.get(c.MEM_WORKING_SET), stats.time)  # fmt: skip
        fams["container_start"].add(labels, stats.start_time, stats.time)
        pods.setdefault((ref.namespace, ref.pod_name), []).append(stats)
    for (namespace, pod), members in sorted(pods.items()):
        pod_labels: Labels = (("namespace", namespace), ("pod", pod))
        time = max(m.time for m in members)
        _add_cpu_ws(fams, "pod", pod_labels, _total(members, c.CPU_NS),
                    _total(members, c.MEM_WORKING_SET), time)  # fmt: skip
    if node is not None:
        s = node.sample
        _add_cpu_ws(fams, "node", (), s.cpu_ns, s.mem_working_set, node.time)
    fams["scrape_error"].add((), 0)
    return render(list(fams.values()))


def _resource_families() -> dict[str, Family]:
    fams: dict[str, Family] = {}
    for scope in ("container", "node", "pod"):
        fams[f"{scope}_cpu"] = Family(
            f"{scope}_cpu_usage_seconds_total", "counter",
            f"[STABLE] Cumulative cpu time consumed by the {scope} in core-seconds",
        )  # fmt: skip
        fams[f"{scope}_ws"] = Family(
            f"{scope}_memory_working_set_bytes", "gauge",
            f"[STABLE] Current working set of the {scope} in bytes",
        )  # fmt: skip
    fams["container_start"] = Family(
        "container_start_time_seconds", "gauge",
        "[STABLE] Start time of the container since unix epoch in seconds",
    )  # fmt: skip
    fams["scrape_error"] = Family(
        "scrape_error", "gauge",
        "[ALPHA] 1 if there was an error while getting container metrics, 0 otherwise",
    )  # fmt: skip
    return fams


def _add_cpu_ws(
    fams: dict[str, Family], scope: str, labels: Labels, cpu_ns: int | None,
    working_set: int | None, time: float,
) -> None:  # fmt: skip
    if cpu_ns is not None:
        fams[f"{scope}_cpu"].add(labels, cpu_ns / _NS, time)
    if working_set is not None:
        fams[f"{scope}_ws"].add(labels, working_set, time)


def _total(members: list[ContainerStats], column: int) -> int | None:
    values = [m.get(column) for m in members]
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)
