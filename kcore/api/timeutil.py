"""RFC 3339 timestamps as Kubernetes writes them, kept as strings in the object model.

Objects carry times as `str` (metav1.Time: second precision "2024-01-01T00:00:00Z";
metav1.MicroTime: "2006-01-02T15:04:05.000000Z") so that decoding and encoding never pay for
datetime conversion; code that needs arithmetic calls `parse`.
"""

from __future__ import annotations

from datetime import UTC, datetime

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_MICRO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> str:
    """The current time as a metav1.Time string (second precision, UTC)."""
    return format_time(datetime.now(UTC))


def micro_now() -> str:
    """The current time as a metav1.MicroTime string (microsecond precision, UTC)."""
    return format_micro(datetime.now(UTC))


def format_time(dt: datetime) -> str:
    return _as_utc(dt).strftime(_TIME_FORMAT)


def format_micro(dt: datetime) -> str:
    return _as_utc(dt).strftime(_MICRO_FORMAT)


def parse(value: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 time leniently; naive times (python client) are UTC.

    Raises ValueError for text that is not a timestamp.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = text.replace(" ", "T", 1) if "T" not in text else text
    dt = datetime.fromisoformat(text)
    return _as_utc(dt)


def normalize(value: str) -> str:
    """Re-render any accepted timestamp in Kubernetes' second-precision form."""
    return format_time(parse(value))


def from_timestamp(seconds: float) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))


def to_timestamp(value: str) -> float:
    return parse(value).timestamp()


def _as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
