"""RFC 7386 JSON Merge Patch: the RFC's example table and the apply/diff laws."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api.patch import merge_patch

# RFC 7386, Appendix A
RFC_CASES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("doc", "patch", "result"), RFC_CASES)
def test_rfc_examples(doc: Any, patch: Any, result: Any) -> None:
    before = copy.deepcopy((doc, patch))
    assert merge_patch.apply(doc, patch) == result
    assert (doc, patch) == before


def test_result_does_not_alias_the_patch() -> None:
    patch = {"a": {"list": [1]}}
    result = merge_patch.apply({}, patch)
    result["a"]["list"].append(2)
    assert patch == {"a": {"list": [1]}}


def test_nulls_inside_lists_are_kept() -> None:
    assert merge_patch.apply({}, {"a": [None, {"b": None}]}) == {"a": [None, {"b": None}]}


def test_diff_examples() -> None:
    assert merge_patch.diff({"a": 1, "b": 2}, {"a": 1, "c": 3}) == {"b": None, "c": 3}
    assert merge_patch.diff({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}}) == {"a": {"y": None}}
    assert merge_patch.diff({"a": 1}, {"a": 1.0}) == {}
    assert merge_patch.diff({"a": 1}, {"a": True}) == {"a": True}
    assert merge_patch.diff([1], [2]) == [2]


# --- properties ----------------------------------------------------------------------------

_keys = st.sampled_from(["a", "b", "c", "d"])
_scalars = st.booleans() | st.integers(-3, 3) | st.text(max_size=2)


def _values(allow_null: bool) -> st.SearchStrategy[Any]:
    leaves = (_scalars | st.none()) if allow_null else _scalars
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
        max_leaves=10,
    )


docs = st.dictionaries(_keys, _values(allow_null=False), max_size=4)
patches = st.dictionaries(_keys, _values(allow_null=True), max_size=4)


def _without_member_nulls(value: Any) -> bool:
    """No null member in any object reachable through objects (lists are opaque values)."""
    if isinstance(value, dict):
        return all(v is not None and _without_member_nulls(v) for v in value.values())
    return True


@given(docs, docs)
def test_apply_of_diff_reaches_target(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert merge_patch.apply(a, merge_patch.diff(a, b)) == b


@given(docs)
def test_diff_of_equal_documents_is_empty(a: dict[str, Any]) -> None:
    assert merge_patch.diff(a, copy.deepcopy(a)) == {}
    assert merge_patch.apply(a, {}) == a


@given(docs, patches)
def test_apply_is_idempotent(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    once = merge_patch.apply(doc, patch)
    assert merge_patch.apply(once, patch) == once


@given(docs, patches)
def test_result_members_never_null(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    result = merge_patch.apply(doc, patch)
    assert all(v is not None for v in result.values())
    for key, value in patch.items():
        if value is None:
            assert key not in result
        elif not isinstance(value, dict):
            assert result[key] == value


@given(docs, patches, patches)
def test_diff_captures_a_patch(doc: dict[str, Any], p1: dict[str, Any], p2: dict[str, Any]) -> None:
    target = merge_patch.apply(merge_patch.apply(doc, p1), p2)
    assert _without_member_nulls(target)
    assert merge_patch.apply(doc, merge_patch.diff(doc, target)) == target
