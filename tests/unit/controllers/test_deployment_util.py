"""Deployment arithmetic: hashes, fenceposts, new-RS sizing, proportions, conditions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api import timeutil
from kcore.api.apps import Deployment, DeploymentStatus, ReplicaSet
from kcore.api.codec import from_dict
from kcore.controllers import deployment_util as du


def deployment(
    replicas: int = 10, surge: Any = "25%", unavailable: Any = "25%", **kw: Any
) -> Deployment:
    strategy = kw.pop("strategy", None) or {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }
    return from_dict(
        Deployment,
        {
            "metadata": {"name": "d", "namespace": "ns", "generation": kw.pop("generation", 1)},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "c", "image": kw.pop("image", "i:1")}]},
                },
                "strategy": strategy,
                "progressDeadlineSeconds": kw.pop("deadline", 600),
                **kw,
            },
        },
    )


def rs(name: str, replicas: int, available: int = 0, **ann: str) -> ReplicaSet:
    return from_dict(
        ReplicaSet,
        {
            "metadata": {"name": name, "namespace": "ns", "annotations": ann},
            "spec": {"replicas": replicas},
            "status": {
                "replicas": replicas,
                "availableReplicas": available,
                "readyReplicas": available,
            },
        },
    )


def test_template_hash_is_stable_safe_and_collision_aware() -> None:
    d = deployment()
    h = du.template_hash(d.spec.template)
    assert h == du.template_hash(deployment().spec.template)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
    assert h != du.template_hash(deployment(image="i:2").spec.template)
    assert h != du.template_hash(d.spec.template, collision_count=1)


def test_equal_ignore_hash_and_find_new() -> None:
    d = deployment()
    mine = rs("d-a", 1)
    mine.spec.template = from_dict(
        type(d.spec.template),
        {**_template(d), "metadata": {"labels": {"app": "d", du.HASH_LABEL: "abc"}}},
    )
    other = rs("d-b", 1)
    other.spec.template = deployment(image="i:0").spec.template
    assert du.equal_ignore_hash(mine.spec.template, d.spec.template)
    assert du.find_new_replica_set(d, [other, mine]) is mine
    assert du.find_new_replica_set(d, [other]) is None


def _template(d: Deployment) -> Any:
    from kcore.api.codec import to_dict

    return to_dict(d.spec.template)


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "want"),
    [
        (10, "25%", "25%", (3, 2)),
        (5, "25%", "25%", (2, 1)),
        (1, "25%", "25%", (1, 0)),
        (4, 0, 0, (0, 1)),  # both zero: one may be unavailable
        (3, "0%", "50%", (0, 1)),
        (10, 2, 3, (2, 3)),
    ],
)
def test_fenceposts_round_surge_up_and_unavailable_down(
    replicas: int, surge: Any, unavailable: Any, want: tuple[int, int]
) -> None:
    assert du.fenceposts(deployment(replicas, surge, unavailable)) == want


def test_max_unavailable_never_exceeds_replicas_and_recreate_is_zero() -> None:
    assert du.max_unavailable(deployment(2, 0, 5)) == 2
    assert du.max_unavailable(deployment(0, 1, 1)) == 0
    recreate = deployment(3, strategy={"type": "Recreate"})
    assert du.fenceposts(recreate) == (0, 0) and du.max_unavailable(recreate) == 0
    assert du.new_rs_replicas(recreate, [], 0) == 3


def test_new_rs_replicas_fills_the_surge_only() -> None:
    d = deployment(10, 3, 2)
    old = rs("old", 10, 10)
    # all ReplicaSets, the new one included, count against replicas + maxSurge
    assert du.new_rs_replicas(d, [old, rs("new", 0)], 0) == 3
    assert du.new_rs_replicas(d, [rs("old", 8, 8), rs("new", 3)], 3) == 5
    assert du.new_rs_replicas(d, [old, rs("new", 3)], 3) == 3  # at max total already
    assert du.new_rs_replicas(d, [rs("old", 0), rs("new", 9)], 9) == 10  # never past replicas


def test_proportion_splits_by_annotated_size() -> None:
    d = deployment(20, 0, 1)  # scaled from 10 to 20 mid-rollout
    a = rs("a", 6, **{du.MAX_REPLICAS: "10"})
    b = rs("b", 4, **{du.MAX_REPLICAS: "10"})
    to_add = 20 - 10
    share_a = du.proportion(d, a, to_add, 0)
    share_b = du.proportion(d, b, to_add, share_a)
    assert (share_a, share_b) == (6, 4)


def test_calculate_status_counts_and_available_condition() -> None:
    d = deployment(4, 1, 1)
    new, old = rs("new", 2, 1), rs("old", 3, 3)
    st = du.calculate_status(d, [old, new], new)
    assert (st.replicas, st.updated_replicas, st.available_replicas) == (5, 2, 4)
    assert st.unavailable_replicas == 1 and st.observed_generation == 1
    assert du.get_condition(st, "Available").status == "True"  # type: ignore[union-attr]
    st = du.calculate_status(d, [rs("old", 3, 1), rs("new", 2, 1)], None)
    cond = du.get_condition(st, "Available")
    assert cond is not None and (cond.status, cond.reason) == ("False", du.MIN_UNAVAILABLE)


def test_progressing_condition_lifecycle() -> None:
    d = deployment(2, 1, 0)
    new = rs("new", 2, 2)
    done = du.progress_status(d, du.calculate_status(d, [new], new), new)
    cond = du.get_condition(done, "Progressing")
    assert cond is not None and cond.reason == du.NEW_RS_AVAILABLE
    assert cond.message == 'ReplicaSet "new" has successfully progressed.'

    moving = rs("new", 2, 1)
    st = du.progress_status(d, du.calculate_status(d, [moving], moving), moving)
    cond = du.get_condition(st, "Progressing")
    assert cond is not None and (cond.status, cond.reason) == ("True", du.RS_UPDATED)

    stale = deployment(2, 1, 0, deadline=5)
    long_ago = timeutil.from_timestamp(timeutil.to_timestamp(timeutil.now()) - 60)
    stale.status = DeploymentStatus(
        replicas=2,
        updated_replicas=2,
        available_replicas=1,
        ready_replicas=1,
        conditions=[
            du.condition("Progressing", "True", du.RS_UPDATED, "x"),
        ],
    )
    stale.status.conditions[0].last_update_time = long_ago
    assert du.timed_out(stale)
    st = du.progress_status(stale, du.calculate_status(stale, [moving], moving), moving)
    cond = du.get_condition(st, "Progressing")
    assert cond is not None and (cond.status, cond.reason) == ("False", du.TIMED_OUT)
    assert du.seconds_until_deadline(stale) == 1.0  # overdue: look again at once


def test_rs_annotations_copy_user_ones_and_never_lower_revision() -> None:
    d = deployment(3, 1, 0)
    d.metadata.annotations = {"team": "x", du.REVISION: "7", "kubernetes.io/change-cause": "c"}
    ann = du.rs_annotations(d, {du.REVISION: "2"}, 5)
    assert ann["team"] == "x" and ann["kubernetes.io/change-cause"] == "c"
    assert ann[du.REVISION] == "5"
    assert (ann[du.DESIRED_REPLICAS], ann[du.MAX_REPLICAS]) == ("3", "4")
    assert du.rs_annotations(d, {du.REVISION: "9"}, 5)[du.REVISION] == "9"


def test_rs_annotations_for_an_existing_rs_keep_its_replica_annotations() -> None:
    d = deployment(20, 3, 0)
    kept = {du.REVISION: "2", du.DESIRED_REPLICAS: "10", du.MAX_REPLICAS: "13"}
    ann = du.rs_annotations(d, kept, 2, replicas=False)
    assert (ann[du.DESIRED_REPLICAS], ann[du.MAX_REPLICAS]) == ("10", "13")


@given(
    sizes=st.lists(st.integers(1, 20), min_size=1, max_size=4),
    before=st.integers(1, 30),
    after=st.integers(0, 60),
    surge=st.integers(0, 5),
)
def test_proportional_scaling_shares_the_change_exactly(
    sizes: list[int], before: int, after: int, surge: int
) -> None:
    """No ReplicaSet goes negative and the sizes add up to replicas + maxSurge (the
    annotations hold the last allowed total). Like Kubernetes', single shares may move
    against the total when replicas and surge change together."""
    d = deployment(after, surge, 1)
    annotated = max(before + surge, sum(sizes))  # sizes never exceeded the last allowed total
    live = []
    for i, size in enumerate(sizes):
        r = rs(f"rs-{i}", size, **{du.MAX_REPLICAS: str(annotated)})
        r.metadata.creation_timestamp = f"2026-01-01T00:00:0{i}Z"
        live.append(r)
    planned, op = du.plan_proportional(d, live)
    allowed = after + surge if after > 0 else 0
    assert all(v >= 0 for v in planned.values())
    assert sum(planned.values()) == allowed
    assert op == ("up" if allowed > sum(sizes) else "down")
