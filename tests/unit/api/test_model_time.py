"""kcore.api.timeutil: Kubernetes' Time and MicroTime strings, lenient parsing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api import timeutil


def test_now_is_second_precision_utc() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", timeutil.now())


def test_micro_now_has_six_fraction_digits() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", timeutil.micro_now())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00.123456Z", datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2024-01-01T02:00:00+02:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T00:00:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01 00:00:00", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01t00:00:00z", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_is_lenient(text: str, expected: datetime) -> None:
    assert timeutil.parse(text) == expected


def test_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        timeutil.parse("yesterday")


def test_normalize_renders_kubernetes_form() -> None:
    assert timeutil.normalize("2024-01-01T01:00:00.9+01:00") == "2024-01-01T00:00:00Z"


def test_format_converts_to_utc() -> None:
    dt = datetime(2024, 1, 1, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert timeutil.format_time(dt) == "2024-01-01T00:00:00Z"
    assert timeutil.format_micro(dt) == "2024-01-01T00:00:00.000000Z"


@given(st.integers(0, 4_000_000_000))
def test_timestamps_round_trip(seconds: int) -> None:
    text = timeutil.from_timestamp(seconds)
    assert timeutil.to_timestamp(text) == seconds
    assert timeutil.normalize(text) == text
