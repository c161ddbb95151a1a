"""A pod's status from what its containers are doing: pure functions, no I/O.

The worker gathers one `ContainerView` per container (spec, current and previous runtime
instance, why it is waiting, probe verdicts) and `build_status` turns them into Kubernetes'
PodStatus: phase by kubelet's rules, the four conditions (lastTransitionTime kept while a
condition's status holds), containerStatuses with state/lastState/restartCount/ready/started.
`kubelet_fields` is what of a stored status the kubelet answers for, free of timestamps, so a
worker can tell when someone else changed it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcore.api import timeutil
from kcore.api.core import (
    Container,
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    HostIP,
    Pod,
    PodCondition,
    PodIP,
    PodStatus,
)
from kcore.api.defaults import qos_class
from kcore.kubelet.runtime import ContainerInfo


@dataclass(slots=True)
class ContainerView:
    spec: Container
    info: ContainerInfo | None = None
    previous: ContainerInfo | None = None
    waiting: tuple[str, str] | None = None  # (reason, message) when it cannot run now
    ready: bool = True  # readiness verdict (True without a readiness probe)
    started: bool = True  # startup verdict (True without a startup probe)


def container_id(info: ContainerInfo, runtime: str) -> str:
    return f"{runtime}://{info.id}"


def terminated(info: ContainerInfo, runtime: str) -> ContainerStateTerminated:
    reason = "OOMKilled" if info.oom_killed else ("Completed" if info.exit_code == 0 else "Error")
    return ContainerStateTerminated(
        exit_code=info.exit_code,
        reason=reason,
        message=info.error,
        started_at=info.started_at or None,
        finished_at=info.finished_at or None,
        container_id=container_id(info, runtime),
    )


def _state(view: ContainerView, runtime: str) -> tuple[ContainerState, ContainerState]:
    """(state, lastState) of one container."""
    info, last = view.info, ContainerState()
    if view.previous is not None:
        last = ContainerState(terminated=terminated(view.previous, runtime))
    if info is not None and info.state == "running" and view.waiting is None:
        return ContainerState(running=ContainerStateRunning(started_at=info.started_at)), last
    if view.waiting is not None:
        if info is not None and info.state == "exited":
            last = ContainerState(terminated=terminated(info, runtime))
        reason, message = view.waiting
        return ContainerState(waiting=ContainerStateWaiting(reason=reason, message=message)), last
    if info is not None and info.state == "exited":
        return ContainerState(terminated=terminated(info, runtime)), last
    return ContainerState(waiting=ContainerStateWaiting(reason="ContainerCreating")), last


def container_status(view: ContainerView, runtime: str) -> ContainerStatus:
    state, last = _state(view, runtime)
    running = state.running is not None
    info = view.info
    return ContainerStatus(
        name=view.spec.name,
        state=state,
        last_state=last,
        ready=running and view.ready and view.started,
        restart_count=info.restart_count if info is not None else 0,
        image=view.spec.image,
        image_id=info.image_id if info is not None else "",
        container_id=container_id(info, runtime) if info is not None else "",
        started=running and view.started,
    )


def init_failed(statuses: list[ContainerStatus], restart_policy: str) -> bool:
    """An init container failed and will not be retried."""
    if restart_policy != "Never":
        return False
    return any(
        s.state.terminated is not None and s.state.terminated.exit_code != 0 for s in statuses
    )


def initialized(statuses: list[ContainerStatus]) -> bool:
    return all(
        s.state.terminated is not None and s.state.terminated.exit_code == 0 for s in statuses
    )


def phase(restart_policy: str, init: list[ContainerStatus], main: list[ContainerStatus]) -> str:
    """Kubernetes' getPhase, for a pod whose containers the kubelet knows."""
    if init_failed(init, restart_policy):
        return "Failed"
    if not initialized(init):
        return "Pending"
    running = sum(1 for s in main if s.state.running is not None)
    waiting = sum(
        1 for s in main if s.state.waiting is not None and s.last_state.terminated is None
    )
    stopped = [s for s in main if s.state.terminated is not None or s.last_state.terminated]
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if restart_policy == "Always":
        return "Running"
    if all(s.state.terminated is not None and s.state.terminated.exit_code == 0 for s in stopped):
        return "Succeeded"
    return "Running" if restart_policy == "OnFailure" else "Failed"


def _condition(
    old: dict[str, PodCondition], kind: str, ok: bool, reason: str = "", message: str = ""
) -> PodCondition:
    status = "True" if ok else "False"
    prior = old.get(kind)
    since = prior.last_transition_time if prior and prior.status == status else timeutil.now()
    return PodCondition(
        type=kind,
        status=status,
        last_transition_time=since,
        reason="" if ok else reason,
        message="" if ok else message,
    )


def conditions(
    old: list[PodCondition],
    *,
    sandbox: bool,
    init: list[ContainerStatus],
    main: list[ContainerStatus],
    phase: str,
) -> list[PodCondition]:
    prior = {c.type: c for c in old}
    done = phase in ("Succeeded", "Failed")
    unready = [s.name for s in main if not s.ready]
    ready = not unready and not done
    not_ready_msg = f"containers with unready status: [{' '.join(unready)}]"
    uninit = [s.name for s in init if s.state.terminated is None or s.state.terminated.exit_code]
    ready_reason = "PodCompleted" if done else "ContainersNotReady"
    return [
        _condition(prior, "PodReadyToStartContainers", sandbox and not done),
        _condition(
            prior,
            "Initialized",
            not uninit or done,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(uninit)}]",
        ),
        _condition(prior, "Ready", ready, ready_reason, "" if done else not_ready_msg),
        _condition(prior, "ContainersReady", ready, ready_reason, "" if done else not_ready_msg),
        _condition(prior, "PodScheduled", True),
        # conditions others own (readiness gates, DisruptionTarget...) are kept, as the
        # kubelet's generateAPIPodStatus keeps them
        *(c for c in old if c.type not in KUBELET_CONDITIONS and c.type != "PodScheduled"),
    ]


def build_status(
    pod: Pod,
    *,
    init: list[ContainerView],
    main: list[ContainerView],
    pod_ip: str,
    host_ip: str,
    start_time: str,
    runtime: str,
    failed_reason: str = "",
) -> PodStatus:
    """`failed_reason`: the pod failed as a whole (e.g. DeadlineExceeded), whatever its
    containers say."""
    init_statuses = [container_status(v, runtime) for v in init]
    main_statuses = [container_status(v, runtime) for v in main]
    policy = pod.spec.restart_policy or "Always"
    current = "Failed" if failed_reason else phase(policy, init_statuses, main_statuses)
    return PodStatus(
        phase=current,
        conditions=conditions(
            pod.status.conditions,
            sandbox=bool(pod_ip),
            init=init_statuses,
            main=main_statuses,
            phase=current,
        ),
        host_ip=host_ip,
        host_ips=[HostIP(ip=host_ip)] if host_ip else [],
        pod_ip=pod_ip,
        pod_ips=[PodIP(ip=pod_ip)] if pod_ip else [],
        start_time=start_time,
        init_container_statuses=init_statuses,
        container_statuses=main_statuses,
        qos_class=pod.status.qos_class or qos_class(pod.spec),
        reason=failed_reason,
    )


KUBELET_CONDITIONS = frozenset(
    {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"}
)


def _state_kind(state: ContainerState) -> str:
    if state.running is not None:
        return "running"
    if state.terminated is not None:
        return f"terminated:{state.terminated.exit_code}"
    return "waiting"


def kubelet_fields(status: PodStatus) -> tuple[object, ...]:
    """The facts the kubelet owns in `status` (phase, its conditions, pod IP, each container's
    state, readiness and restarts), comparable between a status built here and the one stored."""
    every = [*status.init_container_statuses, *status.container_statuses]
    return (
        status.phase,
        status.pod_ip,
        sorted((c.type, c.status) for c in status.conditions if c.type in KUBELET_CONDITIONS),
        [(c.name, c.ready, c.restart_count, _state_kind(c.state)) for c in every],
    )
