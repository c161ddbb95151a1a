"""Field errors shaped like k8s.io/apimachinery/pkg/util/validation/field: each Cause's
message is Kubernetes' `ErrorBody()` ("Invalid value: \"Foo\": ...", "Required value",
"Unsupported value: ..."), plus the small numeric and enum checks every kind uses."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import Any

from kcore.api import codec
from kcore.api.errors import Cause

PORT_RANGE_MESSAGE = "must be between 1 and 65535, inclusive"
IMMUTABLE = "field is immutable"
PROTOCOLS = ("SCTP", "TCP", "UDP")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def fmt(value: Any) -> str:
    """A value the way field.Error prints it (%q for strings, Go literals for the rest)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping):
        body = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in value.items())
        return f"map[string]string{{{body}}}"
    if value is None:
        return "null"
    return json.dumps(codec.to_dict(value), separators=(",", ":"))


def required(path: str, detail: str = "") -> Cause:
    message = f"Required value: {detail}" if detail else "Required value"
    return Cause(path, message, "FieldValueRequired")


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {fmt(value)}: {detail}", "FieldValueInvalid")


def not_supported(path: str, value: Any, valid: Iterable[str]) -> Cause:
    choices = ", ".join(json.dumps(v) for v in valid)
    message = f"Unsupported value: {fmt(value)}: supported values: {choices}"
    return Cause(path, message, "FieldValueNotSupported")


def duplicate(path: str, value: Any) -> Cause:
    return Cause(path, f"Duplicate value: {fmt(value)}", "FieldValueDuplicate")


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, f"Forbidden: {detail}", "FieldValueForbidden")


def not_found(path: str, value: Any) -> Cause:
    return Cause(path, f"Not found: {fmt(value)}", "FieldValueNotFound")


def too_long(path: str, limit: int) -> Cause:
    return Cause(path, f"Too long: may not be more than {limit} bytes", "FieldValueTooLong")


def each(path: str, value: Any, messages: list[str]) -> list[Cause]:
    return [invalid(path, value, m) for m in messages]


def non_negative(path: str, value: int | None) -> list[Cause]:
    if value is not None and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def positive(path: str, value: int | None) -> list[Cause]:
    if value is not None and value <= 0:
        return [invalid(path, value, "must be greater than 0")]
    return []


def port_number(path: str, value: int | None) -> list[Cause]:
    if value is None or 1 <= value <= 65535:
        return []
    return [invalid(path, value, PORT_RANGE_MESSAGE)]


def one_of(path: str, value: str, valid: Iterable[str]) -> list[Cause]:
    options = list(valid)
    if not value:
        return [required(path)]
    return [] if value in options else [not_supported(path, value, options)]


def immutable(path: str, new: Any, old: Any) -> list[Cause]:
    return [] if new == old else [invalid(path, new, IMMUTABLE)]


def ip_address(path: str, index: int | None, value: str) -> list[Cause]:
    at = path if index is None else f"{path}[{index}]"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return [invalid(at, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []
