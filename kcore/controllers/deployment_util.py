"""Pure Deployment arithmetic: hashes, revisions, surge/unavailable fenceposts, status, conditions.

Everything here is a function of objects already read (no API calls), after Kubernetes'
`pkg/controller/deployment/util`: the pod-template-hash (FNV-32a of the template, encoded with
Kubernetes' safe alphabet), finding the new ReplicaSet by template equality ignoring that
label, revision numbers, `max_surge`/`max_unavailable` (surge rounds up, unavailable down; both
zero means one unavailable), the replica counts the rolling update works with, and the
Progressing/Available conditions. `kubectl rollout status` reads exactly these.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from kcore.api import codec, timeutil
from kcore.api.apps import Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet
from kcore.api.core import PodTemplateSpec
from kcore.controllers.controller_utils import int_or_percent

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
SKIPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
# Progressing/Available reasons, as Kubernetes spells them
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# -- templates and hashes ------------------------------------------------------------------


def template_hash(template: PodTemplateSpec, collision_count: int | None = None) -> str:
    """FNV-32a of the template's canonical JSON (plus the collision count), safe-encoded."""
    data = msgspec.json.encode(codec.to_dict(template), order="sorted")
    if collision_count:
        data += str(collision_count).encode()
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in str(h))


def _without_hash(template: PodTemplateSpec) -> Any:
    data = codec.to_dict(template)
    labels = (data.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(HASH_LABEL, None)
        if not labels:
            del data["metadata"]["labels"]
    return data


def equal_ignore_hash(a: PodTemplateSpec, b: PodTemplateSpec) -> bool:
    return bool(_without_hash(a) == _without_hash(b))


def by_creation(rss: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Oldest first (ties broken by name, like Kubernetes' ReplicaSetsByCreationTimestamp)."""
    return sorted(rss, key=lambda rs: (rs.metadata.creation_timestamp, rs.metadata.name))


def find_new_replica_set(d: Deployment, rss: Sequence[ReplicaSet]) -> ReplicaSet | None:
    for rs in by_creation(rss):
        if equal_ignore_hash(rs.spec.template, d.spec.template):
            return rs
    return None


def revision(obj: Any) -> int:
    try:
        return int(obj.metadata.annotations.get(REVISION, "0"))
    except ValueError:
        return 0


def max_revision(rss: Iterable[ReplicaSet]) -> int:
    return max((revision(rs) for rs in rss), default=0)


# -- replica arithmetic --------------------------------------------------------------------


def replicas_of(obj: Any) -> int:
    value = obj.spec.replicas
    return 1 if value is None else int(value)


def is_rolling(d: Deployment) -> bool:
    return d.spec.strategy.type != "Recreate"


def fenceposts(d: Deployment) -> tuple[int, int]:
    """(max surge, max unavailable) for the current replica count."""
    if not is_rolling(d):
        return 0, 0
    rolling = d.spec.strategy.rolling_update
    surge_v = rolling.max_surge if rolling is not None else "25%"
    unavail_v = rolling.max_unavailable if rolling is not None else "25%"
    desired = replicas_of(d)
    surge = int_or_percent(surge_v, desired, round_up=True)
    unavailable = int_or_percent(unavail_v, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Deployment) -> int:
    return fenceposts(d)[0]


def max_unavailable(d: Deployment) -> int:
    """Kubernetes' MaxUnavailable: never more than the replica count."""
    desired = replicas_of(d)
    if not is_rolling(d) or desired == 0:
        return 0
    return min(fenceposts(d)[1], desired)


def spec_total(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(replicas_of(rs) for rs in rss if rs is not None)


def status_total(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.replicas for rs in rss if rs is not None)


def available_total(rss: Iterable[ReplicaSet | None]) -> int:
    """Available pods, never more than each ReplicaSet is scaled to: a scale-down just asked
    for removes the least valuable pods, so what remains available is at most this."""
    return sum(min(rs.status.available_replicas, replicas_of(rs)) for rs in rss if rs is not None)


def active(rss: Iterable[ReplicaSet | None]) -> list[ReplicaSet]:
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]


def new_rs_replicas(d: Deployment, all_rss: Sequence[ReplicaSet | None], new_size: int) -> int:
    """How big the new ReplicaSet may be now (Kubernetes' NewRSNewReplicas)."""
    desired = replicas_of(d)
    if not is_rolling(d):
        return desired
    max_total = desired + max_surge(d)
    current = spec_total(all_rss)
    if current >= max_total:
        return new_size
    return new_size + min(max_total - current, desired - new_size)


def plan_old_scale_down(
    d: Deployment, new: ReplicaSet | None, olds: Sequence[ReplicaSet]
) -> dict[str, int]:
    """The sizes old ReplicaSets may shrink to now (Kubernetes' reconcileOldReplicaSets).

    At most `spec total - minAvailable - unavailable new pods` go: first old pods that are not
    available (they serve nobody), oldest ReplicaSet first, then available ones while more
    than replicas - maxUnavailable stay available. Availability is read from ReplicaSet status
    and capped at each ReplicaSet's size, so a scale-down not yet carried out still counts.
    """
    sizes = {rs.metadata.name: replicas_of(rs) for rs in olds}
    order = by_creation(active(olds))
    if not order:
        return sizes
    min_available = replicas_of(d) - max_unavailable(d)
    new_size = replicas_of(new) if new is not None else 0
    new_available = min(new.status.available_replicas, new_size) if new is not None else 0
    max_down = sum(sizes.values()) + new_available - min_available
    if max_down <= 0:
        return sizes
    _shrink(sizes, order, max_down, lambda rs, size: size - min(rs.status.available_replicas, size))
    available = new_available + sum(
        min(rs.status.available_replicas, sizes[rs.metadata.name]) for rs in order
    )
    if available > min_available:
        _shrink(sizes, order, available - min_available, lambda rs, size: size)
    return sizes


def _shrink(
    sizes: dict[str, int],
    order: Sequence[ReplicaSet],
    budget: int,
    removable: Callable[[ReplicaSet, int], int],
) -> None:
    """Take up to `budget` replicas off the ReplicaSets in `order`, each at most `removable`."""
    for rs in order:
        if budget <= 0:
            return
        size = sizes[rs.metadata.name]
        step = min(budget, removable(rs, size))
        if step > 0:
            sizes[rs.metadata.name] = size - step
            budget -= step


def is_saturated(d: Deployment, rs: ReplicaSet | None) -> bool:
    if rs is None:
        return False
    desired = replicas_of(d)
    annotated = rs.metadata.annotations.get(DESIRED_REPLICAS)
    return (
        replicas_of(rs) == desired
        and annotated == str(desired)
        and rs.status.available_replicas == desired
    )


def replicas_annotations_ok(d: Deployment, rs: ReplicaSet) -> bool:
    ann = rs.metadata.annotations
    desired = replicas_of(d)
    return ann.get(DESIRED_REPLICAS) == str(desired) and ann.get(MAX_REPLICAS) == str(
        desired + max_surge(d)
    )


def proportion(d: Deployment, rs: ReplicaSet, to_add: int, added: int) -> int:
    """Kubernetes' GetProportion: rs's share of a scaling of the whole deployment."""
    size = replicas_of(rs)
    if size == 0 or to_add == added:
        return 0
    desired = replicas_of(d)
    if desired == 0:
        fraction = -size
    else:
        try:
            annotated = int(rs.metadata.annotations.get(MAX_REPLICAS, ""))
        except ValueError:
            annotated = d.status.replicas
        target = desired + max_surge(d)
        # math.Round in Go rounds halves away from zero; Python's round() would go to even
        fraction = math.floor(size * target / annotated + 0.5) - size if annotated else 0
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def plan_proportional(d: Deployment, live: Sequence[ReplicaSet]) -> tuple[dict[str, int], str]:
    """Sizes after a change of replicas mid-rollout, and "up"/"down" (Kubernetes' scale()).

    The deployment may have replicas + maxSurge pods; the difference is shared among the
    active ReplicaSets in proportion to their sizes (by their max-replicas annotation), the
    rounding leftover going to the largest (newest when growing, oldest when shrinking).
    """
    desired = replicas_of(d)
    allowed = desired + max_surge(d) if desired > 0 else 0
    to_add = allowed - spec_total(live)
    grow = to_add > 0
    if grow:
        order = sorted(
            live, key=lambda rs: (replicas_of(rs), rs.metadata.creation_timestamp), reverse=True
        )
    else:
        order = sorted(live, key=lambda rs: (-replicas_of(rs), rs.metadata.creation_timestamp))
    sizes, added = {}, 0
    for rs in order:
        share = proportion(d, rs, to_add, added) if to_add else 0
        sizes[rs.metadata.name] = replicas_of(rs) + share
        added += share
    if order and to_add:
        first = order[0].metadata.name
        sizes[first] = max(sizes[first] + to_add - added, 0)
    return sizes, "up" if grow else "down"


# -- status and conditions ---------------------------------------------------------------


def get_condition(status: DeploymentStatus, type_: str) -> DeploymentCondition | None:
    return next((c for c in status.conditions if c.type == type_), None)


def set_condition(conds: list[DeploymentCondition], new: DeploymentCondition) -> None:
    """Kubernetes' SetDeploymentCondition: same status and reason is no change; the same
    status keeps its lastTransitionTime."""
    current = next((c for c in conds if c.type == new.type), None)
    if current is not None and current.status == new.status and current.reason == new.reason:
        return
    if current is not None and current.status == new.status:
        new.last_transition_time = current.last_transition_time
    conds[:] = [c for c in conds if c.type != new.type] + [new]


def condition(type_: str, status: str, reason: str, message: str) -> DeploymentCondition:
    now = timeutil.now()
    return DeploymentCondition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_update_time=now,
        last_transition_time=now,
    )


def calculate_status(
    d: Deployment, all_rss: Sequence[ReplicaSet | None], new_rs: ReplicaSet | None
) -> DeploymentStatus:
    rss = [rs for rs in all_rss if rs is not None]
    available = sum(rs.status.available_replicas for rs in rss)
    unavailable = max(spec_total(rss) - available, 0)
    conds = [codec.deep_copy(c) for c in d.status.conditions]
    if available >= replicas_of(d) - max_unavailable(d):
        cond = condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.")
    else:
        cond = condition(
            "Available", "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability."
        )
    set_condition(conds, cond)
    return DeploymentStatus(
        observed_generation=d.metadata.generation,
        replicas=status_total(rss),
        updated_replicas=new_rs.status.replicas if new_rs is not None else 0,
        ready_replicas=sum(rs.status.ready_replicas for rs in rss),
        available_replicas=available,
        unavailable_replicas=unavailable,
        terminating_replicas=d.status.terminating_replicas,
        conditions=conds,
        collision_count=d.status.collision_count,
    )


def is_complete(d: Deployment, status: DeploymentStatus) -> bool:
    desired = replicas_of(d)
    return (
        status.updated_replicas == desired
        and status.replicas == desired
        and status.available_replicas == desired
        and status.observed_generation >= d.metadata.generation
    )


def is_progressing(d: Deployment, new: DeploymentStatus) -> bool:
    old = d.status
    return (
        new.updated_replicas > old.updated_replicas
        or (new.replicas - new.updated_replicas) < (old.replicas - old.updated_replicas)
        or new.ready_replicas > old.ready_replicas
        or new.available_replicas > old.available_replicas
    )


def has_deadline(d: Deployment) -> bool:
    seconds = d.spec.progress_deadline_seconds
    return seconds is not None and seconds < 2**31 - 1


def timed_out(d: Deployment, now: float | None = None) -> bool:
    cond = get_condition(d.status, "Progressing")
    if not has_deadline(d) or cond is None or cond.reason == NEW_RS_AVAILABLE:
        return False
    if cond.reason == TIMED_OUT:
        return True
    if not cond.last_update_time:
        return False
    now = time.time() if now is None else now
    deadline = d.spec.progress_deadline_seconds or 0
    return timeutil.to_timestamp(cond.last_update_time) + deadline < now


def progress_status(
    d: Deployment, status: DeploymentStatus, new_rs: ReplicaSet | None
) -> DeploymentStatus:
    """Set Progressing on a freshly calculated status (Kubernetes' syncRolloutStatus)."""
    conds = status.conditions
    if not has_deadline(d):
        conds[:] = [c for c in conds if c.type != "Progressing"]
        return status
    current = get_condition(d.status, "Progressing")
    finished = status.replicas == status.updated_replicas and (
        current is not None and current.reason == NEW_RS_AVAILABLE
    )
    if finished or d.spec.paused:
        return status
    what = f'ReplicaSet "{new_rs.metadata.name}"' if new_rs else f'Deployment "{d.metadata.name}"'
    if is_complete(d, status):
        set_condition(
            conds,
            condition(
                "Progressing", "True", NEW_RS_AVAILABLE, f"{what} has successfully progressed."
            ),
        )
    elif is_progressing(d, status):
        cond = condition("Progressing", "True", RS_UPDATED, f"{what} is progressing.")
        if current is not None and current.status == "True":
            cond.last_transition_time = current.last_transition_time
        conds[:] = [c for c in conds if c.type != "Progressing"] + [cond]
    elif timed_out(d):
        set_condition(
            conds,
            condition("Progressing", "False", TIMED_OUT, f"{what} has timed out progressing."),
        )
    return status


def replica_failure(conds: list[DeploymentCondition], rss: Sequence[ReplicaSet | None]) -> None:
    """Mirror a ReplicaSet's ReplicaFailure condition onto the Deployment (or clear it)."""
    for rs in rss:
        if rs is None:
            continue
        for c in rs.status.conditions:
            if c.type == "ReplicaFailure" and c.status == "True":
                set_condition(conds, condition("ReplicaFailure", "True", c.reason, c.message))
                return
    conds[:] = [c for c in conds if c.type != "ReplicaFailure"]


def seconds_until_deadline(d: Deployment, now: float | None = None) -> float | None:
    """When to look again at a rollout still in progress (None: nothing to wait for)."""
    cond = get_condition(d.status, "Progressing")
    if not has_deadline(d) or cond is None or cond.reason in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    if not cond.last_update_time:
        return None
    now = time.time() if now is None else now
    deadline = d.spec.progress_deadline_seconds or 0
    return max(timeutil.to_timestamp(cond.last_update_time) + deadline - now, 0.0) + 1.0


def rs_annotations(
    d: Deployment, rs_ann: dict[str, str], new_revision: int, *, replicas: bool = True
) -> dict[str, str]:
    """The new ReplicaSet's annotations: the Deployment's (minus bookkeeping ones), its
    revision (never lowered) and, when `replicas` (at creation; scaling sets them otherwise,
    and proportional scaling reads the old values), desired and max replicas."""
    out = {k: v for k, v in rs_ann.items()}
    out.update({k: v for k, v in d.metadata.annotations.items() if k not in SKIPPED_ANNOTATIONS})
    try:
        old = int(out.get(REVISION, "0"))
    except ValueError:
        old = 0
    if old < new_revision:
        out[REVISION] = str(new_revision)
    if not replicas:
        return out
    desired = replicas_of(d)
    out[DESIRED_REPLICAS] = str(desired)
    out[MAX_REPLICAS] = str(desired + max_surge(d))
    return out
