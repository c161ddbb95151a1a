"""Pod status from container views: phase rules, conditions, container states."""

from __future__ import annotations

import pytest

from kcore.api.core import Container, Pod, PodCondition, PodSpec, PodStatus
from kcore.kubelet.runtime import ContainerInfo
from kcore.kubelet.status import ContainerView, build_status, phase

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"


def info(state: str, exit_code: int = 0, *, oom: bool = False, restarts: int = 0) -> ContainerInfo:
    return ContainerInfo(
        id="abc" + state,
        labels={"io.kubernetes.container.restartCount": str(restarts)},
        state=state,  # type: ignore[arg-type]
        exit_code=exit_code,
        oom_killed=oom,
        image_id="sha256:1",
        started_at=T0,
        finished_at=T1 if state == "exited" else "",
    )


def status_of(
    policy: str, *views: ContainerView, init: tuple[ContainerView, ...] = ()
) -> PodStatus:
    pod = Pod(spec=PodSpec(restart_policy=policy, containers=[v.spec for v in views]))
    return build_status(
        pod,
        init=list(init),
        main=list(views),
        pod_ip="127.64.0.2",
        host_ip="127.0.1.1",
        start_time=T0,
        runtime="docker",
    )


def view(name: str, i: ContainerInfo | None, **kw: object) -> ContainerView:
    return ContainerView(spec=Container(name=name, image="img"), info=i, **kw)  # type: ignore[arg-type]


def test_running_container_is_ready_without_probes() -> None:
    s = status_of("Always", view("a", info("running")))
    assert s.phase == "Running"
    cs = s.container_statuses[0]
    assert cs.ready and cs.started and cs.state.running is not None
    assert cs.container_id == "docker://abcrunning" and cs.image_id == "sha256:1"
    conds = {c.type: c.status for c in s.conditions}
    assert conds == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert s.pod_ips[0].ip == "127.64.0.2" and s.host_ips[0].ip == "127.0.1.1"


def test_unready_probe_makes_the_pod_not_ready_with_kubernetes_message() -> None:
    s = status_of("Always", view("a", info("running"), ready=False), view("b", info("running")))
    ready = next(c for c in s.conditions if c.type == "Ready")
    assert ready.status == "False" and ready.reason == "ContainersNotReady"
    assert ready.message == "containers with unready status: [a]"


def test_crash_loop_is_waiting_with_the_last_termination() -> None:
    v = view("a", info("exited", 2, restarts=3), waiting=("CrashLoopBackOff", "back-off 40s"))
    s = status_of("Always", v)
    cs = s.container_statuses[0]
    assert s.phase == "Running"
    assert cs.state.waiting is not None and cs.state.waiting.reason == "CrashLoopBackOff"
    assert cs.last_state.terminated is not None and cs.last_state.terminated.exit_code == 2
    assert cs.restart_count == 3 and not cs.ready


def test_oom_killed_reason() -> None:
    s = status_of("Never", view("a", info("exited", 137, oom=True)))
    term = s.container_statuses[0].state.terminated
    assert term is not None and term.reason == "OOMKilled" and s.phase == "Failed"


@pytest.mark.parametrize(
    ("policy", "codes", "expected"),
    [
        ("Never", [0, 0], "Succeeded"),
        ("Never", [0, 1], "Failed"),
        ("OnFailure", [0, 0], "Succeeded"),
        ("OnFailure", [1], "Running"),
        ("Always", [0], "Running"),
    ],
)
def test_phase_of_terminated_containers(policy: str, codes: list[int], expected: str) -> None:
    views = [view(f"c{i}", info("exited", code)) for i, code in enumerate(codes)]
    assert status_of(policy, *views).phase == expected


def test_not_yet_created_is_pending_container_creating() -> None:
    s = status_of("Always", view("a", None), view("b", info("running")))
    assert s.phase == "Pending"
    waiting = s.container_statuses[0].state.waiting
    assert waiting is not None and waiting.reason == "ContainerCreating"


def test_init_containers_gate_the_pod() -> None:
    running_init = view("init", info("running"))
    s = status_of("Always", view("a", None), init=(running_init,))
    assert s.phase == "Pending"
    initialized = next(c for c in s.conditions if c.type == "Initialized")
    assert initialized.status == "False" and initialized.message.endswith("[init]")
    failed = status_of("Never", view("a", None), init=(view("init", info("exited", 1)),))
    assert failed.phase == "Failed"


def test_transition_time_kept_while_the_condition_holds() -> None:
    old = [PodCondition(type="Ready", status="True", last_transition_time=T0)]
    pod = Pod(spec=PodSpec(containers=[Container(name="a")]), status=PodStatus(conditions=old))
    s = build_status(
        pod,
        init=[],
        main=[view("a", info("running"))],
        pod_ip="",
        host_ip="",
        start_time=T0,
        runtime="docker",
    )
    assert next(c for c in s.conditions if c.type == "Ready").last_transition_time == T0


def test_phase_function_waiting_without_history_is_pending() -> None:
    s = status_of("Always", view("a", None, waiting=("ErrImagePull", "no")))
    assert phase("Always", [], s.container_statuses) == "Pending"
