"""HPA arithmetic: Kubernetes' replica formula, tolerance, missing/unready pods, behaviors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api.autoscaling import HorizontalPodAutoscalerBehavior, HPAScalingPolicy, HPAScalingRules
from kcore.controllers import _hpa_calc as calc


def pods(n: int, request: int = 100, ready: bool = True) -> list[calc.PodSample]:
    return [calc.PodSample(f"p{i}", ready=ready, request=request) for i in range(n)]


def usage(*values: int) -> dict[str, int]:
    return {f"p{i}": v for i, v in enumerate(values)}


def cpu(ps: list[calc.PodSample], u: dict[str, int], target: int, current: int) -> calc.Proposal:
    return calc.calc_replicas(ps, u, target=target, current_replicas=current, utilization=True)


def test_scales_up_by_ceil_of_ratio() -> None:
    # 3 pods at 90% of a 50% target: ceil(3 * 90/50) = 6
    got = cpu(pods(3), usage(90, 90, 90), 50, 3)
    assert (got.replicas, got.current) == (6, 90)


def test_scales_down_by_ceil_of_ratio() -> None:
    got = cpu(pods(4), usage(10, 10, 10, 10), 50, 4)
    assert (got.replicas, got.current) == (1, 10)


def test_within_tolerance_keeps_current() -> None:
    assert cpu(pods(4), usage(54, 54, 54, 54), 50, 4).replicas == 4  # ratio 1.08
    assert cpu(pods(4), usage(56, 56, 56, 56), 50, 4).replicas == 5  # ratio 1.12


def test_average_value_target() -> None:
    got = calc.calc_replicas(
        pods(2, request=0), usage(300, 500), target=200, current_replicas=2, utilization=False
    )
    assert (got.replicas, got.current) == (4, 400)


def test_missing_request_is_an_error() -> None:
    with pytest.raises(calc.MetricError, match="missing request"):
        cpu([calc.PodSample("p0", request=None)], usage(10), 50, 1)
    with pytest.raises(calc.MetricError, match="no pods"):
        cpu([], {}, 50, 1)
    with pytest.raises(calc.MetricError, match="any ready pods"):
        cpu(pods(2), {}, 50, 2)


def test_missing_pods_count_as_zero_when_scaling_up() -> None:
    # p0 at 200% of a 100% target; p1 has no metrics -> counted 0: ratio 1.0 -> keep 2
    assert cpu(pods(2), usage(200), 100, 2).replicas == 2
    # three missing of four: (300 + 0*3)/4 = 75% < target while ready says scale up: keep
    assert cpu(pods(4), usage(300), 100, 4).replicas == 4
    # two pods at 400%, one missing: (400+400+0)/3 = 266% -> ceil(2.67*3) = 8
    assert cpu(pods(3), usage(400, 400), 100, 3).replicas == 8


def test_missing_pods_count_as_full_request_when_scaling_down() -> None:
    # p0 idle, p1 missing (=100% of request) on a 50% target: ratio (0+100)/2 = 50% -> keep
    assert cpu(pods(2), usage(0), 50, 2).replicas == 2
    # 3 idle + 1 missing on a 100% target: (0*3+100)/4 = 25% -> ceil(0.25*4) = 1
    assert cpu(pods(4), usage(0, 0, 0), 100, 4).replicas == 1


def test_unready_pods_count_as_zero_only_when_scaling_up() -> None:
    ps = [*pods(2), calc.PodSample("p2", ready=False, request=100)]
    # ready pods at 200% on a 100% target, unready p2 at 0: 400/300 = 133% -> ceil(1.33*3)=4
    assert cpu(ps, usage(200, 200, 500), 100, 3).replicas == 4
    # scaling down ignores unready pods entirely: ready at 10% -> ceil(0.1*2) = 1
    assert cpu(ps, usage(10, 10, 500), 100, 3).replicas == 1


def test_ignored_pods_are_left_out() -> None:
    ps = [*pods(2), calc.PodSample("gone", ignored=True, request=None)]
    assert cpu(ps, usage(100, 100), 50, 3).replicas == 4


def test_memory_counts_unready_pods_as_ready() -> None:
    ps = [calc.PodSample("p0", ready=False, request=100)]
    got = calc.calc_replicas(
        ps, usage(200), target=100, current_replicas=1, utilization=True, cpu=False
    )
    assert got.replicas == 2


@given(
    st.lists(st.integers(0, 2000), min_size=1, max_size=30),
    st.integers(10, 200),
)
def test_all_ready_matches_formula(values: list[int], target: int) -> None:
    n = len(values)
    got = cpu(pods(n), usage(*values), target, n)
    percent = sum(values) * 100 // (100 * n)
    ratio = percent / target
    want = n if abs(1 - ratio) <= 0.1 else -(-percent * n // target)
    assert got.replicas == want


# -- behaviors ---------------------------------------------------------------------------------


def behavior(down_window: int = 300, **kw: HPAScalingRules) -> calc.Behavior:
    return calc.Behavior.of(HorizontalPodAutoscalerBehavior(**kw) if kw else None, down_window)


def norm(h: calc.History, b: calc.Behavior, desired: int, current: int, now: float) -> int:
    return calc.normalize(
        h, b, desired=desired, current=current, min_replicas=1, max_replicas=100, now=now
    ).replicas


def test_scale_down_waits_for_the_stabilization_window() -> None:
    h, b = calc.History(), behavior(300)
    assert norm(h, b, 8, 8, now=0) == 8
    assert norm(h, b, 2, 8, now=100) == 8  # the recommendation of t=0 still holds
    assert norm(h, b, 2, 8, now=299) == 8
    assert norm(h, b, 2, 8, now=301) == 2  # t=0 left the window; every later one said 2


def test_scale_down_goes_to_highest_recommendation_in_window() -> None:
    h, b = calc.History(), behavior(60)
    norm(h, b, 10, 10, now=0)
    norm(h, b, 6, 10, now=30)
    assert norm(h, b, 3, 10, now=61) == 6


def test_scale_up_is_immediate_but_rate_limited_by_default_policies() -> None:
    h, b = calc.History(), behavior()
    got = calc.normalize(h, b, desired=50, current=2, min_replicas=1, max_replicas=100, now=0)
    assert (got.replicas, got.limited_reason) == (6, "ScaleUpLimit")  # max(2+4, 2*2)
    h.record_scale(0, 2, 6)
    got = calc.normalize(h, b, desired=50, current=6, min_replicas=1, max_replicas=100, now=5)
    assert got.replicas == 6  # the period started at 2 replicas: max(2+4, 4) = 6
    got = calc.normalize(h, b, desired=50, current=6, min_replicas=1, max_replicas=100, now=16)
    assert got.replicas == 12


def test_min_max_clamp_reasons() -> None:
    h, b = calc.History(), behavior(0)
    got = calc.normalize(h, b, desired=9, current=4, min_replicas=1, max_replicas=5, now=0)
    assert (got.replicas, got.limited_reason) == (5, "TooManyReplicas")
    got = calc.normalize(h, b, desired=1, current=4, min_replicas=3, max_replicas=5, now=1)
    assert (got.replicas, got.limited_reason) == (3, "TooFewReplicas")


def test_configured_down_policy_and_disabled_select() -> None:
    pods_policy = HPAScalingPolicy(type="Pods", value=1, period_seconds=60)
    b = behavior(
        0, scale_down=HPAScalingRules(stabilization_window_seconds=0, policies=[pods_policy])
    )
    h = calc.History()
    assert norm(h, b, 1, 5, now=0) == 4
    off = behavior(0, scale_up=HPAScalingRules(select_policy="Disabled"))
    assert norm(calc.History(), off, 9, 3, now=0) == 3
