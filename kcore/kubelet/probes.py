"""Container probes: exec, httpGet and tcpSocket checks run on a period with thresholds.

One `Prober` task per (container, probe kind). Its result starts where Kubernetes starts it
(liveness: success; readiness and startup: failure) and flips only after `successThreshold`
successes or `failureThreshold` failures in a row; each flip calls `on_change` so the pod
worker re-syncs (restart on liveness/startup failure, Ready condition on readiness).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Literal

import aiohttp

from kcore.api.core import Container, HTTPGetAction, IntOrString, Probe
from kcore.kubelet.runtime import Runtime

Kind = Literal["liveness", "readiness", "startup"]
Check = Callable[[], Awaitable[bool]]


def resolve_port(container: Container, port: IntOrString) -> int:
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for p in container.ports:
        if p.name == port:
            return p.container_port
    raise ValueError(f"port {port!r} is not a named port of container {container.name}")


def make_check(
    probe: Probe,
    *,
    container: Container,
    container_id: str,
    pod_ip: str,
    runtime: Runtime,
    session: aiohttp.ClientSession,
) -> Check:
    timeout = float(probe.timeout_seconds or 1)
    if probe.exec is not None:
        command = list(probe.exec.command)

        async def exec_check() -> bool:
            return await runtime.exec(container_id, command, timeout) == 0

        return exec_check
    if probe.http_get is not None:
        action = probe.http_get
        return lambda: _http_check(action, container, pod_ip, session, timeout)
    if probe.tcp_socket is not None:
        host = probe.tcp_socket.host or pod_ip
        port = probe.tcp_socket.port
        return lambda: _tcp_check(host, resolve_port(container, port), timeout)
    return _always_ok


async def _always_ok() -> bool:
    return True


async def _http_check(
    action: HTTPGetAction,
    container: Container,
    pod_ip: str,
    session: aiohttp.ClientSession,
    limit: float,
) -> bool:
    scheme = (action.scheme or "HTTP").lower()
    host = action.host or pod_ip
    path = action.path if action.path.startswith("/") else "/" + action.path
    url = f"{scheme}://{host}:{resolve_port(container, action.port)}{path}"
    headers = {h.name: h.value for h in action.http_headers}
    tls: ssl.SSLContext | bool = False
    try:
        async with session.get(
            url,
            headers=headers,
            ssl=tls,
            timeout=aiohttp.ClientTimeout(total=limit),
            allow_redirects=False,
        ) as resp:
            return 200 <= resp.status < 400
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return False


async def _tcp_check(host: str, port: int, limit: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), limit)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class Prober:
    """Runs one probe of one container until cancelled.

    `result` is the current verdict; `failed` is set once `failureThreshold` failures came in
    a row (for liveness and startup probes: the container must be killed).
    """

    def __init__(
        self,
        kind: Kind,
        probe: Probe,
        check: Check,
        *,
        on_change: Callable[[], None],
        gate: Callable[[], bool] = lambda: True,
    ) -> None:
        self.kind, self.probe, self._check = kind, probe, check
        self._on_change, self._gate = on_change, gate
        self.result = kind == "liveness"
        self.failed = False
        self._oks = self._fails = 0

    async def run(self) -> None:
        await asyncio.sleep(self.probe.initial_delay_seconds or 0)
        period = float(self.probe.period_seconds or 10)
        while True:
            if self._gate():
                self.observe(await self._check())
            await asyncio.sleep(period)

    def observe(self, ok: bool) -> None:
        """Count one check outcome; flip the verdict at its threshold and tell the worker."""
        self._oks, self._fails = (self._oks + 1, 0) if ok else (0, self._fails + 1)
        before = (self.result, self.failed)
        if ok and self._oks >= (self.probe.success_threshold or 1):
            self.result, self.failed = True, False
        elif not ok and self._fails >= (self.probe.failure_threshold or 3):
            self.result, self.failed = False, True
        if (self.result, self.failed) != before:
            self._on_change()
