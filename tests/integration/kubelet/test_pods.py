"""Pods on a real kubelet over real Docker: containers, volumes, probes, restarts, deletion."""

from __future__ import annotations

from typing import Any

from conftest import StartKubelet, bind_to, busybox, node_containers, simple_pod, wait_for

import kcore
from kcore.api.core import (
    EmptyDirVolumeSource,
    EnvVar,
    EnvVarSource,
    ObjectFieldSelector,
    Pod,
    Volume,
    VolumeMount,
)


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
        "writer", "sh", "-c", 'echo "$MY_IP $POD_IP" > /shared/ip; sleep 3600',
        volume_mounts=mount, env=pod_ip_env,
    )
    reader = busybox(
        "reader", "sh", "-c",
        'while [ ! -f /shared/ip ]; do sleep 0.1; done; cat /shared/ip; echo "me $POD_IP"; '
        "sleep 3600",
        volume_mounts=mount,
    )
    pod = simple_pod(
        "pair", writer, reader, volumes=[Volume(name="shared", empty_dir=EmptyDirVolumeSource())],
        termination_grace_period_seconds=1,
    )
    await cluster.client.create(bind_to(pod, kubelet.config.node_name))
    got = await wait_for(cluster.client, "pair", lambda p: running(p) and ready(p))
    ip = got.status.pod_ip
    assert ip.startswith("127.") and [i.ip for i in got.status.pod_ips] == [ip]
    assert got.status.host_ip == kubelet.config.node_ip
    assert {s.name for s in got.status.container_statuses} == {"writer", "reader"}
    assert all(s.ready and s.started and s.restart_count == 0 for s in got.status.container_statuses)
    log = ""
    for _ in range(50):
        log = await cluster.client.logs("pair", namespace="default", container="reader")
        if "me" in log:
            break
    assert log.splitlines()[:2] == [f"{ip} {ip}", f"me {ip}"]
