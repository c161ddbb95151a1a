"""RFC 7386 JSON Merge Patch (`application/merge-patch+json`), and the diff that produces one.

`apply` never mutates its inputs: it works on a copy of the document and copies what it takes
from the patch. `diff(a, b)` builds the merge patch that turns `a` into `b`; the law
`apply(a, diff(a, b)) == b` holds whenever `b` has no null member values (merge patches cannot
express "set to null").
"""

from __future__ import annotations

from kcore.api.patch.errors import JSON, deep_copy, json_equal

__all__ = ["apply", "diff"]


def apply(doc: JSON, patch: JSON) -> JSON:
    """Apply a merge patch: objects merge recursively, null deletes, anything else replaces."""
    return _merge(deep_copy(doc), patch)


def _merge(target: JSON, patch: JSON) -> JSON:
    if not isinstance(patch, dict):
        return deep_copy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge(target.get(key), value)
    return target


def diff(original: JSON, modified: JSON) -> JSON:
    """The merge patch that turns `original` into `modified` (objects diffed key by key)."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return deep_copy(modified)
    patch: dict[str, JSON] = {key: None for key in original if key not in modified}
    for key, value in modified.items():
        if key not in original:
            patch[key] = deep_copy(value)
        elif not json_equal(original[key], value):
            patch[key] = diff(original[key], value)
    return patch
