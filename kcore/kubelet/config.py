"""KubeletConfig: everything one kubelet needs to know about itself, with Kubernetes' defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(kw_only=True)
class KubeletConfig:
    node_name: str
    data_dir: Path
    node_ip: str = "127.0.1.1"
    port: int = 10250  # 0: any free port (tests); the chosen one goes to daemonEndpoints
    runtime: str = "docker"  # "docker" | "fake" (hollow node)
    manifest_dir: Path | None = None
    manifest_url: str = ""
    manifest_url_period: float = 20.0
    file_check_period: float = 2.0
    crash_backoff_base: float = 10.0  # Kubernetes: 10 s doubling ...
    crash_backoff_cap: float = 300.0  # ... to 5 min
    image_backoff_base: float = 10.0
    relist_period: float = 1.0  # how often the runtime is listed for container changes
    resync_period: float = 10.0  # how often each pod worker syncs with nothing new
    lease_period: float = 10.0
    lease_duration: int = 40
    status_period: float = 10.0
    status_report_period: float = 300.0  # report an unchanged node status this often
    max_pods: int = 110
    reserved_memory: int = 100 * 1024 * 1024  # eviction threshold memory.available<100Mi
    register_node: bool = True
    tls: bool = True
    stats: bool = True  # sample cgroups for /stats/summary and /metrics/cadvisor
