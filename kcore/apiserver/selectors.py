"""Label and field selectors from a request's query, as one predicate over stored objects.
Malformed selectors and unsupported field labels are 400 BadRequest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kcore.api import errors, labels
from kcore.api import fields as field_selectors
from kcore.api.registry import ResourceInfo
from kcore.apiserver.objects import Obj


def predicate(
    info: ResourceInfo, label_selector: str, field_selector: str, *, name: str = ""
) -> Callable[[Obj], bool] | None:
    """None when nothing is selected on (every object matches)."""
    if name:
        name_term = f"metadata.name={name}"
        field_selector = f"{field_selector},{name_term}" if field_selector else name_term
    lsel = _parse_labels(label_selector) if label_selector.strip() else None
    fsel = _parse_fields(info, field_selector) if field_selector.strip() else None
    if lsel is None and fsel is None:
        return None
    return lambda obj: _matches(info.plural, lsel, fsel, obj)


def _parse_labels(s: str) -> Any:
    try:
        return labels.parse(s)
    except ValueError as e:
        raise errors.bad_request(f"unable to parse requirement: {e}") from None


def _parse_fields(info: ResourceInfo, s: str) -> Any:
    try:
        sel = field_selectors.parse(s)
        field_selectors.validate(info.plural, sel)
    except ValueError as e:
        raise errors.bad_request(str(e)) from None
    return sel


def _matches(resource: str, lsel: Any, fsel: Any, obj: Obj) -> bool:
    metadata = obj.get("metadata") or {}
    if lsel is not None and not lsel.matches(metadata.get("labels") or {}):
        return False
    return fsel is None or bool(fsel.matches(field_selectors.object_fields(resource, obj)))
