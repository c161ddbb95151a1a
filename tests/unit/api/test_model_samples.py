"""Every kind decodes and re-encodes real-world Kubernetes JSON unchanged, with Kubernetes'
exact field names, and what kcore encodes is accepted by the official python client's models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes.client as kc
import msgspec
import pytest

from kcore.api import codec, defaults, kinds, registry

SAMPLES_DIR = Path(__file__).parent / "model_samples"


def _load_samples() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(SAMPLES_DIR.glob("*.yaml")):
        docs.extend(codec.load_yaml_documents(path.read_text()))
    return docs


SAMPLES = _load_samples()


def _sample_id(doc: dict[str, Any]) -> str:
    return f"{doc['apiVersion']}/{doc['kind']}/{doc.get('metadata', {}).get('name', '')}"


def _significant(value: Any) -> Any:
    """JSON with the zero values Kubernetes itself omits (omitempty) removed, and YAML's
    datetimes... kept as strings: what two encodings of one object must agree on."""
    if isinstance(value, dict):
        out = {k: _significant(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [_significant(v) for v in value]
    return value


@pytest.mark.parametrize("doc", SAMPLES, ids=_sample_id)
def test_sample_round_trips_through_its_struct(doc: dict[str, Any]) -> None:
    tp = codec.type_for(doc["apiVersion"], doc["kind"])
    assert tp is not None, f"no Struct for {doc['apiVersion']} {doc['kind']}"
    obj = codec.decode(tp, codec.encode(doc))
    again = msgspec.json.decode(codec.encode(obj))
    assert _significant(again) == _significant(doc)


@pytest.mark.parametrize("doc", SAMPLES, ids=_sample_id)
def test_sample_round_trips_through_msgpack(doc: dict[str, Any]) -> None:
    tp = codec.type_for(doc["apiVersion"], doc["kind"])
    obj = codec.decode(tp, codec.encode(doc))
    assert codec.decode(tp, codec.encode(obj, fmt="msgpack"), fmt="msgpack") == obj


def test_every_registered_kind_has_a_sample() -> None:
    sampled = {(d["apiVersion"], d["kind"]) for d in SAMPLES}
    missing = [
        (info.api_version, info.kind)
        for info in registry.all_resources()
        if (info.api_version, info.kind) not in sampled
    ]
    assert missing == []


def _client_model(doc: dict[str, Any]) -> Any:
    group_version = doc["apiVersion"].split("/")[-1].capitalize()
    name = f"{group_version}{doc['kind']}"
    return getattr(kc, name, None) or getattr(kc, f"CoreV1{doc['kind']}", None)


CLIENT_SAMPLES = [d for d in SAMPLES if _client_model(d) is not None]


@pytest.mark.parametrize("doc", CLIENT_SAMPLES, ids=_sample_id)
def test_python_client_accepts_what_kcore_encodes(doc: dict[str, Any]) -> None:
    """The python client's models forbid unknown fields, require some zero values and take
    quantities only as strings (the API server serves defaulted, canonical objects)."""
    tp = codec.type_for(doc["apiVersion"], doc["kind"])
    obj = defaults.apply_defaults(codec.decode(tp, codec.encode(doc)))
    encoded = msgspec.json.decode(codec.encode(obj))
    model = _client_model(doc).from_dict(encoded)
    assert model.kind == doc["kind"]


def test_python_client_accepts_zero_valued_required_fields() -> None:
    from kcore.api import apps, autoscaling, core
    from kcore.api.meta import LabelSelector

    status = core.ContainerStatus(name="c", image="i")
    status.last_state = core.ContainerState(terminated=core.ContainerStateTerminated())
    spec = core.PodSpec(containers=[core.Container(name="c", image="i")])
    pod = core.Pod(spec=spec, status=core.PodStatus(container_statuses=[status]))
    client_pod = kc.V1Pod.from_dict(msgspec.json.decode(codec.encode(pod)))
    assert client_pod.status.container_statuses[0].restart_count == 0
    assert client_pod.status.container_statuses[0].last_state.terminated.exit_code == 0
    template = core.PodTemplateSpec(spec=spec)
    sel = LabelSelector(match_labels={"a": "b"})
    ref = autoscaling.CrossVersionObjectReference(kind="Deployment", name="d")
    for obj, model in (
        (
            apps.ReplicaSet(spec=apps.ReplicaSetSpec(selector=sel, template=template)),
            kc.V1ReplicaSet,
        ),
        (apps.DaemonSet(spec=apps.DaemonSetSpec(selector=sel, template=template)), kc.V1DaemonSet),
        (
            core.ReplicationController(spec=core.ReplicationControllerSpec(template=template)),
            kc.V1ReplicationController,
        ),
        (autoscaling.Scale(), kc.V1Scale),
        (
            autoscaling.HorizontalPodAutoscaler(
                spec=autoscaling.HorizontalPodAutoscalerSpec(scale_target_ref=ref, max_replicas=3)
            ),
            kc.V1HorizontalPodAutoscaler,
        ),
        (
            autoscaling.HorizontalPodAutoscalerV2(
                spec=autoscaling.HorizontalPodAutoscalerSpecV2(scale_target_ref=ref, max_replicas=3)
            ),
            kc.V2HorizontalPodAutoscaler,
        ),
    ):
        assert model.from_dict(msgspec.json.decode(codec.encode(obj))).status is not None


def test_python_client_accepts_an_empty_endpoint_slice() -> None:
    from kcore.api import discovery

    empty = discovery.EndpointSlice(address_type="IPv4")
    encoded = msgspec.json.decode(codec.encode(empty))
    assert encoded["endpoints"] == []
    assert kc.V1EndpointSlice.from_dict(encoded).endpoints == []


def test_python_client_objects_decode_into_kcore_structs() -> None:
    """What the python client sends (sanitize_for_serialization) decodes and round-trips."""
    pod = kc.V1Pod(
        metadata=kc.V1ObjectMeta(name="p", labels={"a": "b"}),
        spec=kc.V1PodSpec(
            containers=[
                kc.V1Container(
                    name="c",
                    image="busybox",
                    ports=[kc.V1ContainerPort(container_port=80, host_ip="127.0.0.1")],
                    resources=kc.V1ResourceRequirements(limits={"cpu": "1"}),
                )
            ],
            host_ipc=True,
            security_context=kc.V1PodSecurityContext(fs_group=2000, run_as_user=1000),
        ),
    )
    sent = kc.ApiClient().sanitize_for_serialization(pod)
    obj = codec.from_dict(kinds.PODS.type, sent)
    assert obj.spec.host_ipc is True
    assert obj.spec.containers[0].ports[0].host_ip == "127.0.0.1"
    assert _significant(codec.to_dict(obj)) == _significant(
        {"kind": "Pod", "apiVersion": "v1", **sent}
    )


def _struct_classes() -> list[type[Any]]:
    from kcore.api import (
        apps,
        autoscaling,
        batch,
        coordination,
        core,
        discovery,
        meta,
        policy,
        scheduling,
    )

    modules = (core, apps, batch, coordination, discovery, scheduling, policy, meta, autoscaling)
    return [
        cls
        for module in modules
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, msgspec.Struct)
        and cls.__module__ == module.__name__
    ]


_CORE_PREFIXED = {"Event", "EventSeries", "EventList", "EndpointPort"}
_AUTOSCALING_V1 = {"Scale", "ScaleSpec", "ScaleStatus", "CrossVersionObjectReference"}


def _client_class(cls: type[Any]) -> Any:
    """The python client's model for a kcore Struct (same OpenAPI definition name)."""
    name, module = cls.__name__, cls.__module__
    if module == "kcore.api.autoscaling":
        v1 = name in _AUTOSCALING_V1 or (
            name.startswith("HorizontalPodAutoscaler")
            and (not name.endswith("V2"))
            and "Behavior" not in name
            and "Condition" not in name
        )
        return getattr(kc, ("V1" if v1 else "V2") + name.removesuffix("V2"), None)
    if module == "kcore.api.discovery":
        return getattr(kc, f"DiscoveryV1{name}", None) or getattr(kc, f"V1{name}", None)
    if module == "kcore.api.core" and name in _CORE_PREFIXED:
        return getattr(kc, f"CoreV1{name}", None)
    return getattr(kc, f"V1{name}", None)


def test_every_field_name_is_a_kubernetes_field_name() -> None:
    """Each Struct's fields are exactly the fields the Kubernetes OpenAPI schema (as generated
    into the python client) has for that type: catches podIp/imageId-style misspellings."""
    wrong: list[str] = []
    missing: list[str] = []
    compared = 0
    for cls in _struct_classes():
        model = _client_class(cls)
        if model is None or not hasattr(model, "model_fields"):
            continue
        compared += 1
        known = {f.serialization_alias or name for name, f in model.model_fields.items()}
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        mine = {f.encode_name for f in info.fields}
        wrong += [f"{cls.__name__}.{name}" for name in sorted(mine - known)]
        missing += [f"{cls.__name__}.{name}" for name in sorted(known - mine)]
    assert compared > 150
    assert wrong == []
    # and no field a client may send is dropped (or rejected under fieldValidation=Strict)
    assert missing == []


@pytest.mark.parametrize(
    ("attr", "name"),
    [
        ("pod_ip", "podIP"),
        ("pod_ips", "podIPs"),
        ("host_ips", "hostIPs"),
        ("cluster_ip", "clusterIP"),
        ("external_ips", "externalIPs"),
        ("load_balancer_ip", "loadBalancerIP"),
        ("image_id", "imageID"),
        ("container_id", "containerID"),
        ("pod_cidrs", "podCIDRs"),
        ("system_uuid", "systemUUID"),
        ("boot_id", "bootID"),
        ("host_pid", "hostPID"),
        ("host_ipc", "hostIPC"),
        ("target_cpu_utilization_percentage", "targetCPUUtilizationPercentage"),
        ("fs_group", "fsGroup"),
        ("run_as_user", "runAsUser"),
        ("api_version", "apiVersion"),
        ("uid", "uid"),
        ("ip_families", "ipFamilies"),
    ],
)
def test_acronym_field_names(attr: str, name: str) -> None:
    from kcore.api.meta import k8s_name

    assert k8s_name(attr) == name
