"""Kubernetes strategic merge patch (`application/strategic-merge-patch+json`).

Follows apimachinery's `strategicpatch` applier (MergeParallelList + IgnoreUnmatchedNulls,
as the API server runs it): objects merge key by key and null deletes; lists whose schema
field has `merge` strategy merge element by element on their merge key (scalar lists merge as
sets); other lists are replaced. Directives: `$patch: replace|delete|merge` on an object or a
list element, `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.

Ordering of merged lists is Kubernetes': patch items keep the patch's order, server-only items
keep the live order, and the two are interleaved by live position - so a brand-new item lands
*before* the existing ones it is not positioned against (`$setElementOrder` overrides all).

Deliberate differences, all in the direction of never leaking directives into stored objects:
a value taken whole from the patch (new key, type change) has its directives processed and
null members dropped; `$patch: merge` is accepted as the explicit default (Kubernetes rejects
it). Strategies come from `schema.KINDS`; unknown kinds merge objects and replace lists.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import Any, Final, cast

from kcore.api.patch.errors import BAD_REQUEST, INVALID, JSON, PatchError, deep_copy
from kcore.api.patch.schema import Field, Schema, field_of, schema_for

__all__ = ["apply"]

DIRECTIVE: Final = "$patch"
RETAIN_KEYS: Final = "$retainKeys"
ORDER_PREFIX: Final = "$setElementOrder"
DELETE_PREFIX: Final = "$deleteFromPrimitiveList"

_BAD_RETAIN_KEYS: Final = "invalid patch format of retainKeys"
_BAD_DELETE_LIST: Final = "invalid patch format of primitive list"
_BAD_ORDER_LIST: Final = "invalid patch format of setElementOrder list"


def apply(doc: JSON, patch: JSON, kind: str) -> JSON:
    """Apply a strategic merge patch to an object of `kind` ("Pod", "Deployment", ...)."""
    if not isinstance(doc, dict) or not isinstance(patch, dict):
        raise PatchError("invalid JSON document", BAD_REQUEST)
    return _merge_map(deep_copy(doc), deep_copy(patch), schema_for(kind))


# --- identity of list items (Go's == on decoded JSON) --------------------------------------


def _scalar_id(value: JSON) -> Hashable:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z", None)
    return ("j", json.dumps(value, sort_keys=True, default=str))


def _item_id(item: JSON, key: str) -> Hashable:
    if key and isinstance(item, dict):
        return _scalar_id(item[key]) if key in item else ("missing", id(item))
    return _scalar_id(item)


def _no_merge_key(item: JSON, key: str) -> PatchError:
    return PatchError(f"map: {item} does not contain declared merge key: {key}", BAD_REQUEST)


# --- objects -------------------------------------------------------------------------------


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Schema | None) -> JSON:
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == "replace":
            return _merge_map({}, patch, schema)
        if directive == "delete":
            return {}
        if directive != "merge":
            raise PatchError(f"unknown patch type: {directive} in map: {patch}", BAD_REQUEST)
    _retain_keys(original, patch)
    _set_element_orders(original, patch, schema)
    deletions = []
    for key, value in patch.items():
        if key.startswith(DELETE_PREFIX):
            deletions.append((key, value))
        else:
            _merge_member(original, key, value, field_of(schema, key))
    for key, value in deletions:
        _delete_from_list(original, key, value)
    return original


def _merge_member(original: dict[str, Any], key: str, value: JSON, field: Field) -> None:
    if value is None:
        original.pop(key, None)
        return
    current = original.get(key)
    if isinstance(current, dict) and isinstance(value, dict):
        original[key] = _merge_map(current, value, field.schema)
    elif isinstance(current, list) and isinstance(value, list) and field.strategy == "merge":
        original[key] = _merge_list(current, value, field)
    else:
        original[key] = _fresh(value, field)


def _fresh(value: JSON, field: Field) -> JSON:
    """A patch value taken whole: directives applied against nothing, object nulls dropped."""
    if isinstance(value, dict):
        return _merge_map({}, value, field.schema)
    if isinstance(value, list):
        return _merge_list([], value, field) if field.strategy == "merge" else _strip(value)
    return value


def _strip(value: JSON) -> JSON:
    """Remove directive keys from the contents of a list that replaces whole."""
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not _is_directive(k)}
    return value


def _is_directive(key: str) -> bool:
    return key in (DIRECTIVE, RETAIN_KEYS) or key.startswith((ORDER_PREFIX, DELETE_PREFIX))


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """`$retainKeys`: drop every live key not listed; the patch may only set listed keys."""
    if RETAIN_KEYS not in patch:
        return
    keys = patch.pop(RETAIN_KEYS)
    if not isinstance(keys, list):
        raise PatchError(_BAD_RETAIN_KEYS, BAD_REQUEST)
    allowed = {k for k in keys if isinstance(k, str)}
    exempt = (DELETE_PREFIX, ORDER_PREFIX)
    for key, value in patch.items():
        if value is not None and not key.startswith(exempt) and key not in allowed:
            raise PatchError(_BAD_RETAIN_KEYS, BAD_REQUEST)
    for key in [k for k in original if k not in allowed]:
        del original[key]


def _list_name(key: str, prefix: str, message: str) -> str:
    head, sep, name = key.partition("/")
    if head != prefix or not sep:
        raise PatchError(message, BAD_REQUEST)
    return name


def _delete_from_list(original: dict[str, Any], key: str, values: JSON) -> None:
    name = _list_name(key, DELETE_PREFIX, _BAD_DELETE_LIST)
    if not isinstance(values, list):
        raise PatchError(_BAD_DELETE_LIST, BAD_REQUEST)
    current = original.get(name)
    if isinstance(current, list):
        doomed = {_scalar_id(v) for v in values}
        original[name] = [v for v in current if _scalar_id(v) not in doomed]


# --- lists ---------------------------------------------------------------------------------


def _element_kind(*lists: Sequence[JSON]) -> str:
    kinds = {
        "map" if isinstance(v, dict) else "list" if isinstance(v, list) else _scalar_kind(v)
        for items in lists
        for v in items
    }
    if "list" in kinds:
        raise PatchError("lists of lists are not supported", INVALID)
    if len(kinds) > 1:
        raise PatchError(f"list element types are not identical: {list(lists)}", BAD_REQUEST)
    return kinds.pop()


def _scalar_kind(value: JSON) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else type(value).__name__


def _merge_list(original: list[JSON], patch: list[JSON], field: Field) -> list[JSON]:
    if not original and not patch:
        return original
    if _element_kind(original, patch) != "map":
        merged = _dedupe([*original, *patch])
        return _normalize(merged, patch, original, "")
    key = field.merge_key
    if not key:
        raise PatchError("cannot merge lists without merge key", BAD_REQUEST)
    original, patch = _special_elements(original, patch, field)
    merged = _merge_by_key(list(original), patch, field)
    return _normalize(merged, patch, original, key)


def _dedupe(items: list[JSON]) -> list[JSON]:
    seen: set[Hashable] = set()
    out = []
    for item in items:
        ident = _scalar_id(item)
        if ident not in seen:
            seen.add(ident)
            out.append(item)
    return out


def _special_elements(
    original: list[JSON], patch: list[JSON], field: Field
) -> tuple[list[JSON], list[JSON]]:
    """Apply `$patch` list elements: delete matches, or replace the whole list."""
    key, plain, replace = field.merge_key, [], False
    for item in patch:
        directive = item.pop(DIRECTIVE, None)
        if directive is None or directive == "merge":
            plain.append(item)
        elif directive == "delete":
            if key not in item:
                raise _no_merge_key(item, key)
            doomed = _scalar_id(item[key])
            original = [o for o in original if _item_id(o, key) != doomed]
        elif directive == "replace":
            replace = True
        else:
            raise PatchError(f"unknown patch type: {directive} in map: {item}", BAD_REQUEST)
    if replace:
        return [_merge_map({}, item, field.schema) for item in plain], []
    return original, plain


def _merge_by_key(original: list[JSON], patch: list[JSON], field: Field) -> list[JSON]:
    key = field.merge_key
    where: dict[Hashable, int] = {}
    for i, item in enumerate(original):
        where.setdefault(_item_id(item, key), i)
    for item in patch:
        if key not in item:
            raise _no_merge_key(item, key)
        ident = _scalar_id(item[key])
        index = where.get(ident)
        if index is None:
            where[ident] = len(original)
            original.append(_merge_map({}, item, field.schema))
        else:
            original[index] = _merge_map(original[index], item, field.schema)
    return original


# --- ordering ------------------------------------------------------------------------------


def _normalize(
    merged: list[JSON], patch_order: list[JSON], server_order: list[JSON], key: str
) -> list[JSON]:
    """Patch items in patch order, server-only items in live order, interleaved by live order."""
    in_patch = {_item_id(p, key) for p in patch_order}
    patch_items = [m for m in merged if _item_id(m, key) in in_patch]
    server_only = [m for m in merged if _item_id(m, key) not in in_patch]
    patch_items = _sort_by(patch_items, patch_order, key)
    server_only = _sort_by(server_only, server_order, key)
    return _interleave(server_only, patch_items, server_order, key)


def _positions(order: list[JSON], key: str) -> dict[Hashable, int]:
    positions: dict[Hashable, int] = {}
    for i, item in enumerate(order):
        positions.setdefault(_item_id(item, key), i)
    return positions


def _sort_by(items: list[JSON], order: list[JSON], key: str) -> list[JSON]:
    positions = _positions(order, key)
    return sorted(items, key=lambda item: positions.get(_item_id(item, key), -1))


def _interleave(
    left: list[JSON], right: list[JSON], server_order: list[JSON], key: str
) -> list[JSON]:
    """mergeSortedSlice: take a server-only item first only when live order says so."""
    positions = _positions(server_order, key)
    out, i, j = [], 0, 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
            continue
        if i < len(left):
            li = positions.get(_item_id(left[i], key))
            ri = positions.get(_item_id(right[j], key))
            if li is not None and ri is not None and li < ri:
                out.append(left[i])
                i += 1
                continue
        out.append(right[j])
        j += 1
    return out


# --- $setElementOrder ----------------------------------------------------------------------


def _set_element_orders(
    original: dict[str, Any], patch: dict[str, Any], schema: Schema | None
) -> None:
    for directive in [k for k in patch if k.startswith(ORDER_PREFIX)]:
        order = patch.pop(directive)
        name = _list_name(directive, ORDER_PREFIX, _BAD_ORDER_LIST)
        if not isinstance(order, list):
            raise PatchError(_BAD_ORDER_LIST, BAD_REQUEST)
        field = field_of(schema, name)
        live, change = _list_member(original, name), _list_member(patch, name)
        _check_order(change or [], order, field.merge_key)
        merged = _ordered_merge(live, change, field)
        if merged is None:
            continue
        live_items = live or []
        patch_items, server_only = _partition(merged, order, field.merge_key)
        patch_items = _sort_by(patch_items, order, field.merge_key)
        server_only = _sort_by(server_only, live_items, field.merge_key)
        original[name] = _interleave(server_only, patch_items, live_items, field.merge_key)
        patch.pop(name, None)


def _list_member(container: dict[str, Any], name: str) -> list[JSON] | None:
    if name not in container:
        return None
    value = container[name]
    if not isinstance(value, list):
        raise PatchError(f"expected a list for {name}, but received {value!r}", BAD_REQUEST)
    return value


def _ordered_merge(
    live: list[JSON] | None, change: list[JSON] | None, field: Field
) -> list[JSON] | None:
    if change is None:
        return live
    if live is not None and field.strategy == "merge":
        return _merge_list(live, change, field)
    return cast(list[JSON], _fresh(change, field))


def _partition(merged: list[JSON], order: list[JSON], key: str) -> tuple[list[JSON], list[JSON]]:
    listed = {_item_id(o, key) for o in order}
    inside = [m for m in merged if _item_id(m, key) in listed]
    outside = [m for m in merged if _item_id(m, key) not in listed]
    return inside, outside


def _check_order(change: list[JSON], order: list[JSON], key: str) -> None:
    """The patch list must be a subsequence of the order list (deletions aside)."""
    items = [p for p in change if not (isinstance(p, dict) and p.get(DIRECTIVE) == "delete")]
    if key:
        items = [p for p in items if not (isinstance(p, dict) and DIRECTIVE in p)]
    wanted = [_key_of(o, key) for o in order]
    position = 0
    for item in items:
        ident = _key_of(item, key)
        while position < len(wanted) and wanted[position] != ident:
            position += 1
        if position == len(wanted):
            raise PatchError(
                f"The order in patch list:\n{change}\n doesn't match {ORDER_PREFIX} list:\n"
                f"{order}\n",
                BAD_REQUEST,
            )
        position += 1


def _key_of(item: JSON, key: str) -> Hashable:
    if key and isinstance(item, dict) and key not in item:
        raise _no_merge_key(item, key)
    return _item_id(item, key)
