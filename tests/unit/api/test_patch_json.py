"""RFC 6902 JSON Patch: the RFC's own examples, error codes, and algebraic properties."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api.patch import PatchError, apply_patch, json_patch
from kcore.api.patch.json_patch import parse_pointer


def test_add_member_and_array_element() -> None:
    assert json_patch.apply({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}]) == {
        "foo": "bar",
        "baz": "qux",
    }
    doc = {"foo": ["bar", "baz"]}
    assert json_patch.apply(doc, [{"op": "add", "path": "/foo/1", "value": "qux"}]) == {
        "foo": ["bar", "qux", "baz"]
    }
    assert json_patch.apply(doc, [{"op": "add", "path": "/foo/-", "value": "end"}]) == {
        "foo": ["bar", "baz", "end"]
    }
    assert json_patch.apply(doc, [{"op": "add", "path": "/foo/2", "value": "end"}]) == {
        "foo": ["bar", "baz", "end"]
    }


def test_remove_replace_move_copy() -> None:
    doc = {"baz": "qux", "foo": "bar", "list": [1, 2, 3]}
    assert json_patch.apply(doc, [{"op": "remove", "path": "/baz"}]) == {
        "foo": "bar",
        "list": [1, 2, 3],
    }
    assert json_patch.apply(doc, [{"op": "remove", "path": "/list/1"}])["list"] == [1, 3]
    assert json_patch.apply(doc, [{"op": "replace", "path": "/baz", "value": "boo"}])["baz"] == (
        "boo"
    )
    moved = json_patch.apply(
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
    )
    assert moved == {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}
    reordered = json_patch.apply(
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
    )
    assert reordered == {"foo": ["all", "cows", "eat", "grass"]}
    copied = json_patch.apply({"a": {"b": [1]}}, [{"op": "copy", "from": "/a", "path": "/c"}])
    assert copied == {"a": {"b": [1]}, "c": {"b": [1]}}
    copied["c"]["b"].append(2)
    assert copied["a"] == {"b": [1]}  # the copy is deep


def test_pointer_escapes() -> None:
    assert parse_pointer("") == ()
    assert parse_pointer("/a~1b/m~0n/~01") == ("a/b", "m~n", "~1")
    doc = {"a/b": 1, "m~n": 2}
    assert json_patch.apply(doc, [{"op": "replace", "path": "/a~1b", "value": 3}])["a/b"] == 3
    assert json_patch.apply(doc, [{"op": "remove", "path": "/m~0n"}]) == {"a/b": 1}


def test_whole_document() -> None:
    assert json_patch.apply({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]) == [1]
    assert json_patch.apply({"a": 1}, [{"op": "add", "path": "", "value": {"b": 2}}]) == {"b": 2}
    assert json_patch.apply({"a": 1}, [{"op": "test", "path": "", "value": {"a": 1.0}}]) == {"a": 1}


def test_test_operation() -> None:
    doc = {"baz": "qux", "foo": ["a", 2, "c"], "t": True, "n": 1}
    ok = [
        {"op": "test", "path": "/baz", "value": "qux"},
        {"op": "test", "path": "/foo/1", "value": 2.0},
        {"op": "test", "path": "/t", "value": True},
    ]
    assert json_patch.apply(doc, ok) == doc
    for value_path, value in [("/baz", "bar"), ("/n", True), ("/t", 1), ("/foo", ["a", 2])]:
        with pytest.raises(PatchError) as info:
            json_patch.apply(doc, [{"op": "test", "path": value_path, "value": value}])
        assert info.value.code == 422
        assert "test failed" in str(info.value)


@pytest.mark.parametrize(
    "op",
    [
        {"op": "remove", "path": "/missing"},
        {"op": "replace", "path": "/missing", "value": 1},
        {"op": "add", "path": "/missing/child", "value": 1},
        {"op": "add", "path": "/list/5", "value": 1},
        {"op": "add", "path": "/list/01", "value": 1},
        {"op": "remove", "path": "/list/-"},
        {"op": "remove", "path": "/list/3"},
        {"op": "replace", "path": "/list/x", "value": 1},
        {"op": "add", "path": "/s/x", "value": 1},
        {"op": "move", "from": "/missing", "path": "/x"},
        {"op": "move", "from": "/obj", "path": "/obj/inner"},
        {"op": "copy", "from": "/nope", "path": "/x"},
        {"op": "test", "path": "/missing", "value": None},
        {"op": "remove", "path": ""},
        {"op": "explode", "path": "/x"},
        {"op": "add", "path": "/x"},
        {"op": "add", "value": 1},
        {"op": "move", "path": "/x"},
        {"op": "add", "path": "no-slash", "value": 1},
        {"op": "add", "path": "/bad~2escape", "value": 1},
    ],
)
def test_failures_are_422(op: dict[str, Any]) -> None:
    doc = {"list": [1, 2, 3], "s": "text", "obj": {"inner": 1}}
    before = copy.deepcopy(doc)
    with pytest.raises(PatchError) as info:
        json_patch.apply(doc, [op])
    assert info.value.code == 422
    assert doc == before


@pytest.mark.parametrize("ops", [{"op": "add"}, "add", None, [1], [["op"]]])
def test_malformed_documents_are_400(ops: Any) -> None:
    with pytest.raises(PatchError) as info:
        json_patch.apply({}, ops)
    assert info.value.code == 400


def test_too_many_operations_is_413() -> None:
    ops = [{"op": "test", "path": "", "value": {}}] * (json_patch.MAX_OPERATIONS + 1)
    with pytest.raises(PatchError) as info:
        json_patch.apply({}, ops)
    assert info.value.code == 413
    assert json_patch.apply({}, ops[:-1]) == {}


def test_failed_patch_is_atomic_and_inputs_untouched() -> None:
    doc = {"a": [1], "b": {"c": 1}}
    ops = [
        {"op": "add", "path": "/a/-", "value": {"v": [1]}},
        {"op": "remove", "path": "/b/c"},
        {"op": "test", "path": "/a/0", "value": 99},
    ]
    snapshot = (copy.deepcopy(doc), copy.deepcopy(ops))
    with pytest.raises(PatchError):
        json_patch.apply(doc, ops)
    assert (doc, ops) == snapshot
    result = json_patch.apply(doc, ops[:2])
    result["a"][1]["v"].append(2)
    assert ops[0]["value"] == {"v": [1]}  # values are not aliased from the patch
    assert doc == snapshot[0]


def test_apply_patch_dispatch() -> None:
    ops = [{"op": "add", "path": "/a", "value": 1}]
    content_type = "application/json-patch+json; charset=utf-8"
    assert apply_patch(content_type, {}, ops, "Pod") == {"a": 1}
    with pytest.raises(PatchError) as info:
        apply_patch("application/json", {}, ops, "Pod")
    assert info.value.code == 415


# --- properties ----------------------------------------------------------------------------

_keys = st.text(alphabet="ab/~0", min_size=1, max_size=3)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)
docs = st.dictionaries(_keys, json_values, max_size=4)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@given(docs, _keys, json_values)
def test_add_then_remove_is_identity(doc: dict[str, Any], key: str, value: Any) -> None:
    path = "/" + _escape(key)
    if key in doc:
        return
    added = json_patch.apply(doc, [{"op": "add", "path": path, "value": value}])
    assert added[key] == value
    assert json_patch.apply(added, [{"op": "remove", "path": path}]) == doc


@given(st.lists(json_values, max_size=4), json_values, st.data())
def test_array_insert_then_remove_is_identity(items: list[Any], value: Any, data: Any) -> None:
    index = data.draw(st.integers(0, len(items)))
    doc = {"l": items}
    added = json_patch.apply(doc, [{"op": "add", "path": f"/l/{index}", "value": value}])
    assert added["l"][index] == value and len(added["l"]) == len(items) + 1
    assert json_patch.apply(added, [{"op": "remove", "path": f"/l/{index}"}]) == doc


@given(docs)
def test_every_member_tests_equal_to_itself(doc: dict[str, Any]) -> None:
    ops = [{"op": "test", "path": "/" + _escape(k), "value": v} for k, v in doc.items()]
    assert json_patch.apply(doc, ops) == doc


@given(docs, _keys, json_values)
def test_replace_then_test_succeeds(doc: dict[str, Any], key: str, value: Any) -> None:
    path = "/" + _escape(key)
    ops = [{"op": "add", "path": path, "value": 0}, {"op": "replace", "path": path, "value": value}]
    result = json_patch.apply(doc, [*ops, {"op": "test", "path": path, "value": value}])
    assert result[key] == value
