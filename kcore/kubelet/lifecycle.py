"""Container lifecycle hooks: postStart after a container starts, preStop before it is stopped.

A hook is an exec in the container, an HTTP GET to the pod IP, or a sleep. A failed postStart
kills the container (restarted per the pod's policy, FailedPostStartHook); preStop runs within
the termination grace period, and SIGTERM follows it with what is left (at least 2 s, as in
Kubernetes).
"""

from __future__ import annotations

import asyncio

import aiohttp

from kcore.api.core import Container, LifecycleHandler, Probe
from kcore.kubelet.probes import make_check
from kcore.kubelet.runtime import Runtime


async def run_hook(
    handler: LifecycleHandler,
    *,
    container: Container,
    container_id: str,
    pod_ip: str,
    runtime: Runtime,
    session: aiohttp.ClientSession,
    limit: float,
) -> bool:
    """Run one hook; True when it succeeded within `limit` seconds."""
    if handler.sleep is not None:
        await asyncio.sleep(min(float(handler.sleep.seconds), limit))
        return True
    as_probe = Probe(
        exec=handler.exec, http_get=handler.http_get, timeout_seconds=max(1, int(limit))
    )
    check = make_check(
        as_probe,
        container=container,
        container_id=container_id,
        pod_ip=pod_ip,
        runtime=runtime,
        session=session,
    )
    try:
        return await asyncio.wait_for(check(), limit)
    except TimeoutError:
        return False
