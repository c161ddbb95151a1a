"""Label selectors: the `a=b,c!=d,e in (f,g),!h` language and LabelSelector objects.

Parsing follows apimachinery's `labels` package (same lexer rules, operators, validation and
error wording); `str(selector)` gives its canonical form (requirements sorted by key, set
values sorted). A parsed `Selector` is immutable and precompiles its requirements into plain
tuples, because `matches` runs once per object per watcher.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kcore.api import names

__all__ = [
    "Operator",
    "Requirement",
    "Selector",
    "SelectorError",
    "everything",
    "from_label_selector",
    "from_set",
    "nothing",
    "parse",
    "to_label_selector_string",
]


class SelectorError(ValueError):
    """A label or field selector that cannot be parsed or is not supported."""


class Operator(enum.StrEnum):
    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_BINARY_OPERATORS: Final = "in, notin, =, ==, !=, gt, lt"
_INT64 = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

# check codes of a compiled requirement
_HAS, _HAS_NOT, _EXISTS, _ABSENT, _GT, _LT, _NEVER = range(7)
_CODES: Final = {
    Operator.IN: _HAS, Operator.EQUALS: _HAS, Operator.DOUBLE_EQUALS: _HAS,
    Operator.NOT_IN: _HAS_NOT, Operator.NOT_EQUALS: _HAS_NOT,
    Operator.EXISTS: _EXISTS, Operator.DOES_NOT_EXIST: _ABSENT,
    Operator.GREATER_THAN: _GT, Operator.LESS_THAN: _LT,
}  # fmt: skip


def _go_int(s: str) -> int | None:
    """strconv.ParseInt(s, 10, 64): no spaces, no underscores, int64 range."""
    if not _INT64.fullmatch(s):
        return None
    value = int(s)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return _check(_compile(self), labels)

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{values}"


_Check = tuple[str, int, frozenset[str], int]


def _compile(r: Requirement) -> _Check:
    code = _CODES[r.operator]
    number = _go_int(r.values[0]) if len(r.values) == 1 else None
    if code in (_GT, _LT) and number is None:
        code = _NEVER  # Gt/Lt without exactly one integer value match nothing
    return (r.key, code, frozenset(r.values), number or 0)


def _check(c: _Check, labels: Mapping[str, str]) -> bool:
    key, code, values, number = c
    value = labels.get(key)
    if code == _HAS:
        return value is not None and value in values
    if code == _HAS_NOT:
        return value is None or value not in values
    if code == _EXISTS:
        return value is not None
    if code == _ABSENT:
        return value is None
    if code == _NEVER:
        return False
    have = None if value is None else _go_int(value)
    if have is None:
        return False
    return have > number if code == _GT else have < number


class Selector:
    """An AND of requirements; `nothing()` is the one selector that matches no labels."""

    __slots__ = ("_checks", "_equal", "_nothing", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, _nothing: bool = False):
        self.requirements: tuple[Requirement, ...] = tuple(
            sorted(requirements, key=lambda r: r.key)
        )
        self._nothing = _nothing
        self._checks = tuple(_compile(r) for r in self.requirements)
        # selectors of only `k=v` terms (controllers' selectors) take a tighter loop
        self._equal: tuple[tuple[str, str], ...] | None = None
        if not _nothing and all(c[1] == _HAS and len(c[2]) == 1 for c in self._checks):
            self._equal = tuple((c[0], next(iter(c[2]))) for c in self._checks)

    @property
    def empty(self) -> bool:
        """True for the selector that matches everything (no requirements)."""
        return not self.requirements and not self._nothing

    def matches(self, labels: Mapping[str, str]) -> bool:
        # plain loops beat all(<genexpr>) here; this runs per object per watcher
        get = labels.get
        if self._equal is not None:
            for key, value in self._equal:  # noqa: SIM110 - measured 2x faster than all()
                if get(key) != value:
                    return False
            return True
        if self._nothing:
            return False
        for check in self._checks:
            key, code, values, _ = check
            if code == _HAS:
                if get(key) not in values:
                    return False
            elif code == _HAS_NOT:
                if get(key) in values:
                    return False
            elif not _check(check, labels):
                return False
        return True

    def requires_exact_match(self, key: str) -> str | None:
        """The value `key` must equal for any match (for indexing), if the selector pins one."""
        for r in self.requirements:
            if r.key == key and r.operator in _EXACT and len(r.values) == 1:
                return r.values[0]
        return None

    def add(self, *requirements: Requirement) -> Selector:
        return Selector((*self.requirements, *requirements), _nothing=self._nothing)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return "Selector(<nothing>)" if self._nothing else f"Selector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selector):
            return NotImplemented
        return (self.requirements, self._nothing) == (other.requirements, other._nothing)

    def __hash__(self) -> int:
        return hash((self.requirements, self._nothing))


_EXACT: Final = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
_EVERYTHING: Final = Selector()
_NOTHING: Final = Selector(_nothing=True)


def everything() -> Selector:
    return _EVERYTHING


def nothing() -> Selector:
    return _NOTHING


# --- requirement validation (labels.NewRequirement) ----------------------------------------


def _go_value(value: Any) -> str:
    """How field errors print a []string value (Go's %#v)."""
    if isinstance(value, list | tuple):
        return "[]string{" + ", ".join(names.quote(v) for v in value) + "}"
    return names.quote(value)


def _invalid(path: str, value: Any, detail: str) -> str:
    return f"{path}: Invalid value: {_go_value(value)}: {detail}"


def _key_error(key: str, path: str) -> str | None:
    errs = names.is_qualified_name(key)
    return _invalid(path, key, "; ".join(errs)) if errs else None


def _value_errors(op: Operator, values: Sequence[str]) -> list[str]:
    errs: list[str] = []
    if op in (Operator.IN, Operator.NOT_IN) and not values:
        errs.append(
            _invalid("values", [], "for 'in', 'notin' operators, values set can't be empty")
        )
    elif op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and len(values) != 1:
        errs.append(
            _invalid("values", values, "exact-match compatibility requires one single value")
        )
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        detail = "values set must be empty for exists and does not exist"
        errs.append(_invalid("values", values, detail))
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        errs.extend(_number_errors(values))
    return errs


def _number_errors(values: Sequence[str]) -> list[str]:
    errs = []
    if len(values) != 1:
        detail = "for 'Gt', 'Lt' operators, exactly one value is required"
        errs.append(_invalid("values", values, detail))
    for i, v in enumerate(values):
        if _go_int(v) is None:
            detail = "for 'Gt', 'Lt' operators, the value must be an integer"
            errs.append(_invalid(f"values[{i}]", v, detail))
    return errs


def new_requirement(
    key: str, op: Operator, values: Sequence[str], *, key_path: str = "key"
) -> Requirement:
    """Build a validated requirement (labels.NewRequirement); raises SelectorError."""
    errs = [e for e in [_key_error(key, key_path)] if e] + _value_errors(op, values)
    for i, v in enumerate(values):
        msgs = names.is_valid_label_value(v)
        if msgs:
            errs.append(_invalid(f"values[{i}][{key}]", v, "; ".join(msgs)))
    if errs:
        raise SelectorError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    return Requirement(key, op, tuple(values))


# --- LabelSelector objects -----------------------------------------------------------------

_LABEL_SELECTOR_OPS: Final = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def _field(obj: Any, camel: str, snake: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(camel)
    return getattr(obj, snake, None)


def from_label_selector(sel: Any) -> Selector:
    """metav1.LabelSelectorAsSelector: None -> nothing(), {} -> everything()."""
    if sel is None:
        return _NOTHING
    match_labels = _field(sel, "matchLabels", "match_labels") or {}
    expressions = _field(sel, "matchExpressions", "match_expressions") or []
    if not match_labels and not expressions:
        return _EVERYTHING
    reqs = [new_requirement(k, Operator.EQUALS, [v]) for k, v in match_labels.items()]
    for expr in expressions:
        op_name = _field(expr, "operator", "operator")
        op = _LABEL_SELECTOR_OPS.get(op_name)
        if op is None:
            raise SelectorError(f"{names.quote(op_name)} is not a valid label selector operator")
        values = list(_field(expr, "values", "values") or [])
        reqs.append(new_requirement(_field(expr, "key", "key") or "", op, values))
    return Selector(reqs)


def to_label_selector_string(sel: Any) -> str:
    """The selector string of a LabelSelector (dict or Struct), as kubectl prints it."""
    return str(from_label_selector(sel))


def from_set(labels: Mapping[str, str]) -> Selector:
    """labels.SelectorFromSet: every key must equal its value (empty set -> everything)."""
    return Selector(new_requirement(k, Operator.EQUALS, [v]) for k, v in labels.items())


# --- the string syntax ---------------------------------------------------------------------

_SPECIAL: Final = frozenset("=!(),><")
_WHITESPACE: Final = frozenset(" \t\r\n")  # the lexer's isWhitespace, not str.isspace
_SYMBOLS: Final = frozenset({"!", "!=", "=", "==", "(", ")", ",", ">", "<"})
_IDENT, _END = "ident", "end"


def _tokenize(text: str) -> list[tuple[str, str]]:
    """Split into (kind, literal): kind is a symbol, "in"/"notin", ident or end."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _SPECIAL:
            size = 2 if text[i : i + 2] in _SYMBOLS else 1
            tokens.append((text[i : i + size], text[i : i + size]))
            i += size
        else:
            j = i
            while j < n and text[j] not in _WHITESPACE and text[j] not in _SPECIAL:
                j += 1
            word = text[i:j]
            tokens.append((word if word in ("in", "notin") else _IDENT, word))
            i = j
    tokens.append((_END, ""))
    return tokens


class _Parser:
    """Recursive descent over the token list, mirroring labels.Parser's states and messages."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.tokens[self.pos]
        if values and kind in ("in", "notin"):
            kind = _IDENT  # in a value position keywords are plain words
        return kind, lit

    def take(self, values: bool = True) -> tuple[str, str]:
        token = self.peek(values)
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind == _END:
                return reqs
            if kind not in (_IDENT, "!"):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            reqs.append(self.requirement())
            kind, lit = self.take()
            if kind == _END:
                return reqs
            if kind != ",":
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in (_IDENT, "!"):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        try:
            return self._requirement()
        except SelectorError as e:
            raise SelectorError(f"unable to parse requirement: {e}") from None

    def _requirement(self) -> Requirement:
        key, op = self.key_and_inferred_operator()
        if op is not None:
            return new_requirement(key, op, [])
        op = self.operator()
        in_set = op in (Operator.IN, Operator.NOT_IN)
        values = self.value_set() if in_set else self.exact_value()
        return new_requirement(key, op, values)

    def key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        kind, lit = self.take()
        negated = kind == "!"
        if negated:
            kind, lit = self.take()
        if kind != _IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        error = _key_error(lit, "<nil>")
        if error:
            raise SelectorError(error)
        if negated:
            return lit, Operator.DOES_NOT_EXIST
        if self.peek()[0] in (_END, ","):
            return lit, Operator.EXISTS
        return lit, None

    def operator(self) -> Operator:
        kind, lit = self.take(values=False)
        ops = {
            "in": Operator.IN, "notin": Operator.NOT_IN, "=": Operator.EQUALS,
            "==": Operator.DOUBLE_EQUALS, "!=": Operator.NOT_EQUALS,
            ">": Operator.GREATER_THAN, "<": Operator.LESS_THAN,
        }  # fmt: skip
        if kind not in ops:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        return ops[kind]

    def value_set(self) -> list[str]:
        kind, lit = self.take()
        if kind != "(":
            raise SelectorError(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == ")":
            self.take()
            return [""]
        if kind not in (_IDENT, ","):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifiers()
        if self.take()[0] != ")":
            raise SelectorError(f"found '{lit}', expected: ')'")
        return sorted(values)

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            kind, lit = self.take()
            if kind == _IDENT:
                values.add(lit)
                kind2, lit2 = self.peek()
                if kind2 == ")":
                    return values
                if kind2 != ",":
                    raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            elif kind == ",":
                if not values:
                    values.add("")  # "(,"
                kind2 = self.peek()[0]
                if kind2 == ")":
                    values.add("")
                    return values
                if kind2 == ",":
                    self.take()
                    values.add("")
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        kind, lit = self.peek()
        if kind in (_END, ","):
            return [""]
        self.take()
        if kind == _IDENT:
            return [lit]
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse(text: str) -> Selector:
    """Parse the label selector syntax; "" is everything(). Raises SelectorError."""
    return Selector(_Parser(text).parse())
