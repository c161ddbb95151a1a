"""Pods on a real kubelet over real Docker: containers, volumes, probes, restarts, deletion."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from kubelet_support import StartKubelet, bind_to, busybox, node_containers, simple_pod, wait_for

import kcore
from kcore.api import timeutil
from kcore.api.core import (
    ConfigMap,
    ConfigMapVolumeSource,
    ContainerPort,
    EmptyDirVolumeSource,
    EnvVar,
    EnvVarSource,
    Event,
    ExecAction,
    HostPathVolumeSource,
    HTTPGetAction,
    Lifecycle,
    LifecycleHandler,
    ObjectFieldSelector,
    Pod,
    Probe,
    ResourceRequirements,
    Secret,
    SecretKeySelector,
    SecretVolumeSource,
    TCPSocketAction,
    Volume,
    VolumeMount,
)
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta


def running(pod: Pod) -> bool:
    return pod.status.phase == "Running"


def ready(pod: Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


async def test_two_containers_share_an_empty_dir_and_the_pod_ip(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet()
    mount = [VolumeMount(name="shared", mount_path="/shared")]
    pod_ip_env = [
        EnvVar(
            name="MY_IP",
            value_from=EnvVarSource(field_ref=ObjectFieldSelector(field_path="status.podIP")),
        )
    ]
    writer = busybox(
        "writer",
        "sh",
        "-c",
        'echo "$MY_IP $POD_IP" > /shared/ip; sleep 3600',
        volume_mounts=mount,
        env=pod_ip_env,
    )
    reader = busybox(
        "reader",
        "sh",
        "-c",
        'while [ ! -f /shared/ip ]; do sleep 0.1; done; cat /shared/ip; echo "me $POD_IP"; '
        "sleep 3600",
        volume_mounts=mount,
    )
    pod = simple_pod(
        "pair",
        writer,
        reader,
        volumes=[Volume(name="shared", empty_dir=EmptyDirVolumeSource())],
        termination_grace_period_seconds=1,
    )
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    got = await wait_for(cluster.client, "pair", lambda p: running(p) and ready(p))
    ip = got.status.pod_ip
    assert ip.startswith("127.") and [i.ip for i in got.status.pod_ips] == [ip]
    assert got.status.host_ip == kubelet.config.node_ip
    assert {s.name for s in got.status.container_statuses} == {"writer", "reader"}
    assert all(
        s.ready and s.started and s.restart_count == 0 for s in got.status.container_statuses
    )
    log = ""
    for _ in range(50):
        log = await cluster.client.logs("pair", namespace="default", container="reader")
        if "me" in log:
            break
    assert log.splitlines()[:2] == [f"{ip} {ip}", f"me {ip}"]
    reasons: set[str] = set()
    for _ in range(50):
        events = await cluster.client.list(Event, namespace="default")
        reasons = {e.reason for e in events.items if e.involved_object.name == "pair"}
        if {"Pulled", "Created", "Started"} <= reasons:
            break
        await asyncio.sleep(0.1)
    assert {"Pulled", "Created", "Started"} <= reasons


async def test_httpd_with_readiness_probe_turns_ready(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet()
    probe = Probe(
        http_get=HTTPGetAction(path="/index.html", port="web"),
        period_seconds=1,
        initial_delay_seconds=1,
    )
    web = busybox(
        "web",
        "sh",
        "-c",
        "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p $POD_IP:8080 -h /www",
        ports=[ContainerPort(name="web", container_port=8080)],
        readiness_probe=probe,
    )
    pod = simple_pod("web", web, termination_grace_period_seconds=1)
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    first = await wait_for(cluster.client, "web", running)
    assert not ready(first)  # the probe has not passed yet
    got = await wait_for(cluster.client, "web", ready)
    status = got.status.container_statuses[0]
    assert status.ready and status.state.running is not None
    conditions = {c.type: c.status for c in got.status.conditions}
    assert conditions["ContainersReady"] == "True" and conditions["Initialized"] == "True"


async def test_crashing_container_backs_off_with_growing_delays(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet(crash_backoff_base=1.0)
    pod = simple_pod("crash", busybox("crash", "sh", "-c", "echo boom; exit 3"))
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    seen_backoff = False
    gaps: dict[int, float] = {}
    for _ in range(600):
        got = await cluster.client.get(Pod, "crash", namespace="default")
        statuses = got.status.container_statuses
        if statuses:
            s = statuses[0]
            if s.state.waiting is not None and s.state.waiting.reason == "CrashLoopBackOff":
                seen_backoff = True
                assert s.last_state.terminated is not None
                assert s.last_state.terminated.exit_code == 3
            if s.state.running is not None and s.last_state.terminated is not None:
                finished = s.last_state.terminated.finished_at or ""
                gaps.setdefault(
                    s.restart_count,
                    timeutil.to_timestamp(s.state.running.started_at)
                    - timeutil.to_timestamp(finished),
                )
            if s.restart_count >= 4 and seen_backoff:
                break
        await asyncio.sleep(0.1)
    assert seen_backoff
    assert got.status.phase == "Running"
    assert got.status.container_statuses[0].restart_count >= 4
    # restart 2 waited for the base delay (1 s), restart 3 for twice that, restart 4 for 4 s
    # (second-precision times: allow one second of rounding)
    assert gaps.get(3, 99) >= 1 and gaps.get(4, 99) >= 3, gaps
    previous = await cluster.client.logs("crash", namespace="default", previous=True)
    assert previous.strip() == "boom"


async def test_memory_limit_kills_with_oomkilled(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet()
    hog = busybox(
        "hog",
        "sh",
        "-c",
        "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x$x$x; done",
        resources=ResourceRequirements(limits={"memory": "16Mi"}),
    )
    pod = simple_pod("hog", hog, restart_policy="Never")
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    got = await wait_for(cluster.client, "hog", lambda p: p.status.phase == "Failed")
    term = got.status.container_statuses[0].state.terminated
    assert term is not None and term.reason == "OOMKilled" and term.exit_code == 137


async def test_init_containers_run_in_order_before_the_app(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet()
    mount = [VolumeMount(name="work", mount_path="/work")]
    inits = [
        busybox("first", "sh", "-c", "echo first >> /work/order", volume_mounts=mount),
        busybox("second", "sh", "-c", "sleep 0.5; echo second >> /work/order", volume_mounts=mount),
    ]
    app = busybox(
        "app",
        "sh",
        "-c",
        "echo app >> /work/order; cat /work/order; sleep 3600",
        volume_mounts=mount,
    )
    pod = simple_pod(
        "inits",
        app,
        init_containers=inits,
        termination_grace_period_seconds=1,
        volumes=[Volume(name="work", empty_dir=EmptyDirVolumeSource())],
    )
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    pending = await wait_for(cluster.client, "inits", lambda p: bool(p.status.phase))
    got = await wait_for(cluster.client, "inits", running)
    inits_done = got.status.init_container_statuses
    assert [s.name for s in inits_done] == ["first", "second"]
    assert all(s.state.terminated and s.state.terminated.reason == "Completed" for s in inits_done)
    for _ in range(50):
        log = await cluster.client.logs("inits", namespace="default", container="app")
        if "app" in log:
            break
        await asyncio.sleep(0.1)
    assert log.split() == ["first", "second", "app"]
    assert pending.status.phase in ("Pending", "Running")


async def test_failing_init_container_with_never_fails_the_pod(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet()
    pod = simple_pod(
        "badinit",
        busybox("app", "sleep", "3600"),
        init_containers=[busybox("init", "sh", "-c", "exit 7")],
        restart_policy="Never",
    )
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    got = await wait_for(cluster.client, "badinit", lambda p: p.status.phase == "Failed")
    term = got.status.init_container_statuses[0].state.terminated
    assert term is not None and term.exit_code == 7
    assert got.status.container_statuses[0].state.waiting is not None


async def test_deleted_pod_stops_within_its_grace_period(
    cluster: kcore.Cluster, start_kubelet: StartKubelet, docker_client: Any
) -> None:
    kubelet = await start_kubelet()
    stubborn = busybox("stubborn", "sh", "-c", "trap '' TERM; while :; do sleep 0.2; done")
    pod = simple_pod("bye", stubborn, termination_grace_period_seconds=2)
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    await wait_for(cluster.client, "bye", running)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await cluster.client.delete(Pod, "bye", namespace="default")
    while loop.time() - started < 30:
        try:
            await cluster.client.get(Pod, "bye", namespace="default")
        except StatusError as e:
            assert e.code == 404
            break
        await asyncio.sleep(0.1)
    gone_after = loop.time() - started
    assert gone_after < 30
    assert node_containers(docker_client, kubelet.config.node_name) == []
    # SIGTERM was ignored, so the kubelet waited the grace period before SIGKILL
    assert gone_after >= 2


async def test_missing_image_gives_err_image_pull_and_others_still_run(
    cluster: kcore.Cluster, start_kubelet: StartKubelet
) -> None:
    kubelet = await start_kubelet()
    node = kubelet.config.node_name
    ghost = simple_pod("ghost", busybox("ghost", "true", image="kcore-test/nope:1"))
    fine = simple_pod("fine", busybox("fine", "sleep", "3600"), termination_grace_period_seconds=1)
    await cluster.client.create(bind_to(ghost, node))
    await cluster.client.create(bind_to(fine, node))
    reasons: set[str] = set()
    for _ in range(300):
        got = await cluster.client.get(Pod, "ghost", namespace="default")
        for s in got.status.container_statuses:
            if s.state.waiting is not None:
                reasons.add(s.state.waiting.reason)
        if {"ErrImagePull", "ImagePullBackOff"} <= reasons:
            break
        await asyncio.sleep(0.1)
    assert {"ErrImagePull", "ImagePullBackOff"} <= reasons
    assert got.status.phase == "Pending"
    await wait_for(cluster.client, "fine", lambda p: running(p) and ready(p))


async def test_lifecycle_hooks_and_host_network(
    cluster: kcore.Cluster, start_kubelet: StartKubelet, tmp_path: Path
) -> None:
    kubelet = await start_kubelet()
    shared = tmp_path / "hooks"
    shared.mkdir()
    hooks = Lifecycle(
        post_start=LifecycleHandler(exec=ExecAction(command=["sh", "-c", "echo up > /h/post"])),
        pre_stop=LifecycleHandler(exec=ExecAction(command=["sh", "-c", "echo $POD_IP > /h/pre"])),
    )
    c = busybox(
        "c",
        "sleep",
        "3600",
        lifecycle=hooks,
        volume_mounts=[VolumeMount(name="h", mount_path="/h")],
    )
    pod = simple_pod(
        "hooked",
        c,
        host_network=True,
        termination_grace_period_seconds=5,
        volumes=[Volume(name="h", host_path=HostPathVolumeSource(path=str(shared)))],
    )
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    got = await wait_for(cluster.client, "hooked", running)
    assert got.status.pod_ip == kubelet.config.node_ip
    assert (shared / "post").read_text() == "up\n"  # postStart ran before Running
    await cluster.client.delete(Pod, "hooked", namespace="default")
    for _ in range(200):
        if (shared / "pre").exists():
            break
        await asyncio.sleep(0.1)
    assert (shared / "pre").read_text().strip() == kubelet.config.node_ip


async def test_config_map_and_secret_volumes_env_tcp_probe_and_cpu_limits(
    cluster: kcore.Cluster, start_kubelet: StartKubelet, docker_client: Any
) -> None:
    kubelet = await start_kubelet()
    await cluster.client.create(
        ConfigMap(metadata=ObjectMeta(name="conf", namespace="default"), data={"greeting": "hi"})
    )
    secret = base64.b64encode(b"s3cret").decode()
    await cluster.client.create(
        Secret(metadata=ObjectMeta(name="creds", namespace="default"), data={"password": secret})
    )
    mounts = [
        VolumeMount(name="conf", mount_path="/etc/conf"),
        VolumeMount(name="creds", mount_path="/etc/creds"),
    ]
    env = [
        EnvVar(
            name="PASSWORD",
            value_from=EnvVarSource(secret_key_ref=SecretKeySelector(name="creds", key="password")),
        )
    ]
    script = (
        'echo "$(cat /etc/conf/greeting) $(cat /etc/creds/password) $PASSWORD"; '
        "exec httpd -f -p $POD_IP:9090"
    )
    c = busybox(
        "app",
        "sh",
        "-c",
        script,
        volume_mounts=mounts,
        env=env,
        startup_probe=Probe(exec=ExecAction(command=["true"]), period_seconds=1),
        readiness_probe=Probe(tcp_socket=TCPSocketAction(port=9090), period_seconds=1),
        resources=ResourceRequirements(limits={"cpu": "250m", "memory": "64Mi"}),
    )
    pod = simple_pod(
        "configured",
        c,
        termination_grace_period_seconds=1,
        volumes=[
            Volume(name="conf", config_map=ConfigMapVolumeSource(name="conf")),
            Volume(name="creds", secret=SecretVolumeSource(secret_name="creds")),
        ],
    )
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    got = await wait_for(cluster.client, "configured", ready)
    assert got.status.container_statuses[0].started
    for _ in range(50):
        log = await cluster.client.logs("configured", namespace="default")
        if log:
            break
        await asyncio.sleep(0.1)
    assert log.strip() == "hi s3cret s3cret"
    cid = got.status.container_statuses[0].container_id.removeprefix("docker://")
    host = docker_client.api.inspect_container(cid)["HostConfig"]
    assert host["CpuQuota"] == 25_000 and host["CpuPeriod"] == 100_000
    assert host["CpuShares"] == 256 and host["Memory"] == 64 * 1024 * 1024
    assert host["NetworkMode"] == "host"
