"""Helpers the workload controllers share: expectations, pod state, ranking, owner references.

Shaped after Kubernetes' `pkg/controller/controller_utils.go`:

- `Expectations` remembers how many creations/deletions a controller has asked for and not
  yet seen in its informer, so a sync that runs before the cache catches up does not create
  or delete twice. Expectations expire (5 minutes) so a lost watch event cannot wedge a key.
- Pod predicates (`is_pod_active`, `is_pod_ready`, `is_pod_available`) read a pod's status
  exactly as the controllers of Kubernetes do.
- `deletion_rank` orders pods from least to most valuable, for choosing which to delete.
- `controller_ref_of`/`new_controller_ref` read and build controller ownerReferences.
- `slow_start_batches` creates in batches 1, 2, 4, ... and stops at the first failing batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kcore.api import timeutil
from kcore.api.core import Pod
from kcore.api.meta import OwnerReference
from kcore.client import SharedInformer

EXPECTATIONS_TTL = 300.0
SLOW_START_INITIAL_BATCH = 1
BURST_REPLICAS = 500


# -- expectations ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Expectation:
    adds: int = 0
    dels: int = 0
    deleting: set[str] = field(default_factory=set)  # pod uids asked to be deleted
    stamp: float = 0.0


class Expectations:
    """Pending creations and deletions per controller key (client-go's UIDTrackingExpectations)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._items: dict[str, _Expectation] = {}
        self._clock = clock

    def satisfied(self, key: str) -> bool:
        exp = self._items.get(key)
        if exp is None:
            return True
        if exp.adds <= 0 and exp.dels <= 0:
            return True
        return self._clock() - exp.stamp > EXPECTATIONS_TTL

    def expect_creations(self, key: str, count: int) -> None:
        self._items[key] = _Expectation(adds=count, stamp=self._clock())

    def expect_deletions(self, key: str, uids: Sequence[str]) -> None:
        self._items[key] = _Expectation(dels=len(uids), deleting=set(uids), stamp=self._clock())

    def creation_observed(self, key: str) -> None:
        exp = self._items.get(key)
        if exp is not None:
            exp.adds -= 1

    def deletion_observed(self, key: str, uid: str) -> None:
        exp = self._items.get(key)
        if exp is not None and uid in exp.deleting:
            exp.deleting.discard(uid)
            exp.dels -= 1

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        exp = self._items.get(key)
        return (0, 0) if exp is None else (exp.adds, exp.dels)


# -- pod state ---------------------------------------------------------------------------------


def is_pod_active(pod: Pod) -> bool:
    """Not finished and not being deleted (Kubernetes' IsPodActive)."""
    return pod.status.phase not in ("Succeeded", "Failed") and not pod.metadata.deletion_timestamp


def ready_condition_time(pod: Pod) -> str | None:
    """lastTransitionTime of a True Ready condition, or None if the pod is not ready."""
    for cond in pod.status.conditions:
        if cond.type == "Ready":
            return (cond.last_transition_time or "") if cond.status == "True" else None
    return None


def is_pod_ready(pod: Pod) -> bool:
    return ready_condition_time(pod) is not None


def is_pod_available(pod: Pod, min_ready_seconds: int, now: float | None = None) -> bool:
    """Ready for at least `min_ready_seconds` (Kubernetes' IsPodAvailable)."""
    since = ready_condition_time(pod)
    if since is None:
        return False
    if min_ready_seconds <= 0:
        return True
    if not since:
        return False
    now = time.time() if now is None else now
    return timeutil.to_timestamp(since) + min_ready_seconds <= now


def restarts(pod: Pod) -> int:
    return sum(cs.restart_count for cs in pod.status.container_statuses)


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Pod) -> tuple[Any, ...]:
    """Sort key: pods that sort first are deleted first (Kubernetes' ActivePods order).

    unassigned < assigned; Pending < Unknown < Running; not ready < ready; ready for a
    shorter time < longer; more restarts < fewer; newer < older.
    """
    ready_since = ready_condition_time(pod)
    return (
        1 if pod.spec.node_name else 0,
        _PHASE_RANK.get(pod.status.phase, 0),
        1 if ready_since is not None else 0,
        _negated_time(ready_since or ""),
        -restarts(pod),
        _negated_time(pod.metadata.creation_timestamp),
    )


def _negated_time(stamp: str) -> float:
    """Newer sorts first: negate the timestamp (an unknown time counts as newest)."""
    return -timeutil.to_timestamp(stamp) if stamp else -float("inf")


# -- owner references --------------------------------------------------------------------------


def controller_ref_of(obj: Any) -> OwnerReference | None:
    refs: list[OwnerReference] = obj.metadata.owner_references
    for ref in refs:
        if ref.controller:
            return ref
    return None


def cached_controller(pod: Pod, kind: str, owners: SharedInformer[Any]) -> Any | None:
    """The pod's controlling owner of `kind` as the owners' cache holds it; None when the pod
    has none, or when the cached object of that name is a successor with another uid."""
    ref = controller_ref_of(pod)
    if ref is None or ref.kind != kind:
        return None
    owner = owners.get(f"{pod.metadata.namespace}/{ref.name}")
    return owner if owner is not None and owner.metadata.uid == ref.uid else None


def new_controller_ref(owner: Any) -> OwnerReference:
    return OwnerReference(
        api_version=owner.api_version,
        kind=owner.kind,
        name=owner.metadata.name,
        uid=owner.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )


def adopt_patch(owner: Any, obj: Any) -> dict[str, Any]:
    """A strategic-free merge patch adding `owner` as controller (uid precondition included)."""
    refs = [ref_dict(r) for r in obj.metadata.owner_references]
    refs.append(ref_dict(new_controller_ref(owner)))
    return {"metadata": {"uid": obj.metadata.uid, "ownerReferences": refs}}


def release_patch(owner_uid: str, obj: Any) -> dict[str, Any]:
    refs = [ref_dict(r) for r in obj.metadata.owner_references if r.uid != owner_uid]
    return {"metadata": {"uid": obj.metadata.uid, "ownerReferences": refs}}


def ref_dict(ref: OwnerReference) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "name": ref.name,
        "uid": ref.uid,
    }
    if ref.controller is not None:
        out["controller"] = ref.controller
    if ref.block_owner_deletion is not None:
        out["blockOwnerDeletion"] = ref.block_owner_deletion
    return out


# -- batching ----------------------------------------------------------------------------------


async def slow_start_batches(
    count: int, action: Callable[[], Awaitable[bool]], *, initial: int = SLOW_START_INITIAL_BATCH
) -> int:
    """Run `action` `count` times in doubling batches; stop after a batch with a failure.

    Returns how many succeeded. A failing batch usually means a quota or admission problem,
    so the controller stops there instead of sending hundreds of doomed requests.
    """
    done, batch = 0, min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(action() for _ in range(batch)))
        ok = sum(1 for r in results if r)
        done += ok
        if ok < batch:
            return done
        remaining = count - done
        batch = min(2 * batch, remaining)
    return done


def int_or_percent(value: int | str | None, total: int, *, round_up: bool) -> int:
    """Scale an IntOrString against `total` (Kubernetes' GetScaledValueFromIntOrPercent)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = value.strip()
    if not text.endswith("%"):
        return int(text)
    percent = int(text[:-1])
    scaled = percent * total
    return -(-scaled // 100) if round_up else scaled // 100
