"""Label selector parsing, canonical strings, matching and LabelSelector conversion."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api import labels
from kcore.api.labels import Operator, Requirement, SelectorError, everything, nothing, parse
from kcore.api.meta import LabelSelector, LabelSelectorRequirement


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        (" a = b , c != d ", "a=b,c!=d"),
        ("\ta=b,\nc", "a=b,c"),
        ("z,a", "a,z"),
        ("!k", "!k"),
        ("e in (g, f)", "e in (f,g)"),
        ("e in (f,f)", "e in (f)"),
        ("h notin (i)", "h notin (i)"),
        ("a=b,c!=d,e in (f,g),h notin (i),j,!k", "a=b,c!=d,e in (f,g),h notin (i),j,!k"),
        ("x>5,y<2", "x>5,y<2"),
        ("a=", "a="),
        ("a in ()", "a in ()"),
        ("a in (,b)", "a in (,b)"),
        ("a in (b,)", "a in (,b)"),
        ("in in (in, notin)", "in in (in,notin)"),
        ("app.kubernetes.io/name=web", "app.kubernetes.io/name=web"),
    ],
)
def test_canonical_strings(text: str, canonical: str) -> None:
    assert str(parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a=b,", "found '', expected: identifier after ','"),
        ("a in (,,)", "unable to parse requirement: found ')', expected: ',', or identifier"),
        ("=b", "found '=', expected: !, identifier, or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a>x", "the value must be an integer"),
        ("a>99999999999999999999", "the value must be an integer"),
        ("a/b/c=x", '<nil>: Invalid value: "a/b/c": a qualified name'),
        ("a=-x", 'values[0][a]: Invalid value: "-x": a valid label must be'),
        ("a=" + "x" * 64, "must be no more than 63 characters"),
        ("a=\u00a0", "a valid label must be"),  # only ASCII blanks separate tokens
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse(text)
    assert message in str(info.value)


def test_matching_semantics() -> None:
    sel = parse("a=b,c!=d,e in (f,g),h notin (i),j,!k")
    good = {"a": "b", "e": "f", "j": ""}
    assert sel.matches(good)
    assert not sel.matches({**good, "a": "x"})
    assert not sel.matches({**good, "c": "d"})
    assert sel.matches({**good, "c": "x"})
    assert not sel.matches({**good, "e": "h"})
    assert not sel.matches({**good, "h": "i"})
    assert not sel.matches({k: v for k, v in good.items() if k != "j"})
    assert not sel.matches({**good, "k": "1"})


def test_greater_and_less_than_need_integer_labels() -> None:
    sel = parse("n>5,m<3")
    assert sel.matches({"n": "6", "m": "-1"})
    assert not sel.matches({"n": "5", "m": "1"})
    assert not sel.matches({"n": "six", "m": "1"})
    assert not sel.matches({"m": "1"})


def test_unvalidated_numeric_requirements_match_nothing() -> None:
    assert not Requirement("n", Operator.GREATER_THAN, ("x",)).matches({"n": "5"})
    assert not Requirement("n", Operator.LESS_THAN, ("1", "2")).matches({"n": "0"})
    assert Requirement("n", Operator.LESS_THAN, ("0",)).matches({"n": "-1"})


def test_everything_and_nothing() -> None:
    assert everything().empty and everything().matches({})
    assert not nothing().empty and not nothing().matches({})
    assert parse("").empty
    assert not parse("a").empty


def test_requires_exact_match() -> None:
    sel = parse("app=web,tier in (db),x!=y")
    assert sel.requires_exact_match("app") == "web"
    assert sel.requires_exact_match("tier") == "db"
    assert sel.requires_exact_match("x") is None


def test_from_label_selector_dicts() -> None:
    assert labels.from_label_selector(None) is nothing()
    assert labels.from_label_selector({}).empty
    sel = labels.from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
            ],
        }
    )
    assert str(sel) == "app=web,!canary,tier in (a,b),zone"
    assert sel.matches({"app": "web", "tier": "a", "zone": "z1"})
    assert not sel.matches({"app": "web", "tier": "a", "zone": "z1", "canary": "1"})


def test_from_label_selector_structs() -> None:
    sel = LabelSelector(
        match_labels={"app": "web"},
        match_expressions=[LabelSelectorRequirement(key="t", operator="NotIn", values=["x"])],
    )
    assert labels.to_label_selector_string(sel) == "app=web,t notin (x)"
    assert labels.from_label_selector(LabelSelector()).empty


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "not a valid"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "empty"),
        ({"matchLabels": {"a": "b c"}}, 'values[0][a]: Invalid value: "b c"'),
        ({"matchLabels": {"-a": "b"}}, 'key: Invalid value: "-a"'),
    ],
)
def test_from_label_selector_errors(selector: dict[str, object], message: str) -> None:
    with pytest.raises(SelectorError) as info:
        labels.from_label_selector(selector)
    assert message in str(info.value)


def test_from_set_and_add() -> None:
    sel = labels.from_set({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert not sel.matches({"a": "1"})
    wider = sel.add(Requirement("c", Operator.EXISTS))
    assert str(wider) == "a=1,b=2,c"
    assert not wider.matches({"a": "1", "b": "2"})
    assert sel == parse("b=2,a=1") and hash(sel) == hash(parse("a=1,b=2"))


# --- properties: round trip and agreement with a plain reference evaluation --------------

KEYS = ["a", "b", "app", "x.io/y"]
VALUES = ["", "v", "w", "1", "10", "05"]


@dataclass
class Ref:
    key: str
    op: str
    values: list[str]

    def text(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return "!" + self.key
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({', '.join(self.values)})"
        return f"{self.key}{self.op}{self.values[0]}"

    def holds(self, lbls: dict[str, str]) -> bool:
        present, value = self.key in lbls, lbls.get(self.key)
        if self.op in ("=", "==", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if not present or value is None or not value.lstrip("-").isdigit():
            return False
        have, want = int(value), int(self.values[0])
        return have > want if self.op == ">" else have < want


_key = st.sampled_from(KEYS)
_value = st.sampled_from(VALUES)
_set_value = st.sampled_from(VALUES[1:])  # Kubernetes' parser rejects some runs of empty items
refs = st.one_of(
    st.builds(
        Ref, _key, st.sampled_from(["=", "==", "!="]), st.lists(_value, min_size=1, max_size=1)
    ),
    st.builds(
        Ref, _key, st.sampled_from(["in", "notin"]), st.lists(_set_value, min_size=1, max_size=3)
    ),
    st.builds(Ref, _key, st.sampled_from(["exists", "!"]), st.just([])),
    st.builds(
        Ref,
        _key,
        st.sampled_from([">", "<"]),
        st.lists(st.integers(0, 20).map(str), min_size=1, max_size=1),
    ),
)
label_sets = st.dictionaries(_key, st.one_of(_value, st.integers(-20, 20).map(str)), max_size=4)


@given(st.lists(refs, max_size=5))
def test_string_round_trip(reqs: list[Ref]) -> None:
    text = ",".join(r.text() for r in reqs)
    sel = parse(text)
    again = parse(str(sel))
    assert str(again) == str(sel)
    assert again.requirements == sel.requirements


@given(st.lists(refs, max_size=5), label_sets)
def test_matches_agrees_with_reference(reqs: list[Ref], lbls: dict[str, str]) -> None:
    sel = parse(",".join(r.text() for r in reqs))
    assert sel.matches(lbls) == all(r.holds(lbls) for r in reqs)
    assert parse(str(sel)).matches(lbls) == sel.matches(lbls)
