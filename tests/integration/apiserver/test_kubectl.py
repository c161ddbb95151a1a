"""Real kubectl (the machine's v1.32 dispatcher) against a `kcore apiserver` subprocess."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(180)]

POD = """
apiVersion: v1
kind: Pod
metadata: {name: p1, labels: {app: web, tier: fe}}
spec:
  containers: [{name: c, image: busybox:1.36}]
"""

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx:1.20}, {name: side, image: busybox}]
"""

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def as_json(res: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(res.stdout)


def test_version_and_discovery(kubectl: Any) -> None:
    out = kubectl("version", "-o", "json")
    assert as_json(out)["serverVersion"]["minor"] == "32"
    resources = kubectl("api-resources", "-o", "name").stdout.split()
    for name in (
        "pods",
        "services",
        "deployments.apps",
        "leases.coordination.k8s.io",
        "horizontalpodautoscalers.autoscaling",
        "namespaces",
        "nodes",
    ):
        assert name in resources
    versions = kubectl("api-versions").stdout.split()
    assert {"v1", "apps/v1", "autoscaling/v1", "coordination.k8s.io/v1"} <= set(versions)
    wide = kubectl("api-resources", "--namespaced=false", "-o", "wide").stdout
    assert "namespaces" in wide and "pods " not in wide


def test_create_get_output_formats(kubectl: Any, ns: str) -> None:
    assert "pod/p1 created" in kubectl("create", "-n", ns, "-f", "-", stdin=POD).stdout
    table = kubectl("get", "pods", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == ["p1", "0/1", "Pending", "0"]
    wide = kubectl("get", "pods", "-n", ns, "-o", "wide").stdout.splitlines()[0]
    assert "NOMINATED NODE" in wide and "READINESS GATES" in wide and "IP" in wide
    pod = as_json(kubectl("get", "pod", "p1", "-n", ns, "-o", "json"))
    assert pod["kind"] == "Pod" and pod["metadata"]["uid"] and pod["metadata"]["generation"] == 1
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert (
        yaml.safe_load(kubectl("get", "pod", "p1", "-n", ns, "-o", "yaml").stdout)["metadata"][
            "name"
        ]
        == "p1"
    )
    assert kubectl("get", "pods", "-n", ns, "-o", "name").stdout.strip() == "pod/p1"
    path = kubectl("get", "pod", "p1", "-n", ns, "-o", "jsonpath={.metadata.labels.app}")
    assert path.stdout == "web"
    dup = kubectl("create", "-n", ns, "-f", "-", stdin=POD, check=False)
    assert dup.returncode != 0 and "(AlreadyExists)" in dup.stderr


def test_selectors_all_namespaces_and_labels(kubectl: Any, ns: str) -> None:
    kubectl("create", "-n", ns, "-f", "-", stdin=POD)
    kubectl("create", "-n", ns, "-f", "-", stdin=POD.replace("p1", "p2").replace("web", "db"))
    by_label = kubectl("get", "po", "-n", ns, "-l", "app=web", "-o", "name")
    assert by_label.stdout.split() == ["pod/p1"]
    by_set = kubectl("get", "po", "-n", ns, "-l", "app in (db,x),tier", "-o", "name")
    assert by_set.stdout.split() == ["pod/p2"]
    sel = kubectl("get", "po", "-n", ns, "--field-selector", "metadata.name=p2", "-o", "name")
    assert sel.stdout.split() == ["pod/p2"]
    bad = kubectl("get", "po", "-n", ns, "--field-selector", "spec.bogus=1", check=False)
    assert bad.returncode != 0 and "BadRequest" in bad.stderr
    everywhere = kubectl("get", "pods", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == [ns, "p1"] for line in everywhere)
    labels = kubectl("get", "pods", "-n", ns, "--show-labels").stdout
    assert "app=web,tier=fe" in labels
    missing = kubectl("get", "pod", "nope", "-n", ns, check=False)
    assert 'Error from server (NotFound): pods "nope" not found' in missing.stderr


def test_apply_then_changed_apply_uses_strategic_merge(kubectl: Any, ns: str) -> None:
    assert "created" in kubectl("apply", "-n", ns, "-f", "-", stdin=DEPLOY).stdout
    assert "unchanged" in kubectl("apply", "-n", ns, "-f", "-", stdin=DEPLOY).stdout
    changed = DEPLOY.replace("nginx:1.20", "nginx:1.21").replace("replicas: 2", "replicas: 3")
    assert "configured" in kubectl("apply", "-n", ns, "-f", "-", stdin=changed).stdout
    d = as_json(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert d["spec"]["replicas"] == 3
    assert [c["image"] for c in d["spec"]["template"]["spec"]["containers"]] == [
        "nginx:1.21",
        "busybox",
    ]
    assert d["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in d["metadata"]["annotations"]
    header = kubectl("get", "deploy", "-n", ns).stdout.splitlines()[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]


def test_service_allocation_and_columns(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-n", ns, "-f", "-", stdin=SERVICE)
    svc = as_json(kubectl("get", "svc", "web", "-n", ns, "-o", "json"))
    assert svc["spec"]["clusterIP"].startswith("127.")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    line = kubectl("get", "svc", "-n", ns).stdout.splitlines()
    assert line[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert f"80:{node_port}/TCP" in line[1]
    clash = SERVICE.replace("name: web", "name: web2").replace(
        "targetPort: 8080", f"targetPort: 8080, nodePort: {node_port}"
    )
    res = kubectl("apply", "-n", ns, "-f", "-", stdin=clash, check=False)
    assert res.returncode != 0 and "provided port is already allocated" in res.stderr


def test_label_annotate_patch_scale(kubectl: Any, ns: str) -> None:
    kubectl("create", "-n", ns, "-f", "-", stdin=DEPLOY)
    kubectl("label", "deploy", "web", "-n", ns, "team=a")
    kubectl("annotate", "deploy", "web", "-n", ns, "note=hello")
    kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:2"}]}}}}',
    )
    kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        '{"metadata":{"labels":{"merged":"yes"}}}',
    )
    kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        '[{"op":"add","path":"/spec/minReadySeconds","value":5}]',
    )
    assert "scaled" in kubectl("scale", "deploy", "web", "-n", ns, "--replicas=4").stdout
    d = as_json(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert d["metadata"]["labels"] == {"team": "a", "merged": "yes"}
    assert d["metadata"]["annotations"]["note"] == "hello"
    images = {c["name"]: c["image"] for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == {"nginx": "nginx:1.20", "side": "busybox:2"}
    assert d["spec"]["minReadySeconds"] == 5 and d["spec"]["replicas"] == 4
    rv = d["metadata"]["resourceVersion"]
    kubectl("scale", "deploy", "web", "-n", ns, "--replicas=2", f"--resource-version={rv}")
    stale = kubectl(
        "scale", "deploy", "web", "-n", ns, "--replicas=3", f"--resource-version={rv}", check=False
    )
    assert stale.returncode != 0
    assert "Conflict" in stale.stderr or f"Expected resource version to be {rv}" in stale.stderr
    bad = kubectl(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        '[{"op":"test","path":"/spec/replicas","value":99}]',
        check=False,
    )
    assert bad.returncode != 0


def test_describe_and_delete_wait(kubectl: Any, ns: str) -> None:
    kubectl("create", "-n", ns, "-f", "-", stdin=POD)
    kubectl("create", "-n", ns, "-f", "-", stdin=DEPLOY)
    described = kubectl("describe", "pod", "p1", "-n", ns).stdout
    assert "Name:" in described and "busybox:1.36" in described
    assert "Replicas:" in kubectl("describe", "deploy", "web", "-n", ns).stdout
    assert 'pod "p1" deleted' in kubectl("delete", "pod", "p1", "-n", ns, "--wait").stdout
    assert kubectl("get", "pods", "-n", ns, "-o", "name").stdout.strip() == ""
    kubectl("delete", "deploy", "web", "-n", ns, "--cascade=background")
    none = kubectl("get", "deploy", "-n", ns, "-o", "name").stdout.strip()
    assert none == ""


def test_get_watch_prints_changes(kubectl: Any, ns: str) -> None:
    with kubectl.popen("get", "pods", "-n", ns, "-w", "--output-watch-events") as watcher:
        time.sleep(1.5)
        kubectl("create", "-n", ns, "-f", "-", stdin=POD)
        kubectl("label", "pod", "p1", "-n", ns, "x=y")
        kubectl("delete", "pod", "p1", "-n", ns)
        lines = _read_lines(watcher, 4, deadline=time.monotonic() + 20)
        watcher.terminate()
    kinds = [line.split()[0] for line in lines[1:4]]
    assert lines[0].split()[:2] == ["EVENT", "NAME"]
    assert kinds == ["ADDED", "MODIFIED", "DELETED"]


def _read_lines(proc: subprocess.Popen[str], n: int, *, deadline: float) -> list[str]:
    assert proc.stdout is not None
    os_fd = proc.stdout.fileno()
    buf, lines = "", []
    while len(lines) < n and time.monotonic() < deadline:
        ready, _, _ = select.select([os_fd], [], [], 0.5)
        if ready:
            chunk = os.read(os_fd, 65536).decode()
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split("\n")
            lines += done
    return lines


def test_wait_for_condition(kubectl: Any, core_api: Any, ns: str) -> None:
    from kubernetes import client

    kubectl("create", "-n", ns, "-f", "-", stdin=POD)
    with kubectl.popen(
        "wait", "-n", ns, "--for=condition=Ready", "pod/p1", "--timeout=30s"
    ) as waiter:
        time.sleep(1.0)
        status = {
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        }
        client.CoreV1Api(core_api).patch_namespaced_pod_status("p1", ns, status)
        out, err = waiter.communicate(timeout=40)
    assert waiter.returncode == 0, err
    assert "condition met" in out


def test_edit_via_kube_editor(kubectl: Any, ns: str, tmp_path: Path) -> None:
    kubectl("create", "-n", ns, "-f", "-", stdin=DEPLOY)
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys\np = sys.argv[1]\ns = open(p).read()\n"
        "open(p, 'w').write(s.replace('replicas: 2', 'replicas: 7'))\n"
    )
    res = kubectl(
        "edit", "deploy", "web", "-n", ns, env_extra={"KUBE_EDITOR": f"{sys.executable} {editor}"}
    )
    assert "edited" in res.stdout
    d = as_json(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert d["spec"]["replicas"] == 7


def test_no_or_wrong_credentials(apiserver: Any, tmp_path: Path) -> None:
    base = [
        "kubectl",
        f"--cache-dir={tmp_path}/c",
        f"--server={apiserver.url}",
        f"--certificate-authority={apiserver.ca_cert}",
    ]
    for extra in (["--token=wrong"], ["--token=" + apiserver.token + "x"]):
        res = subprocess.run(
            [*base, *extra, "get", "pods"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
        assert res.returncode != 0
        assert "You must be logged in to the server" in res.stderr


def test_diff_uses_server_dry_run(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-n", ns, "-f", "-", stdin=DEPLOY)
    changed = DEPLOY.replace("replicas: 2", "replicas: 5")
    res = kubectl("diff", "-n", ns, "-f", "-", stdin=changed, check=False)
    assert res.returncode == 1, res.stderr
    assert "-  replicas: 2" in res.stdout and "+  replicas: 5" in res.stdout
    d = as_json(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert d["spec"]["replicas"] == 2


def test_explain_from_openapi_v3(kubectl: Any) -> None:
    out = kubectl("explain", "deployments.spec.template.spec.containers").stdout
    assert "KIND:       Deployment" in out and "<[]Container>" in out
    assert "image\t<string>" in out
    fields = kubectl("explain", "pods.spec", "--recursive").stdout
    assert "nodeName" in fields and "tolerations" in fields


def test_apply_removes_a_container_dropped_from_the_manifest(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-n", ns, "-f", "-", stdin=DEPLOY)
    one = DEPLOY.replace(", {name: side, image: busybox}", "")
    assert "configured" in kubectl("apply", "-n", ns, "-f", "-", stdin=one).stdout
    d = as_json(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    bad = DEPLOY.replace("replicas: 2", "replicas: 2\n  bogusField: 1")
    res = kubectl("apply", "-n", ns, "-f", "-", stdin=bad, check=False)
    assert res.returncode != 0 and 'unknown field "spec.bogusField"' in res.stderr


def test_namespace_delete_and_get_all(kubectl: Any, core_api: Any) -> None:
    from kubernetes import client

    client.CoreV1Api(core_api).create_namespace({"metadata": {"name": "doomed"}})
    kubectl("apply", "-n", "doomed", "-f", "-", stdin=DEPLOY)
    kubectl("apply", "-n", "doomed", "-f", "-", stdin=SERVICE)
    kubectl("create", "-n", "doomed", "-f", "-", stdin=POD)
    everything = kubectl("get", "all", "-n", "doomed", "-o", "name").stdout.split()
    assert set(everything) == {"pod/p1", "service/web", "deployment.apps/web"}
    assert 'namespace "doomed" deleted' in kubectl("delete", "ns", "doomed").stdout
    gone = kubectl("get", "ns", "doomed", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_orphan_cascade_leaves_finalizer_for_the_gc(kubectl: Any, ns: str) -> None:
    kubectl("apply", "-n", ns, "-f", "-", stdin=DEPLOY)
    kubectl("delete", "deploy", "web", "-n", ns, "--cascade=orphan", "--wait=false")
    d = as_json(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert d["metadata"]["finalizers"] == ["orphan"]
    assert d["metadata"]["deletionTimestamp"]
    kubectl("patch", "deploy", "web", "-n", ns, "--type", "json", "-p",
            '[{"op":"remove","path":"/metadata/finalizers"}]')  # fmt: skip
    assert kubectl("get", "deploy", "-n", ns, "-o", "name").stdout.strip() == ""


def test_single_object_watch_and_node_commands(kubectl: Any, ns: str) -> None:
    node = "apiVersion: v1\nkind: Node\nmetadata: {name: n-" + ns + "}\n"
    kubectl("apply", "-f", "-", stdin=node)
    kubectl("cordon", f"n-{ns}")
    kubectl("taint", "node", f"n-{ns}", "k=v:NoSchedule")
    n = as_json(kubectl("get", "node", f"n-{ns}", "-o", "json"))
    assert n["spec"]["unschedulable"] is True
    assert n["spec"]["taints"] == [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    kubectl("create", "-n", ns, "-f", "-", stdin=POD)
    with kubectl.popen("get", "pod", "p1", "-n", ns, "-w", "-o", "name") as watcher:
        lines = _read_lines(watcher, 1, deadline=time.monotonic() + 10)  # the current state
        kubectl("label", "pod", "p1", "-n", ns, "w=1")
        lines += _read_lines(watcher, 1, deadline=time.monotonic() + 10)
        watcher.terminate()
    assert lines == ["pod/p1", "pod/p1"]
    logs = kubectl("logs", "p1", "-n", ns, check=False)
    assert logs.returncode != 0 and "does not have a host assigned" in logs.stderr


def test_generators_sending_protobuf(kubectl: Any, ns: str) -> None:
    kubectl("create", "namespace", f"{ns}-gen")
    assert as_json(kubectl("get", "ns", f"{ns}-gen", "-o", "json"))["status"]["phase"] == "Active"
    kubectl("create", "deployment", "web", "-n", ns, "--image=nginx:1.2", "--replicas=0",
            "--port=80")  # fmt: skip
    d = as_json(kubectl("get", "deploy", "web", "-n", ns, "-o", "json"))
    assert d["spec"]["replicas"] == 0 and d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = d["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.2" and container["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}]  # fmt: skip
    assert "creationTimestamp" not in d["spec"]["template"]["metadata"]
    kubectl("create", "configmap", "c", "-n", ns, "--from-literal=a=1")
    assert as_json(kubectl("get", "cm", "c", "-n", ns, "-o", "json"))["data"] == {"a": "1"}
    kubectl("create", "secret", "generic", "s", "-n", ns, "--from-literal=k=v")
    assert as_json(kubectl("get", "secret", "s", "-n", ns, "-o", "json"))["data"] == {"k": "dg=="}
    kubectl("create", "service", "clusterip", "svc", "-n", ns, "--tcp=80:8080")
    port = as_json(kubectl("get", "svc", "svc", "-n", ns, "-o", "json"))["spec"]["ports"][0]
    assert (port["port"], port["targetPort"]) == (80, 8080)
    kubectl("autoscale", "deploy", "web", "-n", ns, "--max=5", "--cpu-percent=50")
    v1_path = f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers/web"
    hpa = as_json(kubectl("get", "--raw", v1_path))["spec"]  # get hpa -o json shows v2
    assert (hpa["maxReplicas"], hpa["targetCPUUtilizationPercentage"]) == (5, 50)
    kubectl("create", "job", "j", "-n", ns, "--image=busybox", "--", "echo", "hi")
    job = as_json(kubectl("get", "job", "j", "-n", ns, "-o", "json"))
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    kubectl("delete", "ns", f"{ns}-gen")


def test_auth_can_i_and_whoami(kubectl: Any) -> None:
    assert kubectl("auth", "can-i", "get", "pods").stdout.strip() == "yes"
    assert kubectl(
        "auth", "can-i", "create", "deployments", "-n", "kube-system"
    ).stdout.strip() == ("yes")
    who = kubectl("auth", "whoami").stdout
    assert "admin" in who and "system:masters" in who


def test_drain_evicts_pods_through_protobuf_evictions(kubectl: Any, ns: str) -> None:
    node = f"drain-{ns}"
    kubectl("apply", "-f", "-", stdin=f"apiVersion: v1\nkind: Node\nmetadata: {{name: {node}}}\n")
    bound = POD.replace("spec:\n", f"spec:\n  nodeName: {node}\n")
    kubectl("create", "-n", ns, "-f", "-", stdin=bound)
    out = kubectl("drain", node, "--force", "--grace-period=0", "--timeout=30s").stdout
    assert "pod/p1 evicted" in out and f"node/{node} drained" in out
    assert kubectl("get", "pods", "-n", ns, "-o", "name").stdout.strip() == ""
    assert as_json(kubectl("get", "node", node, "-o", "json"))["spec"]["unschedulable"] is True
