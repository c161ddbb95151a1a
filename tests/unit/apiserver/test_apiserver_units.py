"""Unit tests of the API server's pure parts: request parsing, content negotiation, human
durations, discovery documents, credentials, and service allocation over a real memory store."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kcore.api.errors import StatusError
from kcore.apiserver import discovery, pki, printing, resources, wire
from kcore.apiserver.allocator import ServiceAllocator
from kcore.apiserver.requestinfo import RequestInfo, parse_bool, parse_resource_path, split_path
from kcore.apiserver.resource_store import ResourceStore
from kcore.storage.memory import MemoryStore


def info(method: str, path: str, watch: bool = False) -> RequestInfo | None:
    return parse_resource_path(method, split_path(path), watch)


@pytest.mark.parametrize(
    ("method", "path", "watch", "expected"),
    [
        ("GET", "/api/v1/pods", False, RequestInfo("", "v1", "pods", verb="list")),
        ("GET", "/api/v1/namespaces/d/pods", True,
         RequestInfo("", "v1", "pods", "d", verb="watch")),
        ("GET", "/api/v1/namespaces/d/pods/p", False,
         RequestInfo("", "v1", "pods", "d", "p", verb="get")),
        ("PUT", "/apis/apps/v1/namespaces/d/deployments/w/scale", False,
         RequestInfo("apps", "v1", "deployments", "d", "w", "scale", "update")),
        ("GET", "/api/v1/namespaces/d", False,
         RequestInfo("", "v1", "namespaces", "", "d", verb="get")),
        ("PUT", "/api/v1/namespaces/d/finalize", False,
         RequestInfo("", "v1", "namespaces", "", "d", "finalize", "update")),
        ("PATCH", "/api/v1/namespaces/d/status", False,
         RequestInfo("", "v1", "namespaces", "", "d", "status", "patch")),
        ("DELETE", "/api/v1/namespaces/d/pods", False,
         RequestInfo("", "v1", "pods", "d", verb="deletecollection")),
        ("POST", "/api/v1/namespaces/d/pods/p/binding", False,
         RequestInfo("", "v1", "pods", "d", "p", "binding", "create")),
        ("GET", "/api/v1/nodes/n1/", False, RequestInfo("", "v1", "nodes", "", "n1", verb="get")),
    ],
)  # fmt: skip
def test_request_info(method: str, path: str, watch: bool, expected: RequestInfo) -> None:
    assert info(method, path, watch) == expected


@pytest.mark.parametrize("path", ["/api", "/api/v1", "/apis/apps/v1", "/version", "/x/y/z",
                                  "/api/v1/a/b/c/d"])  # fmt: skip
def test_non_resource_paths(path: str) -> None:
    assert info("GET", path) is None


def test_parse_bool_is_gos() -> None:
    assert all(parse_bool(v) for v in ("1", "t", "T", "true", "True", "TRUE"))
    assert not any(parse_bool(v) for v in (None, "", "0", "false", "yes"))


def test_accept_negotiation() -> None:
    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    assert wire.parse_accept(table) == wire.Accept(table=True)
    beta = "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
    assert wire.parse_accept(beta).table_version == "v1beta1"
    proto = "application/vnd.kubernetes.protobuf,application/json"
    assert wire.parse_accept(proto) == wire.Accept()
    assert wire.parse_accept("application/vnd.msgpack").fmt == "msgpack"
    assert wire.parse_accept(None).content_type == "application/json"


def test_body_decoding_errors() -> None:
    assert wire.decode_object(b"a: 1\n", "application/yaml") == {"a": 1}
    for data, ctype in ((b"{", "application/json"), (b"[1]", None), (b"\x01", "text/yaml")):
        with pytest.raises(StatusError) as e:
            wire.decode_object(data, ctype)
        assert e.value.code == 400
    with pytest.raises(StatusError) as e:
        wire.decode_object(b"x", "application/vnd.kubernetes.protobuf")
    assert e.value.code == 400


def test_watch_frames() -> None:
    assert wire.frame({"type": "ADDED"}, "json") == b'{"type":"ADDED"}\n'
    framed = wire.frame({"type": "ADDED"}, "msgpack")
    assert int.from_bytes(framed[:4], "big") == len(framed) - 4


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (119, "119s"), (200, "3m20s"), (600, "10m"), (47 * 60, "47m"),
     (5 * 3600, "5h"), (5 * 3600 + 600, "5h10m"), (30 * 3600, "30h"), (3 * 86400, "3d"),
     (3 * 86400 + 4 * 3600, "3d4h"), (400 * 86400, "400d"), (3 * 365 * 86400, "3y")],
)  # fmt: skip
def test_human_duration(seconds: int, text: str) -> None:
    assert printing.human_duration(seconds) == text


def test_table_columns_and_rows() -> None:
    svc = {"metadata": {"name": "s", "creationTimestamp": "2020-01-01T00:00:00Z"},
           "spec": {"type": "NodePort", "clusterIP": "127.32.0.9",
                    "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"}]}}  # fmt: skip
    table = printing.table("services", [svc])
    names = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert names == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    assert table["rows"][0]["cells"][:5] == ["s", "NodePort", "127.32.0.9", "<none>",
                                             "80:30001/TCP"]  # fmt: skip
    assert printing.table("widgets", [svc])["columnDefinitions"][0]["format"] == "name"


def test_discovery_documents_from_registry() -> None:
    core = discovery.resource_list("", "v1")
    assert core is not None and core["groupVersion"] == "v1"
    names = {r["name"] for r in core["resources"]}
    assert {"pods", "pods/status", "pods/binding", "pods/log", "namespaces/finalize"} <= names
    assert discovery.resource_list("nope", "v1") is None
    groups = discovery.api_group_list()["groups"]
    assert all(g["preferredVersion"] in g["versions"] for g in groups)
    assert "" not in {g["name"] for g in groups}


def test_storage_keys() -> None:
    pods = resources.lookup("", "v1", "pods")
    deploys = resources.lookup("apps", "v1", "deployments")
    hpa1 = resources.lookup("autoscaling", "v1", "horizontalpodautoscalers")
    hpa2 = resources.lookup("autoscaling", "v2", "horizontalpodautoscalers")
    assert pods is not None and deploys is not None and hpa1 is not None and hpa2 is not None
    assert resources.key(pods, "ns", "p") == "/registry/pods/ns/p"
    assert resources.prefix(deploys) == "/registry/deployments.apps/"
    # one HPA, two versions: one prefix, stored as v2
    assert resources.prefix(hpa1, "d") == resources.prefix(hpa2, "d")
    assert resources.prefix(hpa2, "d") == "/registry/horizontalpodautoscalers.autoscaling/d/"
    assert resources.storage_info(hpa1) is hpa2


def test_credentials_are_created_once(tmp_path: Path) -> None:
    creds = pki.ensure_credentials(tmp_path)
    again = pki.ensure_credentials(tmp_path)
    assert again.token == creds.token and creds.tls_cert.read_bytes() == again.tls_cert.read_bytes()
    cert = x509.load_pem_x509_certificate(creds.tls_cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    ca = x509.load_pem_x509_certificate(creds.ca_cert.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cert.verify_directly_issued_by(ca)
    assert (creds.ca_key.stat().st_mode & 0o077) == 0
    config = pki.kubeconfig("https://127.0.0.1:1", creds)
    assert creds.token in config and "certificate-authority-data" in config


async def test_service_allocation_avoids_used_and_rejects_bad() -> None:
    store = MemoryStore()
    info = resources.lookup("", "v1", "services")
    assert info is not None
    services = ResourceStore(store, info)
    alloc = ServiceAllocator(services)
    first = {"metadata": {"name": "a", "namespace": "d", "uid": "1"},
             "spec": {"type": "NodePort", "ports": [{"port": 80}]}}  # fmt: skip
    await alloc.allocate(first)
    await services.create(first)
    second = {"metadata": {"name": "b", "namespace": "d", "uid": "2"},
              "spec": {"type": "NodePort", "ports": [{"port": 80}]}}  # fmt: skip
    await alloc.allocate(second)
    assert second["spec"]["clusterIP"] != first["spec"]["clusterIP"]
    assert second["spec"]["ports"][0]["nodePort"] != first["spec"]["ports"][0]["nodePort"]
    for spec in ({"clusterIP": first["spec"]["clusterIP"]}, {"clusterIP": "10.0.0.1"},
                 {"type": "NodePort", "ports": [{"port": 1, "nodePort": 80}]}):  # fmt: skip
        with pytest.raises(StatusError) as e:
            await alloc.allocate({"metadata": {"name": "c", "uid": "3"}, "spec": dict(spec)})
        assert e.value.code == 422
    headless = {"metadata": {"name": "h", "uid": "4"}, "spec": {"clusterIP": "None"}}
    await alloc.allocate(headless)
    assert headless["spec"]["clusterIPs"] == ["None"]
    await store.close()


def test_openapi_v3_documents() -> None:
    import json

    from kcore.apiserver import openapi

    root = json.loads(openapi.v3_root())
    assert root["paths"]["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")
    assert "apis/apps/v1" in root["paths"]
    doc = json.loads(openapi.v3_document("apps", "v1") or b"")
    schemas = doc["components"]["schemas"]
    assert schemas["Deployment"]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]  # fmt: skip
    containers = schemas["PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    strategy = schemas["DeploymentSpec"]["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    assert "anyOf" not in json.dumps(schemas["DeploymentSpec"])
    assert openapi.v3_document("nope", "v1") is None


def _varint(n: int) -> bytes:
    out = b""
    n &= (1 << 64) - 1
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def test_protobuf_envelope_and_objects() -> None:
    from kcore.apiserver import protobuf

    labels = _field(11, _field(1, b"app") + _field(2, b"web"))
    meta = _field(1, b"web") + labels + _field(8, b"")  # zero creationTimestamp
    port = _field(3, 80) + _field(4, _field(1, 1) + _field(3, b"http"))  # targetPort "http"
    spec = _field(1, port) + _field(4, b"ClusterIP")
    svc = _field(1, meta) + _field(2, spec) + _field(99, b"ignored")
    type_meta = _field(1, b"v1") + _field(2, b"Service")
    body = protobuf.MAGIC + _field(1, type_meta) + _field(2, svc)
    assert wire.decode_object(body, "application/vnd.kubernetes.protobuf") == {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"ports": [{"port": 80, "targetPort": "http"}], "type": "ClusterIP"},
    }  # fmt: skip
    spec = _field(1, 0) + _field(6, -1)  # a pointer zero is kept; -1 decodes
    type_meta = _field(1, b"apps/v1") + _field(2, b"Deployment")
    dep = protobuf.MAGIC + _field(1, type_meta) + _field(2, _field(2, spec))
    assert wire.decode_object(dep, "application/vnd.kubernetes.protobuf")["spec"] == {
        "replicas": 0, "revisionHistoryLimit": -1}  # fmt: skip
    for bad, code in ((protobuf.MAGIC + b"\x0a\x05ab", 400),
                      (protobuf.MAGIC + _field(1, _field(2, b"Widget")), 415)):  # fmt: skip
        with pytest.raises(StatusError) as e:
            wire.decode_object(bad, "application/vnd.kubernetes.protobuf")
        assert e.value.code == code


def test_more_table_printers() -> None:
    job = {"metadata": {"name": "j"}, "spec": {"completions": 2},
           "status": {"succeeded": 2, "startTime": "2020-01-01T00:00:00Z",
                      "completionTime": "2020-01-01T00:00:45Z",
                      "conditions": [{"type": "Complete", "status": "True"}]}}  # fmt: skip
    assert printing.table("jobs", [job])["rows"][0]["cells"][:4] == ["j", "Complete", "2/2", "45s"]
    ds = {"metadata": {"name": "d"}, "status": {"desiredNumberScheduled": 3, "numberReady": 2},
          "spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}}}  # fmt: skip
    assert printing.table("daemonsets", [ds])["rows"][0]["cells"][:7] == [
        "d", 3, 0, 2, 0, 0, "disk=ssd"]  # fmt: skip
    node = {"metadata": {"name": "n", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
    assert printing.table("nodes", [node])["rows"][0]["cells"][:3] == [
        "n", "Ready,SchedulingDisabled", "control-plane"]  # fmt: skip
