"""Pod and Node objects to the node table's values: requests, ports, tolerations, affinity."""

from __future__ import annotations

from simobjects import node, pod

from kcore.api.codec import from_dict
from kcore.api.core import Pod
from kcore.scheduler import adapter
from kcore.scheduler.query import Requirement, Toleration
from kcore.scheduler.table import DEFAULT_MEMORY_REQUEST

MI = 1024 * 1024


def _pod(spec: dict) -> Pod:
    return from_dict(Pod, {"metadata": {"name": "p", "namespace": "d"}, "spec": spec})


def _c(name: str, restart: str | None = None, **requests: str) -> dict:
    c: dict = {"name": name, "image": "x", "resources": {"requests": requests}}
    if restart:
        c["restartPolicy"] = restart
    return c


def test_requests_sum_containers_take_init_max_and_add_sidecars_and_overhead() -> None:
    p = _pod(
        {
            "containers": [_c("a", cpu="200m", memory="100Mi"), _c("b", cpu="300m")],
            "initContainers": [
                _c("init-big", cpu="1", memory="50Mi"),
                _c("sidecar", "Always", cpu="100m", memory="10Mi"),
                _c("init-after", cpu="950m"),
            ],
            "overhead": {"cpu": "10m", "memory": "1Mi"},
        }
    )
    # app 500m + sidecar 100m = 600m; init peak max(1000m, 950m + 100m sidecar) = 1050m
    assert adapter.pod_requests(p) == {"cpu": 1050 + 10, "memory": 110 * MI + 1 * MI}


def test_limits_stand_in_for_missing_requests() -> None:
    c = {"name": "a", "image": "x", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}
    assert adapter.pod_requests(_pod({"containers": [c]})) == {"cpu": 2000, "memory": 1024 * MI}


def test_nonzero_defaults_per_container() -> None:
    p = _pod({"containers": [_c("a"), _c("b", cpu="300m")]})
    assert adapter.pod_nonzero(p) == (100 + 300, 2 * DEFAULT_MEMORY_REQUEST)
    assert adapter.pod_requests(p) == {"cpu": 300}


def test_host_ports_tolerations_priority() -> None:
    p = pod(
        "p",
        ports=[
            {"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1"},
            {"containerPort": 53, "protocol": "UDP"},
        ],
        tolerations=[
            {"key": "k", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "j", "value": "v"},
        ],
        priority=7,
    )
    assert adapter.host_ports(p) == (("127.0.0.1", "TCP", 8080),)
    assert adapter.tolerations(p) == (
        Toleration(key="k", operator="Exists", effect="NoSchedule"),
        Toleration(key="j", operator="Equal", value="v"),
    )
    assert adapter.priority(p) == 7 and adapter.priority(pod("q")) == 0
    assert adapter.scheduler_name(p) == "default-scheduler"


def test_node_affinity_terms_with_match_fields() -> None:
    term = {
        "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}],
        "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}],
    }
    pref = {"weight": 5, "preference": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}}
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]},
            "preferredDuringSchedulingIgnoredDuringExecution": [pref],
        }
    }
    required, preferred = adapter.node_affinity(pod("p", affinity=affinity))
    assert required == [
        [Requirement("zone", "In", ("a", "b")), Requirement(adapter.FIELD_NAME, "NotIn", ("n1",))]
    ]
    assert preferred == [(5, [Requirement("gpu", "Exists")])]
    assert adapter.node_affinity(pod("q")) == (None, [])


def test_node_fields() -> None:
    n = node(
        "n1",
        cpu="2",
        memory="1Gi",
        labels={"zone": "a"},
        taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}],
        unschedulable=True,
    )
    f = adapter.node_fields(n)
    assert f.allocatable == {"cpu": 2000, "memory": 1024 * MI, "pods": 110}
    assert f.labels == {"zone": "a", adapter.FIELD_NAME: "n1"}
    assert f.taints == (("k", "v", "NoSchedule"),)
    assert f.unschedulable and f.ready
