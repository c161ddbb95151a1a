"""Properties over arbitrary objects of every kind, generated from the Structs' own type info:
codecs round-trip, defaulting is idempotent and pure, and validation never crashes on any
input (bad input is a 422, never a 500)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcore.api import codec, defaults, registry, validation
from kcore.api.errors import Cause

REASONS = {
    "FieldValueRequired",
    "FieldValueInvalid",
    "FieldValueNotSupported",
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueTooLong",
    "FieldValueNotFound",
}
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
# Values that reach interesting branches: names, quantities, enum members, ports.
_INTERESTING = st.sampled_from(
    ["", "a", "web", "Always", "Never", "TCP", "In", "Exists", "100m", "1Gi", "25%", "None",
     "NoExecute", "RollingUpdate", "Recreate", "ClusterIP", "NodePort", "127.0.0.1", "x/y"]
)  # fmt: skip


def strategy(t: msgspec.inspect.Type, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON-shaped builtins for a msgspec type (Kubernetes field names, bounded depth)."""
    match t:
        case msgspec.inspect.StrType():
            return _TEXT | _INTERESTING
        case msgspec.inspect.BoolType():
            return st.booleans()
        case msgspec.inspect.IntType():
            return st.integers(-(2**31), 2**31 - 1) | st.sampled_from([0, 1, 80, 30080])
        case msgspec.inspect.FloatType():
            return st.floats(allow_nan=False, allow_infinity=False)
        case msgspec.inspect.ListType():
            return st.lists(strategy(t.item_type, depth + 1), max_size=2 if depth < 5 else 0)
        case msgspec.inspect.DictType():
            return st.dictionaries(
                _TEXT | _INTERESTING, strategy(t.value_type, depth + 1), max_size=2
            )
        case msgspec.inspect.UnionType():
            return st.one_of([strategy(option, depth) for option in t.types])
        case msgspec.inspect.StructType():
            return _struct(t, depth)
    return st.none()


def _struct(t: msgspec.inspect.StructType, depth: int) -> st.SearchStrategy[Any]:
    if depth > 7:
        return st.just({})
    optional = {
        f.encode_name: strategy(f.type, depth + 1)
        for f in t.fields
        if f.encode_name not in ("kind", "apiVersion")
    }
    return st.fixed_dictionaries({}, optional=optional)


def _kinds() -> list[type[Any]]:
    import kcore.api.kinds  # noqa: F401  (fills the registry)

    return sorted({info.type for info in registry.all_resources()}, key=lambda t: t.__name__)


KINDS = _kinds()
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _draw(tp: type[Any], data: st.DataObject) -> tuple[Any, Any]:
    raw = data.draw(strategy(msgspec.inspect.type_info(tp)))
    return raw, codec.from_dict(tp, raw)


@pytest.mark.parametrize("tp", KINDS, ids=lambda t: f"{t.API_VERSION}/{t.KIND}")
@SETTINGS
@given(data=st.data())
def test_codecs_round_trip(tp: type[Any], data: st.DataObject) -> None:
    raw, obj = _draw(tp, data)
    assert codec.decode(tp, codec.encode(obj)) == obj
    assert codec.decode(tp, codec.encode(obj, fmt="msgpack"), fmt="msgpack") == obj
    assert codec.from_dict(tp, codec.to_dict(obj)) == obj
    assert codec.unknown_fields(raw, tp) == []


@pytest.mark.parametrize("tp", KINDS, ids=lambda t: f"{t.API_VERSION}/{t.KIND}")
@SETTINGS
@given(data=st.data())
def test_defaults_are_pure_and_idempotent(tp: type[Any], data: st.DataObject) -> None:
    _, obj = _draw(tp, data)
    before = codec.encode(obj)
    once = defaults.apply_defaults(obj)
    assert codec.encode(obj) == before
    assert defaults.apply_defaults(once) == once


@pytest.mark.parametrize("tp", KINDS, ids=lambda t: f"{t.API_VERSION}/{t.KIND}")
@SETTINGS
@given(data=st.data())
def test_validation_never_crashes(tp: type[Any], data: st.DataObject) -> None:
    _, new = _draw(tp, data)
    _, old = _draw(tp, data)
    new, old = defaults.apply_defaults(new), defaults.apply_defaults(old)
    for causes in (validation.validate(new), validation.validate(new, old=old)):
        assert all(isinstance(c, Cause) and c.field and c.reason in REASONS for c in causes)
    assert validation.validate(new, old=new) == validation.validate(new)
