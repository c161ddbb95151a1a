"""Restart backoff, pod IP allocation, env var resolution, probe thresholds, static pods."""

from __future__ import annotations

import base64

import pytest

from kcore.api.core import (
    ConfigMap,
    ConfigMapKeySelector,
    Container,
    EnvFromSource,
    EnvVar,
    EnvVarSource,
    ObjectFieldSelector,
    Pod,
    PodSpec,
    Probe,
    ResourceFieldSelector,
    ResourceRequirements,
    Secret,
    SecretEnvSource,
    Service,
    ServicePort,
    ServiceSpec,
)
from kcore.api.meta import ObjectMeta
from kcore.kubelet.backoff import RestartBackoff
from kcore.kubelet.envvars import EnvError, PodContext, container_env, expand
from kcore.kubelet.podip import PodIPAllocator, derived_cidr
from kcore.kubelet.probes import Prober, _always_ok
from kcore.kubelet.runtime import ContainerSpec, Mount
from kcore.kubelet.runtime.engine import create_body
from kcore.kubelet.sources import CONFIG_HASH, parse_manifests


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_first_restart_at_once_then_doubling_to_cap() -> None:
    clock = Clock()
    b = RestartBackoff(base=10, cap=40, clock=clock)
    delays = []
    for _ in range(5):
        assert not b.in_backoff("k", clock.now - b.delay("k"))
        delays.append(b.delay("k"))
        b.next("k")
        assert b.in_backoff("k", clock.now)
        clock.now += 1
    assert delays == [0, 10, 20, 40, 40]
    clock.now += 100  # ran cleanly for more than twice the cap: start over
    b.next("k")
    assert b.delay("k") == 10
    b.forget("k")
    assert b.delay("k") == 0


def test_pod_ips_from_the_node_cidr() -> None:
    assert derived_cidr("kcore-node-1") == "127.64.1.0/24"
    assert derived_cidr("kcore-node-300") == "127.65.44.0/24"
    assert derived_cidr("some-host").startswith("127.")
    alloc = PodIPAllocator("127.64.1.0/24")
    a = alloc.allocate("a")
    assert alloc.allocate("a") == a and alloc.contains(a)
    b = alloc.allocate("b", preferred=a)  # taken: another one
    assert b != a
    c = alloc.allocate("c", preferred="127.64.1.77")
    assert c == "127.64.1.77"
    alloc.release("a")
    assert alloc.allocate("d", preferred=a) == a
    assert alloc.allocate("e", preferred="10.0.0.1") != "10.0.0.1"


def test_pod_ip_allocator_runs_out() -> None:
    alloc = PodIPAllocator("127.64.9.0/30")
    alloc.allocate("a")
    alloc.allocate("b")
    with pytest.raises(RuntimeError):
        alloc.allocate("c")


def test_expand_like_kubernetes() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)-$(C)-$$(A)", env) == "1-two-$(C)-$(A)"


class Lookup:
    async def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        if name == "cm":
            return ConfigMap(data={"color": "blue", "size": "L"})
        return None

    async def secret(self, namespace: str, name: str) -> Secret | None:
        if name == "s":
            return Secret(data={"token": base64.b64encode(b"hunter2").decode()})
        return None


def _ctx() -> PodContext:
    pod = Pod(
        metadata=ObjectMeta(name="p", namespace="ns", uid="u1", labels={"app": "x"}),
        spec=PodSpec(node_name="n1", enable_service_links=True),
    )
    return PodContext(pod, "127.64.1.5", "127.0.1.1")


def field(path: str) -> EnvVarSource:
    return EnvVarSource(field_ref=ObjectFieldSelector(field_path=path))


async def test_container_env_sources_and_precedence() -> None:
    c = Container(
        name="c",
        resources=ResourceRequirements(limits={"memory": "64Mi", "cpu": "500m"}),
        env_from=[
            EnvFromSource(config_map_ref=None, secret_ref=SecretEnvSource(name="s"), prefix="S_")
        ],
        env=[
            EnvVar(name="NAME", value_from=field("metadata.name")),
            EnvVar(name="NODE", value_from=field("spec.nodeName")),
            EnvVar(name="APP", value_from=field("metadata.labels['app']")),
            EnvVar(name="IP", value_from=field("status.podIP")),
            EnvVar(name="GREETING", value="hi $(NAME) on $(NODE)"),
            EnvVar(
                name="COLOR",
                value_from=EnvVarSource(
                    config_map_key_ref=ConfigMapKeySelector(name="cm", key="color")
                ),
            ),
            EnvVar(
                name="MEM_MI",
                value_from=EnvVarSource(
                    resource_field_ref=ResourceFieldSelector(
                        resource="limits.memory", divisor="1Mi"
                    )
                ),
            ),
            EnvVar(
                name="CPU",
                value_from=EnvVarSource(
                    resource_field_ref=ResourceFieldSelector(resource="limits.cpu")
                ),
            ),
        ],
    )
    svc = Service(
        metadata=ObjectMeta(name="my-db", namespace="ns"),
        spec=ServiceSpec(
            cluster_ip="127.32.0.9", ports=[ServicePort(name="pg", port=5432, protocol="TCP")]
        ),
    )
    env = await container_env(_ctx(), c, lookup=Lookup(), services=[svc])
    assert env["NAME"] == "p" and env["NODE"] == "n1" and env["APP"] == "x"
    assert env["IP"] == env["POD_IP"] == "127.64.1.5"
    assert env["GREETING"] == "hi p on n1"
    assert env["COLOR"] == "blue" and env["S_token"] == "hunter2"
    assert env["MEM_MI"] == "64" and env["CPU"] == "1"  # cpu rounds up to whole cores
    assert env["MY_DB_SERVICE_HOST"] == "127.32.0.9" and env["MY_DB_SERVICE_PORT"] == "5432"
    assert env["MY_DB_SERVICE_PORT_PG"] == "5432"
    assert env["MY_DB_PORT_5432_TCP_ADDR"] == "127.32.0.9"


async def test_missing_config_map_is_a_config_error_unless_optional() -> None:
    ref = ConfigMapKeySelector(name="nope", key="k")
    c = Container(name="c", env=[EnvVar(name="X", value_from=EnvVarSource(config_map_key_ref=ref))])
    with pytest.raises(EnvError):
        await container_env(_ctx(), c, lookup=Lookup())
    ref.optional = True
    assert (await container_env(_ctx(), c, lookup=Lookup()))["X"] == ""


def test_prober_thresholds() -> None:
    changes: list[bool] = []
    probe = Probe(failure_threshold=2, success_threshold=2)
    p = Prober("readiness", probe, _always_ok, on_change=lambda: changes.append(p.result))
    assert p.result is False
    p.observe(True)
    assert p.result is False  # one success is not enough
    p.observe(True)
    assert p.result is True and changes == [True]
    p.observe(False)
    assert p.result is True
    p.observe(False)
    assert p.result is False and p.failed and changes == [True, False]
    live = Prober("liveness", Probe(), _always_ok, on_change=lambda: None)
    assert live.result is True and not live.failed


def test_static_pod_naming_and_identity() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
        "spec: {containers: [{name: c, image: i}]}\n"
    )
    [pod] = parse_manifests(text, source="file:/m/web.yaml", node_name="n1")
    assert pod.metadata.name == "web-n1" and pod.metadata.namespace == "default"
    assert pod.spec.node_name == "n1" and pod.spec.restart_policy == "Always"
    assert pod.metadata.annotations[CONFIG_HASH] == pod.metadata.uid
    [same] = parse_manifests(text, source="file:/m/web.yaml", node_name="n1")
    [edited] = parse_manifests(
        text.replace("image: i", "image: j"), source="file:/m/web.yaml", node_name="n1"
    )
    assert same.metadata.uid == pod.metadata.uid != edited.metadata.uid
    with pytest.raises(ValueError):
        parse_manifests("kind: Service\nmetadata: {name: s}\n", source="file:x", node_name="n1")


def test_engine_create_body_maps_the_container_spec() -> None:
    spec = ContainerSpec(
        name="k8s_c",
        image="img:1",
        labels={"a": "b"},
        entrypoint=["sh"],
        args=["-c", "true"],
        env={"X": "1"},
        working_dir="/w",
        mounts=[Mount("/host", "/in", read_only=True)],
        cpu_quota=25_000,
        cpu_shares=256,
        memory=1 << 26,
    )
    body = create_body(spec)
    assert body["Entrypoint"] == ["sh"] and body["Cmd"] == ["-c", "true"]
    assert body["Env"] == ["X=1"] and body["WorkingDir"] == "/w" and body["Labels"] == {"a": "b"}
    host = body["HostConfig"]
    assert host["NetworkMode"] == "host" and host["Binds"] == ["/host:/in:ro"]
    assert (host["CpuQuota"], host["CpuPeriod"], host["CpuShares"]) == (25_000, 100_000, 256)
    assert host["Memory"] == host["MemorySwap"] == 1 << 26
    bare = create_body(ContainerSpec(name="n", image="i", labels={}))
    assert "Entrypoint" not in bare and "Cmd" not in bare and "Memory" not in bare["HostConfig"]
