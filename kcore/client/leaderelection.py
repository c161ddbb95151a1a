"""Lease-based leader election (coordination.k8s.io/v1 Lease), after client-go's.

Candidates race to write their identity into one Lease. The holder renews `renewTime` every
`retry_period`; if it cannot renew within `renew_deadline` it steps down. Others take over
once they have seen the same Lease record unchanged for `lease_duration` (measured on their
own monotonic clock, so wall-clock skew between machines does not matter). Writes carry the
resourceVersion read, so two candidates can never both win one round (409 Conflict).

`run()` blocks: it acquires, runs `on_started_leading()` as a task, renews, and when
leadership is lost cancels that task and calls `on_stopped_leading()`. Cancelling `run()`
releases the Lease (holder cleared) so a successor need not wait for it to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from kcore.api import timeutil
from kcore.api.coordination import Lease, LeaseSpec
from kcore.api.errors import StatusError
from kcore.api.meta import ObjectMeta
from kcore.client.rest import REQUEST_FAILED, UNREACHABLE, Client

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ElectionTimings:
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")


class LeaderElector:
    def __init__(
        self,
        client: Client,
        *,
        name: str,
        namespace: str,
        identity: str,
        on_started_leading: Callable[[], Coroutine[Any, Any, None]],
        on_stopped_leading: Callable[[], Any] | None = None,
        on_new_leader: Callable[[str], Any] | None = None,
        timings: ElectionTimings | None = None,
        release_on_cancel: bool = True,
    ) -> None:
        self.client = client
        self.name, self.namespace, self.identity = name, namespace, identity
        self.timings = timings or ElectionTimings()
        self.release_on_cancel = release_on_cancel
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._on_new_leader = on_new_leader
        self._observed: LeaseSpec | None = None
        self._observed_at = 0.0
        self._observed_rv = ""
        self._leading = False
        self.leader = ""  # the identity last seen holding the lease

    def is_leader(self) -> bool:
        return self._leading

    async def run(self) -> None:
        """Acquire, lead until the lease is lost, then return (or release on cancel)."""
        try:
            await self._acquire()
            self._leading = True
            work: asyncio.Task[None] = asyncio.create_task(
                self._on_started(), name=f"leading {self.name}"
            )
            try:
                await self._renew_until_lost(work)
            finally:
                self._leading = False
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                if self._on_stopped is not None:
                    self._on_stopped()
            if self.release_on_cancel:
                await self._release()  # if the work ended by itself, hand over at once
        except asyncio.CancelledError:
            if self.release_on_cancel:
                await asyncio.shield(self._release())
            raise

    async def _acquire(self) -> None:
        while True:
            if await self._try_acquire_or_renew():
                break
            await asyncio.sleep(self._jitter(self.timings.retry_period))
        log.info("%s: %s became leader", self.name, self.identity)

    async def _renew_until_lost(self, work: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        last_renew = loop.time()
        while not work.done():
            await asyncio.wait({work}, timeout=self.timings.retry_period)
            if work.done():
                return
            if await self._renew_within(self.timings.renew_deadline - (loop.time() - last_renew)):
                last_renew = loop.time()
            elif loop.time() - last_renew >= self.timings.renew_deadline or self._lost():
                log.warning("%s: %s lost the lease", self.name, self.identity)
                return

    async def _renew_within(self, seconds: float) -> bool:
        """One renewal attempt that gives up when the renew deadline would pass."""
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                return await self._try_acquire_or_renew()
        except TimeoutError:
            return False

    def _lost(self) -> bool:
        observed = self._observed
        return observed is not None and (observed.holder_identity or "") != self.identity

    def _jitter(self, period: float) -> float:
        return period * (1.0 + 0.2 * random.random())

    async def _try_acquire_or_renew(self) -> bool:
        """One round: create, renew, or take over an expired lease; True if we hold it."""
        now = timeutil.micro_now()
        try:
            lease = await self.client.get(Lease, self.name, namespace=self.namespace)
        except StatusError as exc:
            if exc.code != 404:
                log.warning("%s: cannot read lease: %s", self.name, exc)
                return False
            return await self._write(None, self._spec(now, now, 0))
        except UNREACHABLE as exc:
            log.warning("%s: cannot read lease: %s", self.name, exc)
            return False
        self._observe(lease)
        spec = lease.spec
        holder = spec.holder_identity or ""
        if holder and holder != self.identity and not self._expired():
            return False
        if holder == self.identity:
            new = self._spec(spec.acquire_time or now, now, spec.lease_transitions or 0)
        else:
            new = self._spec(now, now, (spec.lease_transitions or 0) + 1)
        return await self._write(lease, new)

    def _spec(self, acquired: str, renewed: str, transitions: int) -> LeaseSpec:
        return LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=max(1, round(self.timings.lease_duration)),
            acquire_time=acquired,
            renew_time=renewed,
            lease_transitions=transitions,
        )

    def _observe(self, lease: Lease) -> None:
        """Note when the record last changed, on our own clock."""
        rv = lease.metadata.resource_version
        if rv != self._observed_rv:
            self._observed_rv = rv
            self._observed_at = asyncio.get_running_loop().time()
        self._observed = lease.spec
        holder = lease.spec.holder_identity or ""
        if holder != self.leader:
            self.leader = holder
            if holder and self._on_new_leader is not None:
                self._on_new_leader(holder)

    def _expired(self) -> bool:
        spec = self._observed
        duration = (spec.lease_duration_seconds if spec else None) or self.timings.lease_duration
        return asyncio.get_running_loop().time() > self._observed_at + duration

    async def _write(self, current: Lease | None, spec: LeaseSpec) -> bool:
        try:
            if current is None:
                meta = ObjectMeta(name=self.name, namespace=self.namespace)
                written = await self.client.create(Lease(metadata=meta, spec=spec))
            else:
                meta = current.metadata
                written = await self.client.update(Lease(metadata=meta, spec=spec))
        except StatusError as exc:
            log.info("%s: lease write lost (%s)", self.name, exc.reason)
            return False
        except UNREACHABLE as exc:
            log.warning("%s: lease write failed: %s", self.name, exc)
            return False
        self._observe(written)
        return True

    async def _release(self) -> None:
        """Clear the holder so a successor can take over at once."""
        try:
            lease = await self.client.get(Lease, self.name, namespace=self.namespace)
            if lease.spec.holder_identity != self.identity:
                return
            now = timeutil.micro_now()
            spec = LeaseSpec(
                holder_identity=None,
                lease_duration_seconds=1,
                acquire_time=now,
                renew_time=now,
                lease_transitions=lease.spec.lease_transitions,
            )
            await self.client.update(Lease(metadata=lease.metadata, spec=spec))
            log.info("%s: %s released the lease", self.name, self.identity)
        except REQUEST_FAILED as exc:
            log.warning("%s: release failed: %s", self.name, exc)
