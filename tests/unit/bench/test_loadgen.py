"""The API server load generator (benchmarks/apiserver_load.py, apiserver_http.py): response
framing, watch-event timestamps for both targets, and one small real run against a
`kcore apiserver` subprocess and a real etcd-server, checking that every request succeeds and
every watch event is delivered (figures are not checked: tests never assert timings)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kcore.bench.workloads import driver

http: Any = driver("apiserver_http", "the raw HTTP client")
load: Any = driver("apiserver_load", "the load generator")


def test_content_length_response_waits_for_its_body() -> None:
    raw = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX: y\r\n\r\nhello"
    assert http.parse_response(bytearray(raw[:-1])) is None
    assert http.parse_response(bytearray(raw + b"HTTP/1.1")) == (201, b"hello", len(raw))


def test_chunked_response_is_joined() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    assert http.parse_response(bytearray(raw[:-3])) is None
    assert http.parse_response(bytearray(raw)) == (200, b"abcde", len(raw))


def test_request_bytes_carry_length_and_headers() -> None:
    raw = http.request_bytes("POST", "/p", "h:1", {"A": "b"}, b"xyz")
    assert raw == b"POST /p HTTP/1.1\r\nHost: h:1\r\nA: b\r\nContent-Length: 3\r\n\r\nxyz"


def test_watch_stamps_from_kube_events() -> None:
    kube = load.Target("kcore", "kube", "http://127.0.0.1:1")
    events = b"".join(
        json.dumps({"type": "ADDED", "object": json.loads(load.pod_json(f"w-{t}-{i}"))}).encode()
        + b"\n"
        for i, t in enumerate((111, 222))
    )
    assert load.stamps(kube, events) == [111, 222]
    assert load.stamps(kube, json.dumps({"metadata": {"name": "c-5"}}).encode()) == []


def test_watch_stamps_from_etcd_events() -> None:
    etcd = load.Target("etcd", "etcd", "http://127.0.0.1:1")
    kvs = [{"key": base64.b64encode(f"{load.ETCD_PREFIX}w-{t}-0".encode()).decode(),
            "value": base64.b64encode(load.pod_json("x")).decode()} for t in (7, 8)]  # fmt: skip
    message = json.dumps({"result": {"events": [{"kv": kv} for kv in kvs]}}).encode() + b"\n"
    assert load.stamps(etcd, message) == [7, 8]


def test_etcd_create_is_a_guarded_put() -> None:
    etcd = load.Target("etcd", "etcd", "http://127.0.0.1:1")
    path, body = load.create_request(etcd, "p-1")
    txn = json.loads(body)
    assert path == "/v3/kv/txn"
    assert txn["compare"][0]["target"] == "CREATE" and txn["compare"][0]["create_revision"] == "0"
    put = txn["success"][0]["request_put"]
    assert base64.b64decode(put["key"]).decode() == load.ETCD_PREFIX + "p-1"
    assert json.loads(base64.b64decode(put["value"]))["metadata"]["name"] == "p-1"


@pytest.mark.slow
@pytest.mark.etcd
@pytest.mark.timeout(180)
def test_small_real_run_against_kcore_and_etcd() -> None:
    etcd_server: Any = driver("etcd_server", "the etcd launcher")
    with load.kcore_apiserver() as (kcore, _), etcd_server.running_etcd() as etcd:
        for target in (kcore, load.etcd_target(etcd.endpoint)):
            rate = load.closed_loop_creates(target, count=40, clients=4, procs=2)
            assert (rate.errors, len(rate.latencies_ms)) == (0, 40), rate.detail
            listed, items = load.list_all(target, times=1)
            assert (listed.errors, items) == (0, 40)
            paced = load.paced_creates(target, rate=20, seconds=1, procs=1)
            assert (paced.errors, len(paced.latencies_ms)) == (0, 20)
            rv = load.kube_resource_version(target) if target.kind == "kube" else ""
            fan = load.watch_fanout(target, watchers=3, rate=10, seconds=1, procs=1,
                                    resource_version=rv)  # fmt: skip
            assert fan.errors == 0, fan.detail
            assert fan.delivered == fan.expected == 30
