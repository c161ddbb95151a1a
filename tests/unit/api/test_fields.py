"""Field selector parsing/escaping, exact-match lookup and per-resource selectable fields."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.api import core, fields
from kcore.api.fields import FieldSelector, SelectorError, Term, parse


def test_parse_and_canonical_form() -> None:
    sel = parse("status.phase!=Failed,spec.nodeName=n1")
    assert str(sel) == "spec.nodeName=n1,status.phase!=Failed"  # terms sorted
    assert sel.requirements == (
        Term("spec.nodeName", "n1"),
        Term("status.phase", "Failed", negated=True),
    )
    assert str(parse("metadata.name==x")) == "metadata.name=x"
    assert parse("").empty and parse(",").empty
    assert parse("a=") == FieldSelector([Term("a", "")])


def test_escapes() -> None:
    sel = parse(r"metadata.name=a\,b\=c\\d")
    assert sel.requirements == (Term("metadata.name", "a,b=c\\d"),)
    assert str(sel) == r"metadata.name=a\,b\=c\\d"
    assert parse(str(sel)) == sel
    assert fields.escape_value("x,y=z\\") == r"x\,y\=z\\"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a", "invalid selector: 'a'; can't understand 'a'"),
        (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
        ("a=b=c", "invalid field selector: unescaped character in value: ="),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse(text)
    assert str(info.value) == message


def test_matching_and_exact_value() -> None:
    sel = parse("spec.nodeName=n1,status.phase!=Failed")
    assert sel.matches({"spec.nodeName": "n1", "status.phase": "Running"})
    assert not sel.matches({"spec.nodeName": "n1", "status.phase": "Failed"})
    assert not sel.matches({"spec.nodeName": "n2"})
    assert parse("spec.nodeName=").matches({})  # a missing field reads as ""
    assert sel.exact_value("spec.nodeName") == "n1"
    assert sel.exact_value("status.phase") is None
    assert fields.everything().matches({"x": "y"})


POD = {
    "metadata": {"name": "web-1", "namespace": "prod"},
    "spec": {
        "nodeName": "n1",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
        "hostNetwork": True,
        "containers": [{"name": "c", "image": "busybox"}],
    },
    "status": {"phase": "Running", "podIP": "127.64.0.5", "nominatedNodeName": "n2"},
}
POD_FIELDS = {
    "metadata.name": "web-1",
    "metadata.namespace": "prod",
    "spec.nodeName": "n1",
    "spec.restartPolicy": "Always",
    "spec.schedulerName": "default-scheduler",
    "spec.serviceAccountName": "default",
    "spec.hostNetwork": "true",
    "status.phase": "Running",
    "status.podIP": "127.64.0.5",
    "status.nominatedNodeName": "n2",
}


def test_pod_fields_from_dict_and_struct() -> None:
    assert fields.object_fields("pods", POD) == POD_FIELDS
    pod = msgspec.convert(POD, core.Pod)
    assert fields.object_fields("pods", pod) == POD_FIELDS


def test_missing_values_use_go_zero_values() -> None:
    got = fields.object_fields("pods", {"metadata": {"name": "p"}})
    assert got["spec.nodeName"] == ""
    assert got["spec.hostNetwork"] == "false"
    assert fields.object_fields("nodes", {"metadata": {"name": "n"}})["spec.unschedulable"] == (
        "false"
    )
    assert fields.object_fields("replicasets", {})["status.replicas"] == "0"
    assert fields.object_fields("jobs", {"status": {"successful": 3}})["status.successful"] == "3"


def test_event_fields() -> None:
    event = {
        "metadata": {"name": "e1", "namespace": "default"},
        "involvedObject": {
            "kind": "Pod",
            "namespace": "default",
            "name": "web",
            "uid": "u1",
            "apiVersion": "v1",
            "resourceVersion": "7",
            "fieldPath": "spec.containers{c}",
        },
        "reason": "Started",
        "source": {"component": "kubelet"},
        "reportingComponent": "kubelet",
        "type": "Normal",
    }
    want = {
        "metadata.name": "e1",
        "metadata.namespace": "default",
        "involvedObject.kind": "Pod",
        "involvedObject.namespace": "default",
        "involvedObject.name": "web",
        "involvedObject.uid": "u1",
        "involvedObject.apiVersion": "v1",
        "involvedObject.resourceVersion": "7",
        "involvedObject.fieldPath": "spec.containers{c}",
        "reason": "Started",
        "reportingComponent": "kubelet",
        "source": "kubelet",
        "type": "Normal",
    }
    assert fields.object_fields("events", event) == want
    assert fields.object_fields("events", msgspec.convert(event, core.Event)) == want


def test_other_resources() -> None:
    assert fields.object_fields("secrets", {"type": "Opaque"})["type"] == "Opaque"
    assert fields.object_fields("namespaces", {"status": {"phase": "Active"}})["status.phase"] == (
        "Active"
    )
    ns_fields = fields.object_fields("configmaps", {"metadata": {"name": "c", "namespace": "d"}})
    assert ns_fields == {"metadata.name": "c", "metadata.namespace": "d"}


def test_validate() -> None:
    assert fields.validate("pods", "spec.nodeName=n1").exact_value("spec.nodeName") == "n1"
    assert fields.validate("configmaps", parse("metadata.name=x")).matches({"metadata.name": "x"})
    with pytest.raises(SelectorError, match=r"^field label not supported: foo$"):
        fields.validate("pods", "foo=bar")
    with pytest.raises(SelectorError, match=r"not supported: spec\.nodeName"):
        fields.validate("configmaps", "spec.nodeName=x")


_text = st.text(alphabet="ab,=\\!x. ", max_size=8)


@given(st.lists(st.tuples(st.sampled_from(["f.a", "f.b", "g"]), _text, st.booleans()), max_size=4))
def test_string_round_trip_with_arbitrary_values(terms: list[tuple[str, str, bool]]) -> None:
    sel = FieldSelector(Term(f, v, neg) for f, v, neg in terms)
    again = parse(str(sel))
    assert sorted(again.requirements, key=str) == sorted(sel.requirements, key=str)


@given(
    st.lists(st.tuples(st.sampled_from(["f.a", "f.b"]), _text, st.booleans()), max_size=4),
    st.dictionaries(st.sampled_from(["f.a", "f.b"]), _text),
)
def test_matches_agrees_with_reference(
    terms: list[tuple[str, str, bool]], values: dict[str, str]
) -> None:
    sel = parse(",".join(str(Term(f, v, neg)) for f, v, neg in terms))
    expected = all((values.get(f, "") == v) != neg for f, v, neg in terms)
    assert sel.matches(values) == expected
