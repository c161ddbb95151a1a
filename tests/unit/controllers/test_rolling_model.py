"""The rolling update's arithmetic against a model cluster, under every interleaving.

A model holds, per ReplicaSet, its size, its pods (available or not) and the status its
ReplicaSet controller last wrote (stale in between, as in a real cluster). Hypothesis picks the
order of steps: the Deployment controller applies `new_rs_replicas` and `plan_old_scale_down`
to what the statuses say; a ReplicaSet controller creates or deletes (unavailable pods first)
and then writes status; a pod becomes available. Whatever the order:

- the sizes never add up to more than replicas + maxSurge;
- available pods never fall below replicas - maxUnavailable;
- and once every step has had its turn long enough, the rollout completes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kcore.api.apps import Deployment, ReplicaSet
from kcore.api.codec import from_dict
from kcore.controllers import deployment_util as du


@dataclass
class ModelRS:
    name: str
    size: int
    pods: list[bool] = field(default_factory=list)  # True: available
    status_available: int = 0

    @property
    def created(self) -> str:
        return f"2026-01-01T00:00:0{self.name[-1]}Z"

    def as_object(self) -> ReplicaSet:
        return from_dict(
            ReplicaSet,
            {
                "metadata": {
                    "name": self.name,
                    "creationTimestamp": f"2026-01-01T00:00:0{self.name[-1]}Z",
                },
                "spec": {"replicas": self.size},
                "status": {"replicas": len(self.pods), "availableReplicas": self.status_available},
            },
        )

    def sync(self) -> None:
        """The ReplicaSet controller: create or delete (unavailable first), then status."""
        while len(self.pods) < self.size:
            self.pods.append(False)
        self.pods.sort()  # False (unavailable) first
        del self.pods[: max(len(self.pods) - self.size, 0)]
        self.status_available = sum(self.pods)

    def make_one_available(self) -> None:
        if False in self.pods:
            self.pods[self.pods.index(False)] = True


def deployment(replicas: int, surge: Any, unavailable: Any) -> Deployment:
    return from_dict(
        Deployment,
        {
            "metadata": {"name": "d"},
            "spec": {
                "replicas": replicas,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
                },
            },
        },
    )


def controller_step(d: Deployment, old: ModelRS, new: ModelRS) -> None:
    """One Deployment sync: grow the new ReplicaSet if it may, else shrink the old one."""
    objs = [old.as_object(), new.as_object()]
    desired = du.replicas_of(d)
    if new.size > desired:
        new.size = desired
        return
    grown = du.new_rs_replicas(d, objs, new.size)
    if grown != new.size:
        new.size = grown
        return
    old.size = du.plan_old_scale_down(d, objs[1], objs[:1])[old.name]


limits = st.one_of(st.integers(0, 4), st.sampled_from(["0%", "10%", "25%", "50%", "100%"]))


@settings(max_examples=300, deadline=None)
@given(
    replicas=st.integers(1, 12),
    surge=limits,
    unavailable=limits,
    steps=st.lists(st.sampled_from(["controller", "rs-old", "rs-new", "ready"]), max_size=120),
)
def test_rolling_update_bounds_hold_under_any_interleaving(
    replicas: int, surge: Any, unavailable: Any, steps: list[str]
) -> None:
    d = deployment(replicas, surge, unavailable)
    max_surge, max_unavailable = du.max_surge(d), du.max_unavailable(d)
    old = ModelRS("rs-1", replicas, [True] * replicas, replicas)
    new = ModelRS("rs-2", 0)
    # the scripted steps, then a fair schedule long enough for any rollout to finish
    schedule = steps + ["controller", "rs-old", "rs-new", "ready"] * (4 * replicas + 8)
    schedule += ["ready"] * replicas + ["rs-new", "controller", "rs-old", "rs-new"]
    for step in schedule:
        if step == "controller":
            controller_step(d, old, new)
        elif step == "rs-old":
            old.sync()
        elif step == "rs-new":
            new.sync()
        else:
            new.make_one_available()
        assert old.size + new.size <= replicas + max_surge, (step, old, new)
        available = sum(old.pods) + sum(new.pods)
        assert available >= replicas - max_unavailable, (step, old, new)
    assert (old.size, new.size) == (0, replicas)
    assert new.pods == [True] * replicas and old.pods == []
