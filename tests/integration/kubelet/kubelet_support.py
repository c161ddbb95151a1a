"""Helpers for the kubelet tests on real Docker, imported by this unique module name (a bare
`from conftest import ...` resolves to whichever conftest was imported last in a full run)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from kcore.api.core import Container, Pod, PodSpec
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client import Client
from kcore.kubelet import Kubelet

IMAGE = "kcore-test/busybox:1"
NODE_LABEL = "io.kcore.node"


def node_containers(docker_client: Any, node: str) -> list[Any]:
    found = docker_client.containers.list(
        all=True, sparse=True, filters={"label": f"{NODE_LABEL}={node}"}
    )
    return list(found)


StartKubelet = Callable[..., Awaitable[Kubelet]]


def simple_pod(name: str, *containers: Container, **spec: Any) -> Pod:
    return Pod(
        metadata=ObjectMeta(name=name, namespace="default"),
        spec=PodSpec(containers=list(containers), **spec),
    )


def busybox(name: str, *command: str, **fields: Any) -> Container:
    fields.setdefault("image", IMAGE)
    fields.setdefault("image_pull_policy", "IfNotPresent")
    return Container(name=name, command=list(command) if command else [], **fields)


async def wait_for(
    client: Client,
    name: str,
    check: Callable[[Pod], bool],
    *,
    within: float = 60.0,
    namespace: str = "default",
) -> Pod:
    """Poll the pod until `check` holds; fail with its last status after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    pod: Pod | None = None
    while loop.time() < deadline:
        try:
            pod = await client.get(Pod, name, namespace=namespace)
        except StatusError as e:
            if e.code != 404:
                raise
            pod = None
        if pod is not None and check(pod):
            return pod
        await asyncio.sleep(0.2)
    raise AssertionError(f"pod {name} never got there; last: {pod.status if pod else None}")


def bind_to(pod: Pod, node: str) -> Pod:
    pod.spec.node_name = node
    return pod
