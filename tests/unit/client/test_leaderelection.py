"""Leader election settings (the election itself runs against the real API server in
tests/integration/client)."""

from __future__ import annotations

import pytest

from kcore.client.leaderelection import ElectionTimings


def test_defaults_match_client_go() -> None:
    t = ElectionTimings()
    assert (t.lease_duration, t.renew_deadline, t.retry_period) == (15.0, 10.0, 2.0)


@pytest.mark.parametrize(
    ("lease", "renew", "retry"), [(10.0, 10.0, 2.0), (15.0, 2.0, 2.0), (15.0, 10.0, 0.0)]
)
def test_timings_must_nest(lease: float, renew: float, retry: float) -> None:
    with pytest.raises(ValueError):
        ElectionTimings(lease_duration=lease, renew_deadline=renew, retry_period=retry)
