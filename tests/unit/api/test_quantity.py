"""Quantity parsing, canonical form and integer views, against Kubernetes' documented behaviour."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api.quantity import (
    MAX_INT64,
    Format,
    Quantity,
    QuantityError,
    canonical,
    format_bytes,
    format_milli,
    int_value,
    milli_value,
    parse,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", Fraction(0)),
        ("1", Fraction(1)),
        ("+1", Fraction(1)),
        ("-1", Fraction(-1)),
        ("0.5", Fraction(1, 2)),
        (".5", Fraction(1, 2)),
        ("1.", Fraction(1)),
        ("100m", Fraction(1, 10)),
        ("1n", Fraction(1, 10**9)),
        ("5u", Fraction(5, 10**6)),
        ("2k", Fraction(2000)),
        ("3M", Fraction(3 * 10**6)),
        ("1G", Fraction(10**9)),
        ("1T", Fraction(10**12)),
        ("1P", Fraction(10**15)),
        ("1E", Fraction(10**18)),
        ("1Ki", Fraction(1024)),
        ("128Mi", Fraction(128 * 2**20)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("1Ti", Fraction(2**40)),
        ("1Pi", Fraction(2**50)),
        ("1Ei", Fraction(2**60)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("1e-3", Fraction(1, 1000)),
        ("1e+3", Fraction(1000)),
        ("-1.5e2", Fraction(-150)),
    ],
)
def test_parse_values(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["1.5.2", "1Kb", "", " 1", "1 ", "-", "Ki", "1e", "1KK", "1mi", "abc", "1e1.5", "1Mi5"]
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_error_message_names_the_regex() -> None:
    with pytest.raises(QuantityError, match=r"quantities must match the regular expression"):
        parse_quantity("1.5.2")
    with pytest.raises(QuantityError, match="unable to parse quantity's suffix"):
        parse_quantity("1KK")


def test_exponent_beyond_int64_is_rejected() -> None:
    with pytest.raises(QuantityError):
        parse_quantity("1e99999999999999999999")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "0"),
        ("0.5", "500m"),
        ("1e3", "1e3"),  # DecimalExponent keeps its format, as Quantity.String() does
        ("1E3", "1e3"),
        ("1000", "1k"),
        ("1500000", "1500k"),
        ("1000Mi", "1000Mi"),
        ("1024Mi", "1Gi"),
        ("100m", "100m"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("1.5Ki", "1536"),
        ("1.1Ki", "1126400m"),
        ("+1", "1"),
        ("-1.5", "-1500m"),
        ("-1024", "-1024"),
        ("-1Ki", "-1Ki"),
        ("5e-1", "500e-3"),
        ("12e6", "12e6"),
        ("0.1n", "1n"),  # sub-nano rounds up to the smallest unit
        ("-0.1n", "-1n"),
        ("1.0000000001", "1000000001n"),
        ("1000E", "1000E"),
    ],
)
def test_canonical(text: str, expected: str) -> None:
    assert canonical(text) == expected


def test_binary_and_exponent_values_cap_at_max_int64() -> None:
    assert parse_quantity("8Ei") == MAX_INT64
    assert parse_quantity("1e30") == MAX_INT64
    assert parse_quantity("1e999999999") == MAX_INT64
    assert parse_quantity("-1e30") == -MAX_INT64
    assert parse_quantity("100000E") == 10**23  # DecimalSI is not capped


def test_tiny_values_round_up_to_one_nano() -> None:
    assert parse_quantity("1e-20") == Fraction(1, 10**9)
    assert parse_quantity("0.00000000000000000000000001") == Fraction(1, 10**9)
    assert parse_quantity("0e-999999999") == 0


@pytest.mark.parametrize(
    ("text", "milli", "whole"),
    [
        ("100m", 100, 1),
        ("1", 1000, 1),
        ("1.5", 1500, 2),
        ("0.1m", 1, 1),
        ("1n", 1, 1),
        ("128Mi", 128 * 2**20 * 1000, 128 * 2**20),
        ("-1.5", -1500, -2),
        ("-0.1m", -1, -1),
        ("0", 0, 0),
    ],
)
def test_milli_and_int_value_round_away_from_zero(text: str, milli: int, whole: int) -> None:
    assert milli_value(text) == milli
    assert int_value(text) == whole


def test_numbers_are_accepted() -> None:
    assert parse_quantity(2) == 2
    assert parse_quantity(0.25) == Fraction(1, 4)
    assert canonical(1000) == "1k"
    with pytest.raises(QuantityError):
        parse_quantity(float("nan"))
    with pytest.raises(QuantityError):
        parse_quantity(True)


def test_format_helpers() -> None:
    assert format_milli(1500) == "1500m"
    assert format_milli(2000) == "2"
    assert format_milli(0) == "0"
    assert format_bytes(2**30) == "1Gi"
    assert format_bytes(1536 * 2**20) == "1536Mi"
    assert format_bytes(1000) == "1k"  # below 1024 Kubernetes prints DecimalSI
    assert format_bytes(1500000) == "1500000"


def test_quantity_object() -> None:
    q = parse("1.5Gi")
    assert q.format is Format.BINARY_SI
    assert str(q) == "1536Mi"
    assert q.int_value() == 3 * 2**29
    assert parse(q) is q
    assert str(Quantity(Fraction(1, 2), Format.DECIMAL_EXPONENT)) == "500e-3"


# --- properties ----------------------------------------------------------------------------

_suffix = st.sampled_from(
    ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
    + [f"e{e}" for e in range(-12, 19)]
)
_number = st.builds(
    lambda sign, whole, frac: f"{sign}{whole}{'.' + frac if frac else ''}",
    st.sampled_from(["", "+", "-"]),
    st.integers(0, 10**12).map(str),
    st.one_of(st.just(""), st.integers(0, 10**6).map(str)),
)
quantities = st.builds(lambda n, s: n + s, _number, _suffix)


@given(quantities)
def test_canonical_round_trips(text: str) -> None:
    q = parse(text)
    again = parse(canonical(text))
    assert again.value == q.value
    assert canonical(canonical(text)) == canonical(text)


@given(quantities, quantities)
def test_ordering_survives_canonical_form_and_milli_rounding(a: str, b: str) -> None:
    qa, qb = parse_quantity(a), parse_quantity(b)
    assert (qa < qb) == (parse_quantity(canonical(a)) < parse_quantity(canonical(b)))
    if qa <= qb:
        assert milli_value(a) <= milli_value(b)


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**9))
def test_milli_value_is_ceil_away_from_zero(numerator: int, denominator: int) -> None:
    value = Fraction(numerator, denominator)
    milli = milli_value(value)
    exact = parse_quantity(value) * 1000
    assert abs(milli) >= abs(exact)
    assert abs(milli) - abs(exact) < 1
    assert (milli >= 0) == (exact >= 0) or milli == 0


@given(st.integers(-(2**62), 2**62))
def test_format_milli_parses_back(m: int) -> None:
    assert milli_value(format_milli(m)) == m


@given(st.integers(-(2**62), 2**62))
def test_format_bytes_parses_back(n: int) -> None:
    assert int_value(format_bytes(n)) == n
