"""The three PATCH body kinds the API server accepts, over JSON-like Python values.

* `json_patch.apply(doc, ops)` - RFC 6902 (`application/json-patch+json`)
* `merge_patch.apply(doc, patch)` - RFC 7386 (`application/merge-patch+json`)
* `strategic.apply(doc, patch, kind)` - Kubernetes strategic merge patch
  (`application/strategic-merge-patch+json`), strategies from `schema.KINDS`

None of them mutates its inputs; all raise `PatchError` whose `.code` is the HTTP status.
"""

from __future__ import annotations

from typing import Final

from kcore.api.patch import json_patch, merge_patch, strategic
from kcore.api.patch.errors import PatchError

__all__ = [
    "CONTENT_TYPES",
    "PatchError",
    "apply_patch",
    "json_patch",
    "merge_patch",
    "strategic",
]

JSON_PATCH: Final = "application/json-patch+json"
MERGE_PATCH: Final = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
CONTENT_TYPES: Final = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)


def apply_patch(content_type: str, doc: object, patch: object, kind: str) -> object:
    """Dispatch on the request's Content-Type (parameters such as charset are ignored)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_PATCH:
        return json_patch.apply(doc, patch)
    if media == MERGE_PATCH:
        return merge_patch.apply(doc, patch)
    if media == STRATEGIC_MERGE_PATCH:
        return strategic.apply(doc, patch, kind)
    raise PatchError(f"the media type {media!r} is not a patch type", 415)
