"""The one error type of the patch package and the JSON value helpers its modules share."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["BAD_REQUEST", "INVALID", "JSON", "PatchError", "deep_copy", "json_equal"]

JSON = Any  # dict[str, JSON] | list[JSON] | str | int | float | bool | None

BAD_REQUEST: Final = 400
INVALID: Final = 422


class PatchError(ValueError):
    """A patch that cannot be applied; `code` is the HTTP status the API server answers.

    400 for a malformed patch document, 422 when a well-formed patch does not apply to this
    object (a failed `test` op, a path that does not exist, an invalid merged result).
    """

    def __init__(self, message: str, code: int = BAD_REQUEST) -> None:
        super().__init__(message)
        self.code = code


def deep_copy(value: JSON) -> JSON:
    """Copy dicts and lists (scalars are immutable): faster than copy.deepcopy for JSON."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    return value


def json_equal(a: JSON, b: JSON) -> bool:
    """Equality as JSON sees it: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return False
        return all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b
