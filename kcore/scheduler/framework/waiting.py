"""Pods held at permit: the scheduler's waiting pods, as kube-scheduler's `waitingPod`.

When permit plugins answer Wait (and none rejects), the pod stays reserved and assumed on its
node and its binding task waits here first. A `WaitingPod` keeps one pending entry per
waiting plugin, each with a timer for that plugin's timeout; plugins reach it through the
Handle (`get_waiting_pod`, `iterate_over_waiting_pods`) and `allow` or `reject` it. The pod
goes on to bind once every pending plugin has allowed it; the first rejection, or the first
timer to fire, settles it as rejected. Settling is one-shot, so a late allow or reject is a
no-op. This is how gang (coscheduling) plugins work: hold each member until the group is
complete, then allow them all.

Timers run on the event loop (`call_later`), so a WaitingPod must be made inside a running
loop, as the scheduling cycle is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping

from kcore.api.core import Pod
from kcore.client.meta import key_of
from kcore.scheduler.framework.status import Code, Result, Status

MAX_WAIT = 15 * 60.0
"""kube-scheduler's cap on a permit plugin's wait (maxTimeout, 15 minutes)."""


def waiting_key(pod: Pod) -> str:
    """The pod's uid (namespace/name for the odd pod without one, e.g. in tests)."""
    return pod.metadata.uid or key_of(pod)


class WaitingPod:
    """A pod waiting at permit for the plugins named in `pending_plugins()`."""

    def __init__(self, pod: Pod, node: str, timeouts: Mapping[str, float]) -> None:
        loop = asyncio.get_running_loop()
        self.pod = pod
        self.node = node
        self._result: asyncio.Future[Result] = loop.create_future()
        self._pending: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        for name, timeout in timeouts.items():
            wait = min(max(timeout, 0.0), MAX_WAIT)
            message = f"rejected due to timeout after waiting {go_duration(wait)} at plugin {name}"
            timer = loop.call_later(wait, self.reject, name, message)
            self._pending[name] = (loop.time() + wait, timer)

    def pending_plugins(self) -> list[str]:
        return list(self._pending)

    def deadline(self, plugin_name: str) -> float | None:
        """When `plugin_name`'s wait times out (event-loop time), if it is still pending."""
        entry = self._pending.get(plugin_name)
        return entry[0] if entry is not None else None

    def allow(self, plugin_name: str) -> None:
        """`plugin_name` lets the pod go; the last pending plugin to allow releases it."""
        entry = self._pending.pop(plugin_name, None)
        if entry is not None:
            entry[1].cancel()
        if not self._pending and not self._result.done():
            self._result.set_result(None)

    def reject(self, plugin_name: str, message: str) -> None:
        """The pod will not bind: it is unreserved and handled as unschedulable."""
        for _, timer in self._pending.values():
            timer.cancel()
        self._pending.clear()
        if not self._result.done():
            self._result.set_result(Status(Code.Unschedulable, (message,), plugin_name))

    @property
    def settled(self) -> bool:
        return self._result.done()

    async def wait(self) -> Result:
        """None once every plugin allowed the pod, else the rejecting Status."""
        return await asyncio.shield(self._result)


class WaitingPods:
    """The waiting pods by uid, shared by every profile (as in kube-scheduler).

    A pod stays registered until its binding task has taken the outcome (`remove`), but
    plugins only see pods still waiting: `get` and `iterate` skip settled ones, so a gang
    plugin counting its waiting members does not count members it has already let go.
    """

    def __init__(self) -> None:
        self._pods: dict[str, WaitingPod] = {}

    def __len__(self) -> int:
        """Registered pods, settled ones included until their binding task removes them."""
        return len(self._pods)

    def __iter__(self) -> Iterator[WaitingPod]:
        return iter([w for w in self._pods.values() if not w.settled])

    def add(self, waiting: WaitingPod) -> None:
        self._pods[waiting_key(waiting.pod)] = waiting

    def entry(self, uid: str) -> WaitingPod | None:
        """The registered pod, settled or not (for the binding task that takes its outcome)."""
        return self._pods.get(uid)

    def get(self, uid: str) -> WaitingPod | None:
        waiting = self._pods.get(uid)
        return None if waiting is None or waiting.settled else waiting

    def remove(self, waiting: WaitingPod) -> None:
        key = waiting_key(waiting.pod)
        if self._pods.get(key) is waiting:
            del self._pods[key]

    def reject_all(self, message: str) -> None:
        """Settles and drops every waiting pod (the scheduler is stopping)."""
        pods, self._pods = list(self._pods.values()), {}
        for waiting in pods:
            waiting.reject("", message)

    def iterate(self, fn: Callable[[WaitingPod], None]) -> None:
        """Calls `fn` on each pod still waiting; `fn` may allow or reject any of them."""
        for waiting in list(self._pods.values()):
            if not waiting.settled:
                fn(waiting)


def go_duration(seconds: float) -> str:
    """`seconds` as Go's time.Duration prints it ("50ms", "2s", "1m30s", "1.5s"), for
    kube-scheduler's messages."""
    ns = round(seconds * 1e9)
    if ns <= 0:
        return "0s"
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{_decimal(ns, 1_000)}µs"
    if ns < 1_000_000_000:
        return f"{_decimal(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs = f"{_decimal(rest, 1_000_000_000)}s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


__all__ = ["MAX_WAIT", "WaitingPod", "WaitingPods", "go_duration", "waiting_key"]
