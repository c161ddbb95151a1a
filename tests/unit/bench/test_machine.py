"""Machine facts: hardware and peer versions, "unavailable" for a missing peer."""

from __future__ import annotations

from kcore.bench.machine import command_version, machine_facts


def test_facts_describe_this_machine() -> None:
    facts = machine_facts()
    assert int(facts["cores"]) >= 1
    assert int(facts["memory_bytes"]) > 0
    assert facts["kernel"] and facts["python"]
    for peer in ("etcd", "haproxy", "docker", "wrk", "nginx"):
        assert f"{peer}_version" in facts


def test_missing_peer_is_unavailable() -> None:
    assert command_version(["/nonexistent/kcore-peer", "--version"]) == "unavailable"


def test_version_is_first_output_line() -> None:
    assert command_version(["sh", "-c", "echo; echo 'peer 1.2.3'; echo more"]) == "peer 1.2.3"
    assert command_version(["sh", "-c", "echo 'on stderr 2' >&2"]) == "on stderr 2"
