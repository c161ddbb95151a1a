"""Expectations, pod predicates, deletion ranking, owner-reference patches, slow start."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api.codec import from_dict
from kcore.api.core import Pod
from kcore.controllers import controller_utils as cu


def pod(
    name: str,
    *,
    node: str = "",
    phase: str = "Running",
    ready_since: str | None = None,
    restarts: int = 0,
    created: str = "2026-01-01T00:00:00Z",
    deleting: bool = False,
) -> Pod:
    conds: list[dict[str, Any]] = []
    if ready_since is not None:
        conds.append({"type": "Ready", "status": "True", "lastTransitionTime": ready_since})
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return from_dict(
        Pod,
        {
            "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
            "status": {
                "phase": phase,
                "conditions": conds,
                "containerStatuses": [{"name": "c", "restartCount": restarts, "ready": False}],
            },
        },
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_expectations_count_down_and_expire() -> None:
    clock = Clock()
    exp = cu.Expectations(clock=clock)
    assert exp.satisfied("ns/a")
    exp.expect_creations("ns/a", 2)
    assert not exp.satisfied("ns/a")
    exp.creation_observed("ns/a")
    assert not exp.satisfied("ns/a")
    exp.creation_observed("ns/a")
    assert exp.satisfied("ns/a")
    exp.expect_deletions("ns/a", ["u1", "u2"])
    exp.deletion_observed("ns/a", "u1")
    exp.deletion_observed("ns/a", "u1")  # the same pod twice counts once
    exp.deletion_observed("ns/a", "other")  # not one we asked for
    assert exp.pending("ns/a") == (0, 1)
    clock.now = cu.EXPECTATIONS_TTL + 1
    assert exp.satisfied("ns/a")  # a lost event cannot wedge the key forever


def test_pod_predicates() -> None:
    assert cu.is_pod_active(pod("a"))
    assert not cu.is_pod_active(pod("a", phase="Succeeded"))
    assert not cu.is_pod_active(pod("a", deleting=True))
    ready = pod("a", ready_since="2026-01-01T00:00:00Z")
    assert cu.is_pod_ready(ready) and not cu.is_pod_ready(pod("a"))
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    assert cu.is_pod_available(ready, 0)
    assert not cu.is_pod_available(ready, 10, now=t0 + 5)
    assert cu.is_pod_available(ready, 10, now=t0 + 10)


def test_deletion_rank_orders_least_valuable_first() -> None:
    ordered = [
        pod("unassigned"),
        pod("pending", node="n", phase="Pending"),
        pod("unknown", node="n", phase="Unknown"),
        pod("not-ready", node="n"),
        pod("ready-recently", node="n", ready_since="2026-01-01T00:10:00Z"),
        pod("ready-long-restarty", node="n", ready_since="2026-01-01T00:00:00Z", restarts=5),
        pod(
            "ready-long-newer",
            node="n",
            ready_since="2026-01-01T00:00:00Z",
            created="2025-12-31T00:00:00Z",
        ),
        pod(
            "ready-long-older",
            node="n",
            ready_since="2026-01-01T00:00:00Z",
            created="2025-12-01T00:00:00Z",
        ),
    ]
    shuffled = ordered[:]
    random.Random(7).shuffle(shuffled)
    assert [p.metadata.name for p in sorted(shuffled, key=cu.deletion_rank)] == [
        p.metadata.name for p in ordered
    ]


def test_adopt_and_release_patches_keep_other_owners() -> None:
    owner = from_dict(
        Pod, {"kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": {"name": "rs", "uid": "u"}}
    )
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "x"}
    target = from_dict(Pod, {"metadata": {"name": "p", "uid": "pu", "ownerReferences": [other]}})
    adopt = cu.adopt_patch(owner, target)
    refs = adopt["metadata"]["ownerReferences"]
    assert refs[0] == other
    assert refs[1] == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "rs",
        "uid": "u",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert adopt["metadata"]["uid"] == "pu"
    owned = from_dict(Pod, {"metadata": {"name": "p", "uid": "pu", "ownerReferences": refs}})
    assert cu.release_patch("u", owned)["metadata"]["ownerReferences"] == [other]


@pytest.mark.parametrize(
    ("value", "total", "up", "want"),
    [
        ("25%", 5, True, 2),
        ("25%", 5, False, 1),
        ("25%", 4, True, 1),
        ("0%", 10, True, 0),
        (3, 10, False, 3),
        ("3", 10, False, 3),
        (None, 10, True, 0),
        ("100%", 7, False, 7),
    ],
)
def test_int_or_percent_rounding(value: Any, total: int, up: bool, want: int) -> None:
    assert cu.int_or_percent(value, total, round_up=up) == want


@given(count=st.integers(0, 200), fail_at=st.integers(0, 250))
async def test_slow_start_doubles_and_stops_at_first_failing_batch(
    count: int, fail_at: int
) -> None:
    calls = 0

    async def action() -> bool:
        nonlocal calls
        calls += 1
        return calls <= fail_at

    done = await cu.slow_start_batches(count, action)
    assert done == min(count, fail_at)
    # batches are 1, 2, 4, ...: the calls made are the batches up to the first failing one
    sent, batch = 0, 1
    while sent < count:
        batch = min(batch, count - sent)
        sent += batch
        if sent > fail_at:
            break
        batch *= 2
    assert calls == sent
