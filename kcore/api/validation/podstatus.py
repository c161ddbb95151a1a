"""Pod status validation: what the kubelet and scheduler write must still be well-formed (IPs,
node names, condition types) and terminated containers of pods that do not restart them stay
terminated."""

from __future__ import annotations

from kcore.api import core, names
from kcore.api.errors import Cause
from kcore.api.validation.field import each, forbidden, ip_address

NON_TERMINATED = "may not be transitioned to non-terminated state"


def validate_pod_status(pod: core.Pod, old: core.Pod | None) -> list[Cause]:
    status = pod.status
    causes: list[Cause] = []
    for i, pod_ip in enumerate(status.pod_ips):
        causes += ip_address("status.podIPs", i, pod_ip.ip)
    for i, host_ip in enumerate(status.host_ips):
        causes += ip_address("status.hostIPs", i, host_ip.ip)
    if status.nominated_node_name:
        causes += each(
            "status.nominatedNodeName",
            status.nominated_node_name,
            names.is_dns1123_subdomain(status.nominated_node_name),
        )
    for i, condition in enumerate(status.conditions):
        at = f"status.conditions[{i}].type"
        causes += each(at, condition.type, names.is_qualified_name(condition.type))
    if old is not None:
        causes += _validate_terminations(pod, old)
    return causes


def _validate_terminations(pod: core.Pod, old: core.Pod) -> list[Cause]:
    """A container that terminated for good (restartPolicy Never, or OnFailure after exit 0)
    may not come back to life in a later status."""
    previous = {cs.name: cs.state.terminated for cs in old.status.container_statuses}
    causes: list[Cause] = []
    for i, cs in enumerate(pod.status.container_statuses):
        ended = previous.get(cs.name)
        if ended is None or cs.state.terminated is not None:
            continue
        policy = pod.spec.restart_policy
        if policy == "Never" or (policy == "OnFailure" and ended.exit_code == 0):
            causes.append(forbidden(f"status.containerStatuses[{i}].state", NON_TERMINATED))
    return causes
