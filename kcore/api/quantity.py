"""Kubernetes resource quantities (`100m`, `128Mi`, `1e3`) as exact fractions.

Owns parsing, the canonical string form and the integer views (`milli_value`, `int_value`)
with the semantics of apimachinery's `resource.Quantity`:

* values are exact (`fractions.Fraction`); a non-zero value is rounded *up* (away from zero)
  to the nano scale, so asking for a sliver of a resource always yields some resource;
* BinarySI (`Ki`..`Ei`) and DecimalExponent (`1e3`) values are capped at max int64, DecimalSI
  values are not (that is what Kubernetes does);
* the canonical form keeps the format the value was written in: `1e3` stays `1e3`,
  `1000` becomes `1k`, `1024Mi` becomes `1Gi`, a binary value that is fractional or below
  1024 falls back to DecimalSI (`0.5Ki` -> `512`).

Kubernetes rejects a decimal exponent that does not fit int64; we also reject one outside
int32 (Go truncates it silently), so no input can make us build a gigantic integer.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

__all__ = [
    "MAX_INT64",
    "Format",
    "Quantity",
    "QuantityError",
    "canonical",
    "format_bytes",
    "format_milli",
    "int_value",
    "milli_value",
    "parse",
    "parse_quantity",
]

MAX_INT64: Final = (1 << 63) - 1
_INT32_MAX: Final = (1 << 31) - 1
_NANO: Final = 10**9

REGEX_TEXT: Final = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_FORMAT_WRONG: Final = f"quantities must match the regular expression '{REGEX_TEXT}'"
_SUFFIX_WRONG: Final = "unable to parse quantity's suffix"

# Mirrors the scanner of quantity.go: sign, digits, optional fraction, suffix letters,
# optional signed integer (the exponent of `1e-3`).
_SPLIT = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_GO_INT = re.compile(r"[+-]?[0-9]+")

_DECIMAL_SUFFIXES: Final = {
    "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
}  # fmt: skip
_DECIMAL_BY_EXP: Final = {exp: s for s, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_BY_EXP: Final = {exp: s for s, exp in _BINARY_SUFFIXES.items()} | {0: ""}


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


class Format(enum.StrEnum):
    DECIMAL_SI = "DecimalSI"
    BINARY_SI = "BinarySI"
    DECIMAL_EXPONENT = "DecimalExponent"


@dataclass(frozen=True, slots=True)
class Quantity:
    """An exact value plus the format it prints in (like resource.Quantity)."""

    value: Fraction
    format: Format = Format.DECIMAL_SI

    def __str__(self) -> str:
        return _canonical(self)

    def milli_value(self) -> int:
        return _round_away(self.value * 1000)

    def int_value(self) -> int:
        return _round_away(self.value)


QuantityLike = str | int | float | Fraction | Quantity


def parse(v: QuantityLike) -> Quantity:
    """Parse anything a JSON quantity field may hold into a `Quantity`."""
    if isinstance(v, Quantity):
        return v
    if isinstance(v, bool):
        raise QuantityError(_FORMAT_WRONG)
    if isinstance(v, Fraction):
        return Quantity(_round_to_nano(v))
    if isinstance(v, int):
        return Quantity(Fraction(v))
    if isinstance(v, float):
        if not math.isfinite(v):
            raise QuantityError(_FORMAT_WRONG)
        return _parse_string(repr(v))
    if isinstance(v, str):
        return _parse_string(v)
    raise QuantityError(f"cannot parse {type(v).__name__} as a quantity")


def parse_quantity(v: QuantityLike) -> Fraction:
    """The exact value of a quantity: parse_quantity("100m") == Fraction(1, 10)."""
    return parse(v).value


def milli_value(v: QuantityLike) -> int:
    """Value in thousandths, rounded away from zero (Quantity.MilliValue)."""
    return parse(v).milli_value()


def int_value(v: QuantityLike) -> int:
    """Value as an integer, rounded away from zero (Quantity.Value)."""
    return parse(v).int_value()


def canonical(v: QuantityLike) -> str:
    """Kubernetes' canonical string for a quantity: "0.5" -> "500m", "1024Mi" -> "1Gi"."""
    return _canonical(parse(v))


def format_milli(m: int) -> str:
    """A milli value as a DecimalSI quantity: 1500 -> "1500m", 2000 -> "2"."""
    return _canonical(Quantity(Fraction(m, 1000), Format.DECIMAL_SI))


def format_bytes(n: int) -> str:
    """A byte count as a BinarySI quantity: 1073741824 -> "1Gi", 1000 -> "1000"."""
    return _canonical(Quantity(Fraction(n), Format.BINARY_SI))


# --- parsing -------------------------------------------------------------------------------


def _parse_string(text: str) -> Quantity:
    if not text:
        raise QuantityError(_FORMAT_WRONG)
    match = _SPLIT.fullmatch(text)
    if match is None:
        raise QuantityError(_FORMAT_WRONG)
    sign, whole, frac, suffix = match.groups()
    frac = frac or ""
    if not whole and match.group(3) is None:
        raise QuantityError(_FORMAT_WRONG)  # no digits and no dot: "Ki", "-"
    base, exponent, fmt = _interpret_suffix(suffix)
    mantissa = int(whole + frac) if whole or frac else 0
    if sign == "-":
        mantissa = -mantissa
    if base == 2:
        value = Fraction(mantissa * (1 << exponent), 10 ** len(frac))
        return Quantity(_bounded(_round_to_nano(value), fmt), fmt)
    return Quantity(_decimal_value(mantissa, exponent - len(frac), fmt), fmt)


def _interpret_suffix(suffix: str) -> tuple[int, int, Format]:
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _GO_INT.fullmatch(suffix[1:]):
        exponent = int(suffix[1:])
        if abs(exponent) <= _INT32_MAX:
            return 10, exponent, Format.DECIMAL_EXPONENT
    raise QuantityError(_SUFFIX_WRONG)


def _decimal_value(mantissa: int, exponent: int, fmt: Format) -> Fraction:
    """mantissa * 10**exponent, nano-rounded and capped, without huge intermediates."""
    if mantissa == 0:
        return Fraction(0)
    digits = len(str(abs(mantissa)))
    sign = 1 if mantissa > 0 else -1
    if digits + exponent < -10:  # below 1e-10: rounds up to one nano
        return Fraction(sign, _NANO)
    if digits + exponent > 20 and fmt is not Format.DECIMAL_SI:  # beyond int64 anyway
        return Fraction(sign * MAX_INT64)
    if exponent >= 0:
        value = Fraction(mantissa * 10**exponent)
    else:
        value = Fraction(mantissa, 10**-exponent)
    return _bounded(_round_to_nano(value), fmt)


def _round_to_nano(value: Fraction) -> Fraction:
    if (value * _NANO).denominator == 1:
        return value
    return Fraction(_round_away(value * _NANO), _NANO)


def _bounded(value: Fraction, fmt: Format) -> Fraction:
    if fmt is Format.DECIMAL_SI or abs(value) <= MAX_INT64:
        return value
    return Fraction(MAX_INT64 if value > 0 else -MAX_INT64)


def _round_away(value: Fraction) -> int:
    """Round to an integer away from zero, as quantity.go's scaling does."""
    return math.ceil(value) if value >= 0 else -math.ceil(-value)


# --- formatting ----------------------------------------------------------------------------


def _canonical(q: Quantity) -> str:
    value = q.value
    if value == 0:
        return "0"
    if q.format is Format.BINARY_SI and value.denominator == 1 and abs(value) >= 1024:
        return _binary_string(int(value))
    fmt = Format.DECIMAL_SI if q.format is Format.BINARY_SI else q.format
    return _decimal_string(_round_to_nano(value), fmt)


def _binary_string(value: int) -> str:
    exponent = 0
    while value % 1024 == 0 and exponent < 60:
        value //= 1024
        exponent += 10
    return f"{value}{_BINARY_BY_EXP[exponent]}"


def _decimal_string(value: Fraction, fmt: Format) -> str:
    mantissa, exponent = int(value * _NANO), -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    while exponent % 3:
        mantissa *= 10
        exponent -= 1
    if fmt is Format.DECIMAL_EXPONENT:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    if exponent > 18:  # past exa there is no suffix: keep the digits
        mantissa *= 10 ** (exponent - 18)
        exponent = 18
    return f"{mantissa}{_DECIMAL_BY_EXP[exponent]}"
