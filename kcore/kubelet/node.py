"""The kubelet's Node: registration from the machine's facts, status conditions, Lease heartbeat.

Capacity comes from the machine (cores, memory, pods, ephemeral storage of the data dir);
allocatable subtracts the eviction reserve. Conditions follow the machine: MemoryPressure when
available memory is under the reserve, DiskPressure under 10 % free, PIDPressure over 90 % of
pid_max. The Lease in kube-node-lease is renewed every `lease_period` seconds.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

from kcore.api import timeutil
from kcore.api.coordination import Lease, LeaseSpec
from kcore.api.core import (
    ContainerImage,
    DaemonEndpoint,
    Node,
    NodeAddress,
    NodeCondition,
    NodeDaemonEndpoints,
    NodeSpec,
    NodeStatus,
    NodeSystemInfo,
)
from kcore.api.meta import ObjectMeta, OwnerReference
from kcore.kubelet.config import KubeletConfig

KUBELET_VERSION = "v1.32.4-kcore"
LEASE_NAMESPACE = "kube-node-lease"


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            out[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return out


def os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def system_info(runtime_version: str) -> NodeSystemInfo:
    machine_id = _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id")
    return NodeSystemInfo(
        machine_id=machine_id,
        system_uuid=_read("/sys/class/dmi/id/product_uuid") or machine_id,
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        kernel_version=platform.release(),
        os_image=os_image(),
        container_runtime_version=runtime_version,
        kubelet_version=KUBELET_VERSION,
        kube_proxy_version=KUBELET_VERSION,
        operating_system="linux",
        architecture=_arch(),
    )


def capacity(cfg: KubeletConfig) -> tuple[dict[str, str], dict[str, str]]:
    """(capacity, allocatable) as canonical quantity strings."""
    mem = meminfo().get("MemTotal", 0)
    disk = os.statvfs(cfg.data_dir if cfg.data_dir.exists() else "/")
    storage = disk.f_blocks * disk.f_frsize
    cpus = str(os.cpu_count() or 1)
    cap = {
        "cpu": cpus,
        "memory": f"{mem // 1024}Ki",
        "pods": str(cfg.max_pods),
        "ephemeral-storage": f"{storage // 1024}Ki",
        "hugepages-2Mi": "0",
    }
    alloc = dict(cap)
    alloc["memory"] = f"{max(0, mem - cfg.reserved_memory) // 1024}Ki"
    alloc["ephemeral-storage"] = str(storage * 9 // 10)
    return cap, alloc


_FACTS_TTL = 5.0
_facts_cache: dict[tuple[int, str], tuple[float, dict[str, tuple[bool, str, str]]]] = {}


def _pressures(cfg: KubeletConfig) -> dict[str, tuple[bool, str, str]]:
    """type -> (under pressure, reason, message); shared for a few seconds by every kubelet of
    the process (hollow nodes by the thousand would otherwise rescan /proc each)."""
    key = (cfg.reserved_memory, str(cfg.data_dir.parent))
    cached = _facts_cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < _FACTS_TTL:
        return cached[1]
    facts = _measure_pressures(cfg)
    _facts_cache[key] = (time.monotonic(), facts)
    return facts


def _measure_pressures(cfg: KubeletConfig) -> dict[str, tuple[bool, str, str]]:
    info = meminfo()
    mem = info.get("MemAvailable", 1 << 62) < cfg.reserved_memory
    disk = os.statvfs(cfg.data_dir if cfg.data_dir.exists() else "/")
    low_disk = disk.f_bavail < disk.f_blocks // 10
    pid_max = int(_read("/proc/sys/kernel/pid_max", "4194304") or 4194304)
    pids = sum(1 for e in os.scandir("/proc") if e.name.isdigit())
    many = pids > pid_max * 9 // 10
    return {
        "MemoryPressure": (
            mem,
            "KubeletHasInsufficientMemory" if mem else "KubeletHasSufficientMemory",
            f"kubelet has {'insufficient' if mem else 'sufficient'} memory available",
        ),
        "DiskPressure": (
            low_disk,
            "KubeletHasDiskPressure" if low_disk else "KubeletHasNoDiskPressure",
            f"kubelet has {'' if low_disk else 'no '}disk pressure",
        ),
        "PIDPressure": (
            many,
            "KubeletHasInsufficientPID" if many else "KubeletHasSufficientPID",
            f"kubelet has {'insufficient' if many else 'sufficient'} PID available",
        ),
    }


def conditions(cfg: KubeletConfig, old: list[NodeCondition]) -> list[NodeCondition]:
    prior, now = {c.type: c for c in old}, timeutil.now()
    result = []
    facts = dict(_pressures(cfg))
    facts["Ready"] = (True, "KubeletReady", "kubelet is posting ready status")
    for kind, (flag, reason, message) in facts.items():
        status = "True" if flag else "False"
        before = prior.get(kind)
        since = before.last_transition_time if before and before.status == status else now
        result.append(
            NodeCondition(
                type=kind,
                status=status,
                last_heartbeat_time=now,
                last_transition_time=since,
                reason=reason,
                message=message,
            )
        )
    return result


def node_object(cfg: KubeletConfig, *, port: int, runtime_version: str) -> Node:
    cap, alloc = capacity(cfg)
    return Node(
        metadata=ObjectMeta(
            name=cfg.node_name,
            labels={
                "kubernetes.io/hostname": cfg.node_name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": _arch(),
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": _arch(),
            },
            annotations={"node.alpha.kubernetes.io/ttl": "0"},
        ),
        spec=NodeSpec(),
        status=node_status(
            cfg, [], port=port, runtime_version=runtime_version, capacity=cap, allocatable=alloc
        ),
    )


def node_status(
    cfg: KubeletConfig,
    old: list[NodeCondition],
    *,
    port: int,
    runtime_version: str,
    capacity: dict[str, str],
    allocatable: dict[str, str],
    images: Sequence[tuple[list[str], int]] = (),
) -> NodeStatus:
    """The whole status; images largest first, at most 50 (Kubernetes' nodeStatusMaxImages)."""
    biggest = sorted(images, key=lambda i: -i[1])[:50]
    return NodeStatus(
        images=[ContainerImage(names=names, size_bytes=size) for names, size in biggest],
        capacity=dict(capacity),
        allocatable=dict(allocatable),
        conditions=conditions(cfg, old),
        addresses=[
            NodeAddress(type="InternalIP", address=cfg.node_ip),
            NodeAddress(type="Hostname", address=cfg.node_name),
        ],
        daemon_endpoints=NodeDaemonEndpoints(kubelet_endpoint=DaemonEndpoint(port=port)),
        node_info=system_info(runtime_version),
    )


def lease_object(cfg: KubeletConfig, node_uid: str) -> Lease:
    owners = (
        [OwnerReference(api_version="v1", kind="Node", name=cfg.node_name, uid=node_uid)]
        if node_uid
        else []
    )
    return Lease(
        metadata=ObjectMeta(name=cfg.node_name, namespace=LEASE_NAMESPACE, owner_references=owners),
        spec=LeaseSpec(
            holder_identity=cfg.node_name,
            lease_duration_seconds=cfg.lease_duration,
            renew_time=timeutil.micro_now(),
        ),
    )
