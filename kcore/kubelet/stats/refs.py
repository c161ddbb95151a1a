"""What the kubelet tells the sampler about a container, and what the sampler hands back.

`ContainerRef` names a container in Kubernetes terms (pod, namespace, uid, container name,
image); the sampler itself only knows cgroup ids. `ContainerStats` and `NodeStats` are the
immutable views the exporters (Summary API, Prometheus) read after a pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcore.kubelet.stats import columns as c
from kcore.kubelet.stats.procfs import NodeSample


@dataclass(frozen=True, slots=True)
class ContainerRef:
    pod_name: str
    namespace: str
    pod_uid: str
    container_name: str
    image: str = ""
    docker_name: str = ""  # the runtime's own name, cAdvisor's `name` label
    start_time: float | None = None  # unix seconds; the first sample's time when unknown
    pod_start_time: float | None = None


@dataclass(frozen=True, slots=True)
class ContainerStats:
    container_id: str
    cgroup_path: str  # relative to the controller mount, e.g. "docker/<id>"
    ref: ContainerRef | None
    time: float  # unix seconds of the sample
    start_time: float
    values: tuple[int, ...]  # indexed by kcore.kubelet.stats.columns
    cpu_nano_cores: int | None  # from the last two samples; None after a single one
    memory_limit: int | None

    def get(self, column: int) -> int | None:
        value = self.values[column]
        return None if value == c.ABSENT else value


@dataclass(frozen=True, slots=True)
class NodeStats:
    sample: NodeSample
    time: float
    start_time: float  # boot time, unix seconds
    cpu_nano_cores: int | None
    cores: int
