"""PodProbes: the probers of one pod's running containers, keyed by (container id, kind).

`sync` starts probers for containers that just started and stops those of containers gone;
liveness and readiness wait for the startup probe (when there is one). The pod worker reads
verdicts (`verdict`, `killing`) and is called back on every flip.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping

import aiohttp

from kcore.api.core import Container, Probe
from kcore.kubelet.probes import Kind, Prober, make_check
from kcore.kubelet.runtime import Runtime

OnChange = Callable[[Kind, str, bool], None]  # (kind, container name, failed)


def _open_gate() -> bool:
    return True


class PodProbes:
    def __init__(
        self, *, runtime: Runtime, session: aiohttp.ClientSession, on_change: OnChange
    ) -> None:
        self._runtime, self._session, self._on_change = runtime, session, on_change
        self._probers: dict[tuple[str, Kind], tuple[Prober, asyncio.Task[None]]] = {}

    def sync(self, running: Mapping[str, Container], pod_ip: str) -> None:
        """Probe exactly the containers in `running` (container id -> its spec)."""
        self.stop(keep=set(running))
        for cid, c in running.items():
            self._start(cid, c, pod_ip)

    def _start(self, cid: str, c: Container, pod_ip: str) -> None:
        wanted: list[tuple[Kind, Probe | None]] = [
            ("startup", c.startup_probe),
            ("liveness", c.liveness_probe),
            ("readiness", c.readiness_probe),
        ]
        for kind, probe in wanted:
            if probe is None or (cid, kind) in self._probers:
                continue
            check = make_check(
                probe,
                container=c,
                container_id=cid,
                pod_ip=pod_ip,
                runtime=self._runtime,
                session=self._session,
            )
            gate = functools.partial(self.verdict, cid, "startup")
            prober = Prober(
                kind,
                probe,
                check,
                on_change=functools.partial(self._changed, cid, kind, c.name),
                gate=_open_gate if kind == "startup" else gate,
            )
            task = asyncio.create_task(prober.run(), name=f"probe:{kind}:{c.name}")
            self._probers[(cid, kind)] = (prober, task)

    def _changed(self, cid: str, kind: Kind, name: str) -> None:
        entry = self._probers.get((cid, kind))
        self._on_change(kind, name, entry is not None and entry[0].failed)

    def stop(self, keep: set[str] | frozenset[str] = frozenset()) -> None:
        for key in [k for k in self._probers if k[0] not in keep]:
            self._probers.pop(key)[1].cancel()

    def has(self, cid: str, kind: Kind) -> bool:
        return (cid, kind) in self._probers

    def verdict(self, cid: str, kind: Kind) -> bool:
        """The probe's verdict; True for a probe the container does not have."""
        entry = self._probers.get((cid, kind))
        return True if entry is None else entry[0].result

    def killing(self, cid: str) -> bool:
        """The liveness or startup probe failed: the container must be restarted."""
        return any(
            self._probers[(cid, kind)][0].failed
            for kind in ("liveness", "startup")
            if (cid, kind) in self._probers
        )
