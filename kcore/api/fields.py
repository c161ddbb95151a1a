"""Field selectors (`spec.nodeName=n1,status.phase!=Failed`) and each resource's selectable fields.

Parsing and escaping follow apimachinery's `fields` package: terms are comma-joined, values may
escape `\\`, `,` and `=` with a backslash, and `=`/`==` mean equality. Which fields a resource
supports is the table in `SELECTABLE_FIELDS`, mirroring the field label conversions the real
API server registers; `object_fields` reads them from a msgspec Struct (snake_case attributes)
or a plain camelCase dict, so the watch cache can filter without decoding twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from kcore.api.labels import SelectorError

__all__ = [
    "SELECTABLE_FIELDS",
    "FieldSelector",
    "SelectorError",
    "Term",
    "escape_value",
    "everything",
    "from_set",
    "object_fields",
    "parse",
    "unescape_value",
    "validate",
]


@dataclass(frozen=True, slots=True)
class Term:
    field: str
    value: str
    negated: bool = False

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) != self.negated

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{escape_value(self.value)}"


class FieldSelector:
    """An AND of equality / inequality terms on field values (missing fields read as "")."""

    __slots__ = ("_checks", "requirements")

    def __init__(self, terms: Iterable[Term] = ()) -> None:
        self.requirements: tuple[Term, ...] = tuple(terms)
        self._checks = tuple((t.field, t.value, t.negated) for t in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        get = fields.get
        for field, value, negated in self._checks:  # noqa: SIM110 - faster than all()
            if (get(field, "") == value) == negated:
                return False
        return True

    def exact_value(self, field: str) -> str | None:
        """The value `field` must equal (fields.Selector.RequiresExactMatch), if any."""
        for term in self.requirements:
            if term.field == field and not term.negated:
                return term.value
        return None

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash(self.requirements)


_EVERYTHING: Final = FieldSelector()


def everything() -> FieldSelector:
    return _EVERYTHING


def from_set(fields: Mapping[str, str]) -> FieldSelector:
    return FieldSelector(Term(k, v) for k, v in sorted(fields.items()))


# --- syntax --------------------------------------------------------------------------------

_ESCAPE = re.compile(r"([\\,=])")


def escape_value(value: str) -> str:
    r"""Escape `\`, `,` and `=` so a value survives inside a selector string."""
    return _ESCAPE.sub(r"\\\1", value)


def unescape_value(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, None)
            if nxt is None or nxt not in "\\,=":
                seq = "\\" + (nxt or "")
                raise SelectorError(f"invalid field selector: invalid escape sequence: {seq}")
            out.append(nxt)
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ch}")
        else:
            out.append(ch)
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped (escapes stay in the terms)."""
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


_OPERATOR = re.compile(r"!=|==|=")


def _parse_term(text: str, term: str) -> Term:
    match = _OPERATOR.search(term)
    if match is None:
        raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
    field, op, raw = term[: match.start()], match.group(), term[match.end() :]
    return Term(field, unescape_value(raw), negated=op == "!=")


def parse(text: str) -> FieldSelector:
    """Parse a field selector; "" selects everything. Raises SelectorError."""
    if not text:
        return _EVERYTHING
    parts = sorted(p for p in _split_terms(text) if p)
    return FieldSelector(_parse_term(text, p) for p in parts)


# --- selectable fields per resource --------------------------------------------------------

_Getter = Callable[[Any], str]


def _snake(name: str) -> str:
    """podIP -> pod_ip, nominatedNodeName -> nominated_node_name (msgspec attribute names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _lookup(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if obj is None:
            return None
        is_map = isinstance(obj, Mapping)
        obj = obj.get(part) if is_map else getattr(obj, _snake(part), None)
    return obj


def _text(value: Any, default: str) -> str:
    if value is None or (value == "" and default):
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _get(path: str, default: str = "") -> _Getter:
    return lambda obj: _text(_lookup(obj, path), default)


def _first(*paths: str) -> _Getter:
    """The first non-empty of several paths (core/v1 vs events.k8s.io/v1 field names)."""

    def get(obj: Any) -> str:
        for path in paths:
            value = _lookup(obj, path)
            if value not in (None, ""):
                return _text(value, "")
        return ""

    return get


_META: Final[dict[str, _Getter]] = {
    "metadata.name": _get("metadata.name"),
    "metadata.namespace": _get("metadata.namespace"),
}
_EVENT_OBJECT_FIELDS: Final = ("kind", "namespace", "name", "uid", "apiVersion")
_EVENT_OBJECT_FIELDS_MORE: Final = ("resourceVersion", "fieldPath")

SELECTABLE_FIELDS: Final[dict[str, dict[str, _Getter]]] = {
    "pods": {
        "spec.nodeName": _get("spec.nodeName"),
        "spec.restartPolicy": _get("spec.restartPolicy"),
        "spec.schedulerName": _get("spec.schedulerName"),
        "spec.serviceAccountName": _get("spec.serviceAccountName"),
        "spec.hostNetwork": _get("spec.hostNetwork", "false"),
        "status.phase": _get("status.phase"),
        "status.podIP": _get("status.podIP"),
        "status.nominatedNodeName": _get("status.nominatedNodeName"),
    },
    "events": {
        **{
            f"involvedObject.{f}": _first(f"involvedObject.{f}", f"regarding.{f}")
            for f in _EVENT_OBJECT_FIELDS + _EVENT_OBJECT_FIELDS_MORE
        },
        "reason": _get("reason"),
        "reportingComponent": _first("reportingComponent", "reportingController"),
        "source": _first("source.component", "deprecatedSource.component"),
        "type": _get("type"),
    },
    "nodes": {"spec.unschedulable": _get("spec.unschedulable", "false")},
    "namespaces": {"status.phase": _get("status.phase")},
    "replicasets": {"status.replicas": _get("status.replicas", "0")},
    "replicationcontrollers": {"status.replicas": _get("status.replicas", "0")},
    "secrets": {"type": _get("type")},
    "jobs": {"status.successful": _get("status.successful", "0")},
}


def _getters(resource: str) -> dict[str, _Getter]:
    return _META | SELECTABLE_FIELDS.get(resource, {})


def object_fields(resource: str, obj: Any) -> dict[str, str]:
    """The selectable fields of `obj` (a Struct or camelCase dict) for `resource` (plural)."""
    return {name: get(obj) for name, get in _getters(resource).items()}


def validate(resource: str, selector: FieldSelector | str) -> FieldSelector:
    """Check every term names a field `resource` supports; returns the parsed selector."""
    parsed = parse(selector) if isinstance(selector, str) else selector
    supported = _getters(resource)
    for term in parsed.requirements:
        if term.field not in supported:
            raise SelectorError(f"field label not supported: {term.field}")
    return parsed
