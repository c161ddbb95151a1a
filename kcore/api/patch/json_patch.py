"""RFC 6902 JSON Patch: add, remove, replace, move, copy and test over JSON-like values.

Operations apply in order to a private copy of the document, so a failing operation leaves the
caller's document untouched and values taken from the patch are never aliased into the result.
Error codes follow the API server: a body that is not a list of operation objects is a 400;
anything that fails while applying (unknown op, missing member, bad path, failed `test`) is a
422, as evanphx/json-patch errors are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from kcore.api.patch.errors import BAD_REQUEST, INVALID, JSON, PatchError, deep_copy, json_equal

__all__ = ["MAX_OPERATIONS", "Operation", "apply", "parse_pointer"]

_INDEX = re.compile(r"0|[1-9][0-9]*")
_OPS: Final = frozenset({"add", "remove", "replace", "move", "copy", "test"})
_NEEDS_VALUE: Final = frozenset({"add", "replace", "test"})
_NEEDS_FROM: Final = frozenset({"move", "copy"})
_MISSING = object()
MAX_OPERATIONS: Final = 10000  # the API server's limit; more is 413 RequestEntityTooLarge


@dataclass(frozen=True, slots=True)
class Operation:
    op: str
    path: tuple[str, ...]
    text: str  # the path as written, for messages
    value: JSON = None
    source: tuple[str, ...] = ()


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """RFC 6901: "" is the whole document, "/a~1b/0" is ("a/b", "0")."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise PatchError(f'JSON pointer "{pointer}" must start with "/"', INVALID)
    tokens = pointer[1:].split("/")
    if any(re.search(r"~(?![01])", t) for t in tokens):
        raise PatchError(f'JSON pointer "{pointer}" has an invalid ~ escape', INVALID)
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in tokens)


def _operation(raw: JSON) -> Operation:
    if not isinstance(raw, dict):
        raise PatchError("json patch operations must be JSON objects", BAD_REQUEST)
    op = raw.get("op")
    if op not in _OPS:
        raise PatchError(f"Unexpected kind: {op}", INVALID)
    path = raw.get("path")
    if not isinstance(path, str):
        raise PatchError(f"{op} operation is missing the path member", INVALID)
    if op in _NEEDS_VALUE and "value" not in raw:
        raise PatchError(f"{op} operation is missing the value member", INVALID)
    source: tuple[str, ...] = ()
    if op in _NEEDS_FROM:
        if not isinstance(raw.get("from"), str):
            raise PatchError(f"{op} operation is missing the from member", INVALID)
        source = parse_pointer(raw["from"])
    return Operation(op, parse_pointer(path), path, raw.get("value"), source)


def apply(doc: JSON, ops: JSON) -> JSON:
    """Apply a JSON Patch (a list of operation objects) and return the new document."""
    if not isinstance(ops, list):
        raise PatchError("a json patch must be a JSON array of operations", BAD_REQUEST)
    if len(ops) > MAX_OPERATIONS:
        message = (
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got: {len(ops)}"
        )
        raise PatchError(message, 413)
    operations = [_operation(raw) for raw in ops]
    result = deep_copy(doc)
    for operation in operations:
        result = _APPLY[operation.op](result, operation)
    return result


# --- navigation ----------------------------------------------------------------------------


def _index(container: list[JSON], token: str, text: str, *, extend: bool) -> int:
    if token == "-" and extend:
        return len(container)
    if not _INDEX.fullmatch(token):
        raise PatchError(f'invalid array index "{token}" in path "{text}"', INVALID)
    index = int(token)
    if index > len(container) or (index == len(container) and not extend):
        raise PatchError(f'array index {index} out of bounds in path "{text}"', INVALID)
    return index


def _child(node: JSON, token: str, text: str) -> JSON:
    if isinstance(node, dict):
        return node.get(token, _MISSING)
    if isinstance(node, list):
        return node[_index(node, token, text, extend=False)]
    return _MISSING


def _resolve(doc: JSON, path: Sequence[str], text: str, verb: str) -> JSON:
    node = doc
    for token in path:
        node = _child(node, token, text)
        if node is _MISSING:
            raise PatchError(
                f'{verb} operation does not apply: doc is missing path: "{text}"', INVALID
            )
    return node


def _parent(doc: JSON, op: Operation, verb: str) -> JSON:
    parent = _resolve(doc, op.path[:-1], op.text, verb)
    if not isinstance(parent, dict | list):
        raise PatchError(f'{verb} operation does not apply: "{op.text}" has no container', INVALID)
    return parent


# --- operations ----------------------------------------------------------------------------


def _add(doc: JSON, op: Operation, value: JSON = _MISSING) -> JSON:
    value = deep_copy(op.value) if value is _MISSING else value
    if not op.path:
        return value
    parent, last = _parent(doc, op, "add"), op.path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    else:
        parent.insert(_index(parent, last, op.text, extend=True), value)
    return doc


def _remove(doc: JSON, op: Operation) -> JSON:
    _take(doc, op.path, op.text, "remove")
    return doc


def _take(doc: JSON, path: tuple[str, ...], text: str, verb: str) -> JSON:
    """Remove and return the value at path."""
    if not path:
        raise PatchError(
            f"{verb} operation does not apply: cannot remove the whole document", INVALID
        )
    parent = _resolve(doc, path[:-1], text, verb)
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, text, extend=False))
    raise PatchError(f'{verb} operation does not apply: doc is missing path: "{text}"', INVALID)


def _replace(doc: JSON, op: Operation) -> JSON:
    if not op.path:
        return deep_copy(op.value)
    parent, last = _parent(doc, op, "replace"), op.path[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(
                f"replace operation does not apply: doc is missing key: {op.text}", INVALID
            )
        parent[last] = deep_copy(op.value)
    else:
        parent[_index(parent, last, op.text, extend=False)] = deep_copy(op.value)
    return doc


def _move(doc: JSON, op: Operation) -> JSON:
    if op.source == op.path:
        _resolve(doc, op.source, op.text, "move")
        return doc
    if op.path[: len(op.source)] == op.source:
        raise PatchError(
            f'move operation cannot move "{op.text}" into one of its children', INVALID
        )
    value = _take(doc, op.source, "/".join(("", *op.source)), "move")
    return _add(doc, op, value)


def _copy(doc: JSON, op: Operation) -> JSON:
    value = _resolve(doc, op.source, "/".join(("", *op.source)), "copy")
    return _add(doc, op, deep_copy(value))


def _test(doc: JSON, op: Operation) -> JSON:
    current = _resolve(doc, op.path, op.text, "test")
    if not json_equal(current, op.value):
        raise PatchError(f"testing value {op.text} failed: test failed", INVALID)
    return doc


_APPLY: Final = {
    "add": _add, "remove": _remove, "replace": _replace,
    "move": _move, "copy": _copy, "test": _test,
}  # fmt: skip
