"""Name syntax checks return Kubernetes' exact messages; label/annotation validation causes."""

from __future__ import annotations

import pytest

from kcore.api.errors import invalid
from kcore.api.names import (
    TOTAL_ANNOTATION_SIZE_LIMIT,
    is_c_identifier,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_qualified_name,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
    validate_annotations,
    validate_labels,
)

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize("name", ["a", "my-name", "123-abc", "a" * 63, "0"])
def test_dns1123_label_valid(name: str) -> None:
    assert is_dns1123_label(name) == []


def test_dns1123_label_messages() -> None:
    assert is_dns1123_label("My_Name") == [LABEL_MSG]
    assert is_dns1123_label("-a") == [LABEL_MSG]
    assert is_dns1123_label("") == [LABEL_MSG]
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


def test_dns1123_subdomain() -> None:
    assert is_dns1123_subdomain("example.com") == []
    assert is_dns1123_subdomain("a" * 253) == []
    assert is_dns1123_subdomain("Example.com") == [SUBDOMAIN_MSG]
    assert is_dns1123_subdomain("a..b") == [SUBDOMAIN_MSG]
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert is_dns1123_subdomain("a\n") == [SUBDOMAIN_MSG]  # no trailing-newline loophole


def test_dns1035_label() -> None:
    assert is_dns1035_label("my-svc") == []
    assert len(is_dns1035_label("1svc")) == 1
    assert "DNS-1035 label" in is_dns1035_label("1svc")[0]


@pytest.mark.parametrize(
    "key", ["app", "app.kubernetes.io/name", "k8s.io/a_b.c-d", "A", "a" * 63, "x/" + "a" * 63]
)
def test_qualified_name_valid(key: str) -> None:
    assert is_qualified_name(key) == []


def test_qualified_name_messages() -> None:
    assert is_qualified_name("-a") == [NAME_PART_MSG]
    assert is_qualified_name("/a") == ["prefix part must be non-empty"]
    assert is_qualified_name("a/") == ["name part must be non-empty", NAME_PART_MSG]
    assert is_qualified_name("a" * 64) == ["name part must be no more than 63 characters"]
    assert is_qualified_name("Bad_Prefix/a") == ["prefix part " + SUBDOMAIN_MSG]
    too_many = is_qualified_name("a/b/c")
    assert len(too_many) == 1
    assert too_many[0].startswith("a qualified name must consist of alphanumeric characters")
    assert too_many[0].endswith(
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )


def test_label_value() -> None:
    assert is_valid_label_value("") == []
    assert is_valid_label_value("My_Value-1.2") == []
    assert is_valid_label_value("a" * 64) == [
        "must be no more than 63 characters",
    ]
    (msg,) = is_valid_label_value("-x")
    assert msg.startswith("a valid label must be an empty string or consist of alphanumeric")
    assert "(e.g. 'MyValue',  or 'my_value',  or '12345'" in msg


def test_c_identifier_and_env_var() -> None:
    assert is_c_identifier("MY_VAR1") == []
    assert is_c_identifier("1abc") != []
    assert is_env_var_name("my.env-name") == []
    assert is_env_var_name("1X") != []
    assert is_env_var_name(".") == ["must not be '.'"]
    assert is_env_var_name("..") == ["must not be '..'"]
    assert is_env_var_name("..x") == ["must not start with '..'"]


def test_port_name_and_number() -> None:
    assert is_valid_port_name("http") == []
    assert is_valid_port_name("a--b") == ["must not contain consecutive hyphens"]
    assert is_valid_port_name("123") == ["must contain at least one letter (a-z)"]
    assert is_valid_port_name("-ab") == ["must not begin or end with a hyphen"]
    assert is_valid_port_name("a" * 16) == ["must be no more than 15 characters"]
    assert is_valid_port_num(80) == []
    assert is_valid_port_num(0) == ["must be between 1 and 65535, inclusive"]
    assert is_valid_port_num(65536) != []


def test_validate_labels_causes_read_like_kubernetes() -> None:
    causes = validate_labels({"ok": "fine", "bad key": "v", "k": "-v"}, "metadata.labels")
    assert [c.field for c in causes] == ["metadata.labels", "metadata.labels"]
    assert causes[0].message == f'Invalid value: "bad key": {NAME_PART_MSG}'
    assert causes[1].message.startswith('Invalid value: "-v": a valid label must be')
    assert {c.reason for c in causes} == {"FieldValueInvalid"}
    err = invalid("Pod", "p", causes[:1])
    assert (
        err.message
        == f'Pod "p" is invalid: metadata.labels: Invalid value: "bad key": {NAME_PART_MSG}'
    )
    assert validate_labels({}, "metadata.labels") == []


def test_validate_annotations() -> None:
    assert (
        validate_annotations({"Example.COM/Key": "any value at all"}, "metadata.annotations") == []
    )
    (bad,) = validate_annotations({"a/b/c": ""}, "metadata.annotations")
    assert bad.message.startswith('Invalid value: "a/b/c": a qualified name')
    big = {"k": "x" * TOTAL_ANNOTATION_SIZE_LIMIT}
    (too_long,) = validate_annotations(big, "metadata.annotations")
    assert too_long.reason == "FieldValueTooLong"
    assert too_long.message == "Too long: may not be more than 262144 bytes"
    assert validate_annotations({"k": "x" * (TOTAL_ANNOTATION_SIZE_LIMIT - 1)}, "m") == []
