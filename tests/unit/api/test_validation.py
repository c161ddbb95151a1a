"""kcore.api.validation: field paths, reasons and messages as the Kubernetes API server gives
them, for create and update of every kind."""

from __future__ import annotations

from typing import Any

import pytest

from kcore.api import (
    apps,
    autoscaling,
    batch,
    codec,
    coordination,
    core,
    defaults,
    discovery,
    policy,
    scheduling,
    validation,
)
from kcore.api.errors import Cause
from kcore.api.meta import LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _meta(name: str = "x", namespace: str = "default", **kw: Any) -> ObjectMeta:
    return ObjectMeta(name=name, namespace=namespace, **kw)


def _container(name: str = "c", image: str = "nginx:1", **kw: Any) -> core.Container:
    return core.Container(name=name, image=image, **kw)


def _pod(*containers: core.Container, **spec: Any) -> core.Pod:
    pod_spec = core.PodSpec(containers=list(containers) or [_container()], **spec)
    return defaults.apply_defaults(core.Pod(metadata=_meta(), spec=pod_spec))


def _fields(causes: list[Cause]) -> list[str]:
    return [c.field for c in causes]


def _one(causes: list[Cause]) -> Cause:
    assert len(causes) == 1, causes
    return causes[0]


def test_a_valid_pod_has_no_causes() -> None:
    assert validation.validate(_pod()) == []


def test_every_real_world_sample_is_valid() -> None:
    from pathlib import Path

    failures = {}
    for path in sorted((Path(__file__).parent / "model_samples").glob("*.yaml")):
        for doc in codec.load_yaml_documents(path.read_text()):
            tp = codec.type_for(doc["apiVersion"], doc["kind"])
            if tp is None or not isinstance(getattr(tp(), "metadata", None), ObjectMeta):
                continue
            obj = defaults.apply_defaults(codec.from_dict(tp, doc))
            if obj.metadata.namespace == "" and doc["kind"] not in (
                "Node",
                "Namespace",
                "PriorityClass",
                "NodeMetrics",
            ):
                obj.metadata.namespace = "default"
            causes = validation.validate(obj)
            if causes:
                failures[f"{doc['kind']}/{obj.metadata.name}"] = causes
    assert failures == {}


def test_invalid_name_message() -> None:
    pod = _pod()
    pod.metadata.name = "Foo"
    cause = _one(validation.validate(pod))
    assert cause.field == "metadata.name" and cause.reason == "FieldValueInvalid"
    assert cause.message == f'Invalid value: "Foo": {SUBDOMAIN_MESSAGE}'


def test_name_or_generate_name_is_required() -> None:
    pod = _pod()
    pod.metadata.name = ""
    cause = _one(validation.validate(pod))
    assert (cause.field, cause.reason) == ("metadata.name", "FieldValueRequired")
    assert cause.message == "Required value: name or generateName is required"
    pod.metadata.generate_name = "web-"
    assert validation.validate(pod) == []
    pod.metadata.generate_name = "Web-"
    assert _fields(validation.validate(pod)) == ["metadata.generateName"]


def test_namespace_rules_follow_scope() -> None:
    pod = _pod()
    pod.metadata.namespace = ""
    assert _one(validation.validate(pod)).message == "Required value"
    node = core.Node(metadata=ObjectMeta(name="n", namespace="default"))
    cause = _one(validation.validate(node))
    assert (cause.field, cause.message) == (
        "metadata.namespace",
        "Forbidden: not allowed on this type",
    )


def test_namespace_and_service_names_are_labels() -> None:
    ns = core.Namespace(metadata=ObjectMeta(name="a.b"))
    assert _fields(validation.validate(ns)) == ["metadata.name"]
    svc = defaults.apply_defaults(
        core.Service(
            metadata=_meta("1web"), spec=core.ServiceSpec(ports=[core.ServicePort(port=80)])
        )
    )
    cause = _one(validation.validate(svc))
    assert cause.field == "metadata.name" and "DNS-1035 label" in cause.message


def test_labels_and_annotations_are_checked() -> None:
    pod = _pod()
    pod.metadata.labels = {"bad key!": "v", "ok": "-bad-value"}
    pod.metadata.annotations = {"a": "x" * (256 * 1024)}
    causes = validation.validate(pod)
    assert _fields(causes) == ["metadata.labels", "metadata.labels", "metadata.annotations"]
    assert causes[-1].reason == "FieldValueTooLong"


def test_owner_references_need_identity_and_one_controller() -> None:
    pod = _pod()
    ref = OwnerReference(
        api_version="apps/v1", kind="ReplicaSet", name="a", uid="1", controller=True
    )
    other = OwnerReference(
        api_version="apps/v1", kind="ReplicaSet", name="b", uid="2", controller=True
    )
    pod.metadata.owner_references = [ref, other, OwnerReference()]
    causes = validation.validate(pod)
    assert _fields(causes) == [
        "metadata.ownerReferences[2].apiVersion",
        "metadata.ownerReferences[2].kind",
        "metadata.ownerReferences[2].name",
        "metadata.ownerReferences[2].uid",
        "metadata.ownerReferences",
    ]
    assert causes[-1].message.endswith(
        'Only one reference can have Controller set to true. Found "true" in references for '
        "ReplicaSet/a and ReplicaSet/b"
    )


def test_finalizers_must_be_qualified_or_standard() -> None:
    pod = _pod()
    pod.metadata.finalizers = ["kubernetes", "example.com/x", "custom"]
    cause = _one(validation.validate(pod))
    assert cause.field == "metadata.finalizers[2]"
    assert "neither a standard finalizer name nor is it fully qualified" in cause.message


def test_container_rules() -> None:
    pod = _pod(
        _container(image=""),
        _container(ports=[core.ContainerPort(container_port=70000)]),
        _container(name="Bad_Name"),
    )
    causes = validation.validate(pod)
    by_field = {c.field: c for c in causes}
    assert by_field["spec.containers[0].image"].message == "Required value"
    assert by_field["spec.containers[1].name"].message == 'Duplicate value: "c"'
    assert by_field["spec.containers[1].name"].reason == "FieldValueDuplicate"
    assert by_field["spec.containers[1].ports[0].containerPort"].message == (
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    )
    assert "spec.containers[2].name" in by_field


def test_host_network_ports_must_match() -> None:
    port = core.ContainerPort(container_port=80, host_port=8080)
    cause = _one(validation.validate(_pod(_container(ports=[port]), host_network=True)))
    assert (cause.field, cause.message) == (
        "spec.containers[0].ports[0].hostPort",
        "Invalid value: 8080: must match `containerPort` when `hostNetwork` is true",
    )
    assert validation.validate(_pod(_container(ports=[port]))) == []


def test_init_and_app_container_names_share_one_namespace() -> None:
    pod = _pod(init_containers=[_container()])
    assert _fields(validation.validate(pod)) == ["spec.containers[0].name"]


def test_requests_may_not_exceed_limits() -> None:
    resources = core.ResourceRequirements(limits={"cpu": "1"}, requests={"cpu": "2"})
    cause = _one(validation.validate(_pod(_container(resources=resources))))
    assert cause.field == "spec.containers[0].resources.requests[cpu]"
    assert cause.message == 'Invalid value: "2": must be less than or equal to cpu limit of 1'


def test_bad_quantities_are_invalid() -> None:
    resources = core.ResourceRequirements(limits={"memory": "1Kb"})
    pod = _pod(_container(resources=resources))
    causes = validation.validate(pod)
    assert "spec.containers[0].resources.limits[memory]" in _fields(causes)


def test_probe_needs_exactly_one_handler() -> None:
    none = _container(liveness_probe=core.Probe())
    both = _container(
        name="d",
        readiness_probe=core.Probe(
            exec=core.ExecAction(command=["true"]), tcp_socket=core.TCPSocketAction(port=80)
        ),
    )
    causes = validation.validate(_pod(none, both))
    assert [(c.field, c.message) for c in causes] == [
        ("spec.containers[0].livenessProbe", "Required value: must specify a handler type"),
        (
            "spec.containers[1].readinessProbe.tcpSocket",
            "Forbidden: may not specify more than 1 handler type",
        ),
    ]


def test_liveness_success_threshold_must_be_one() -> None:
    probe = core.Probe(exec=core.ExecAction(command=["x"]), success_threshold=2)
    cause = _one(validation.validate(_pod(_container(liveness_probe=probe))))
    assert (cause.field, cause.message) == (
        "spec.containers[0].livenessProbe.successThreshold",
        "Invalid value: 2: must be 1",
    )


def test_enums_are_not_supported_values() -> None:
    pod = _pod()
    pod.spec.restart_policy = "Sometimes"
    cause = _one(validation.validate(pod))
    assert cause.reason == "FieldValueNotSupported"
    assert cause.message == (
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'
    )


def test_volume_mounts_must_name_a_volume() -> None:
    mount = core.VolumeMount(name="data", mount_path="/data")
    cause = _one(validation.validate(_pod(_container(volume_mounts=[mount]))))
    assert (cause.field, cause.message, cause.reason) == (
        "spec.containers[0].volumeMounts[0].name",
        'Not found: "data"',
        "FieldValueNotFound",
    )


def test_volumes_unique_with_one_source() -> None:
    vols = [
        core.Volume(name="a", empty_dir=core.EmptyDirVolumeSource()),
        core.Volume(
            name="a",
            empty_dir=core.EmptyDirVolumeSource(),
            host_path=core.HostPathVolumeSource(path="/x"),
        ),
    ]
    causes = validation.validate(_pod(volumes=vols))
    assert _fields(causes) == ["spec.volumes[1].name", "spec.volumes[1].hostPath"]


def test_env_names_and_sources() -> None:
    env = [
        core.EnvVar(name="1BAD"),
        core.EnvVar(
            name="OK",
            value="v",
            value_from=core.EnvVarSource(
                field_ref=core.ObjectFieldSelector(field_path="metadata.name")
            ),
        ),
    ]
    causes = validation.validate(_pod(_container(env=env)))
    assert _fields(causes) == [
        "spec.containers[0].env[0].name",
        "spec.containers[0].env[1].valueFrom",
    ]


def test_tolerations_and_affinity() -> None:
    tolerations = [
        core.Toleration(key="k", operator="Exists", value="v"),
        core.Toleration(
            key="k", operator="Equal", value="v", effect="NoSchedule", toleration_seconds=5
        ),
    ]
    term = core.NodeSelectorTerm(
        match_expressions=[core.NodeSelectorRequirement(key="k", operator="In")]
    )
    affinity = core.Affinity(
        node_affinity=core.NodeAffinity(
            preferred_during_scheduling_ignored_during_execution=[
                core.PreferredSchedulingTerm(weight=0, preference=term)
            ]
        ),
        pod_anti_affinity=core.PodAntiAffinity(
            required_during_scheduling_ignored_during_execution=[core.PodAffinityTerm()]
        ),
    )
    causes = validation.validate(_pod(tolerations=tolerations, affinity=affinity))
    prefix = "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
    assert _fields(causes) == [
        "spec.tolerations[0].operator",
        "spec.tolerations[1].effect",
        f"{prefix}.weight",
        f"{prefix}.preference.matchExpressions[0].values",
        "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
    ]


def test_pod_update_may_change_only_mutable_fields() -> None:
    old = _pod(active_deadline_seconds=100)
    old.metadata.uid = "u"
    new = codec.deep_copy(old)
    new.spec.containers[0].image = "nginx:2"
    new.spec.active_deadline_seconds = 50
    new.spec.tolerations = [core.Toleration(key="k", operator="Exists")]
    new.metadata.labels = {"a": "b"}
    assert validation.validate(new, old=old) == []
    new.spec.containers[0].command = ["sh"]
    cause = _one(validation.validate(new, old=old))
    assert cause.field == "spec" and cause.reason == "FieldValueForbidden"
    assert cause.message.startswith("Forbidden: pod updates may not change fields other than")


def test_scheduling_gates_may_only_be_removed() -> None:
    gates = [core.PodSchedulingGate(name="example.com/a"), core.PodSchedulingGate(name="b.io/c")]
    old = _pod(scheduling_gates=gates)
    removed = codec.deep_copy(old)
    removed.spec.scheduling_gates = gates[1:]
    assert validation.validate(removed, old=old) == []
    added = codec.deep_copy(removed)
    added.spec.scheduling_gates = gates
    assert _fields(validation.validate(added, old=removed)) == ["spec"]


def test_node_name_may_be_set_once() -> None:
    old = _pod()
    bound = codec.deep_copy(old)
    bound.spec.node_name = "node-1"
    assert validation.validate(bound, old=old) == []
    moved = codec.deep_copy(bound)
    moved.spec.node_name = "node-2"
    assert _fields(validation.validate(moved, old=bound)) == ["spec"]


def test_pod_status_fields_are_well_formed() -> None:
    pod = _pod()
    pod.status.pod_ips = [core.PodIP(ip="127.64.0.5"), core.PodIP(ip="nope")]
    pod.status.nominated_node_name = "Node_1"
    pod.status.conditions = [core.PodCondition(type="Ready", status="True")]
    assert _fields(validation.validate(pod)) == ["status.podIPs[1]", "status.nominatedNodeName"]


@pytest.mark.parametrize(("policy", "exit_code", "allowed"), [
    ("Never", 1, False), ("OnFailure", 0, False), ("OnFailure", 1, True), ("Always", 0, True),
])  # fmt: skip
def test_terminated_containers_stay_terminated(policy: str, exit_code: int, allowed: bool) -> None:
    old = _pod(restart_policy=policy)
    ended = core.ContainerStateTerminated(exit_code=exit_code, started_at=None, finished_at=None)
    old.status.container_statuses = [
        core.ContainerStatus(name="c", state=core.ContainerState(terminated=ended))
    ]
    new = codec.deep_copy(old)
    running = core.ContainerStateRunning(started_at="2024-01-01T00:00:00Z")
    new.status.container_statuses[0].state = core.ContainerState(running=running)
    causes = validation.validate(new, old=old)
    if allowed:
        assert causes == []
    else:
        assert [(c.field, c.message) for c in causes] == [
            (
                "status.containerStatuses[0].state",
                "Forbidden: may not be transitioned to non-terminated state",
            )
        ]


def test_active_deadline_may_only_shrink() -> None:
    old = _pod(active_deadline_seconds=100)
    new = codec.deep_copy(old)
    new.spec.active_deadline_seconds = 200
    assert _fields(validation.validate(new, old=old)) == ["spec.activeDeadlineSeconds"]
    zero = _pod(active_deadline_seconds=0)
    assert _one(validation.validate(zero)).message == (
        "Invalid value: 0: must be between 1 and 2147483647, inclusive"
    )


def test_identity_is_immutable_on_update() -> None:
    old = _pod()
    old.metadata.uid = "u1"
    new = codec.deep_copy(old)
    new.metadata.uid = "u2"
    new.metadata.name = "y"
    causes = validation.validate(new, old=old)
    assert [(c.field, c.message) for c in causes] == [
        ("metadata.name", 'Invalid value: "y": field is immutable'),
        ("metadata.uid", 'Invalid value: "u2": field is immutable'),
    ]


def _service(**spec: Any) -> core.Service:
    spec.setdefault("ports", [core.ServicePort(port=80)])
    svc = core.Service(metadata=_meta("web"), spec=core.ServiceSpec(**spec))
    return defaults.apply_defaults(svc)


def test_service_rules() -> None:
    assert validation.validate(_service()) == []
    ports = [core.ServicePort(port=80), core.ServicePort(name="a", port=80, node_port=80)]
    causes = validation.validate(_service(ports=ports))
    assert _fields(causes) == [
        "spec.ports[0].name",
        "spec.ports[1]",
        "spec.ports[1].nodePort",
    ]
    assert causes[0].message == "Required value"
    assert causes[2].message == "Forbidden: may not be used when `type` is 'ClusterIP'"


def test_node_port_range() -> None:
    svc = _service(type="NodePort", ports=[core.ServicePort(port=80, node_port=80)])
    cause = _one(validation.validate(svc))
    assert cause.message == (
        "Invalid value: 80: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767"
    )


def test_service_needs_ports_unless_headless_or_external_name() -> None:
    assert _fields(validation.validate(_service(ports=[]))) == ["spec.ports"]
    assert validation.validate(_service(ports=[], cluster_ip="None")) == []
    external = _service(ports=[], type="ExternalName", external_name="db.example.com")
    assert validation.validate(external) == []


def test_cluster_ip_is_immutable_and_valid() -> None:
    old = _service(cluster_ip="127.32.0.10")
    new = codec.deep_copy(old)
    new.spec.cluster_ip = "127.32.0.11"
    assert _one(validation.validate(new, old=old)).message == (
        'Invalid value: "127.32.0.11": field is immutable'
    )
    assert _fields(validation.validate(_service(cluster_ip="nope"))) == ["spec.clusterIP"]
    unset = codec.deep_copy(old)
    unset.spec.cluster_ip = ""
    assert validation.validate(unset, old=old) == []


def _template(restart: str = "Always", **labels: str) -> core.PodTemplateSpec:
    spec = core.PodSpec(containers=[_container()], restart_policy=restart)
    return core.PodTemplateSpec(metadata=ObjectMeta(labels=labels or {"app": "web"}), spec=spec)


def _deployment(**spec: Any) -> apps.Deployment:
    spec.setdefault("selector", LabelSelector(match_labels={"app": "web"}))
    spec.setdefault("template", _template())
    dep = apps.Deployment(metadata=_meta("web"), spec=apps.DeploymentSpec(**spec))
    return defaults.apply_defaults(dep)


def test_deployment_rules() -> None:
    assert validation.validate(_deployment()) == []
    dep = _deployment(replicas=-1, template=_template(app="other"))
    causes = validation.validate(dep)
    assert [(c.field, c.message) for c in causes] == [
        ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0"),
        (
            "spec.template.metadata.labels",
            'Invalid value: map[string]string{"app":"other"}: '
            "`selector` does not match template `labels`",
        ),
    ]


def test_deployment_selector_required_and_template_restart_policy() -> None:
    dep = _deployment(selector=None, template=_template(restart="Never"))
    causes = validation.validate(dep)
    assert [(c.field, c.message) for c in causes] == [
        ("spec.selector", "Required value"),
        (
            "spec.template.spec.restartPolicy",
            'Unsupported value: "Never": supported values: "Always"',
        ),
    ]


def test_deployment_rolling_update_bounds() -> None:
    rolling = apps.RollingUpdateDeployment(max_unavailable=0, max_surge="0%")
    dep = _deployment(
        strategy=apps.DeploymentStrategy(type="RollingUpdate", rolling_update=rolling)
    )
    cause = _one(validation.validate(dep))
    assert (cause.field, cause.message) == (
        "spec.strategy.rollingUpdate.maxUnavailable",
        "Invalid value: 0: may not be 0 when `maxSurge` is 0",
    )
    rolling = apps.RollingUpdateDeployment(max_unavailable="150%", max_surge="x")
    dep = _deployment(
        strategy=apps.DeploymentStrategy(type="RollingUpdate", rolling_update=rolling)
    )
    assert _fields(validation.validate(dep)) == [
        "spec.strategy.rollingUpdate.maxUnavailable",
        "spec.strategy.rollingUpdate.maxSurge",
    ]


def test_deployment_selector_is_immutable() -> None:
    old = _deployment()
    new = codec.deep_copy(old)
    new.spec.selector = LabelSelector(match_labels={"app": "web", "tier": "x"})
    new.spec.template.metadata.labels["tier"] = "x"
    assert _fields(validation.validate(new, old=old)) == ["spec.selector"]


def test_label_selector_operators() -> None:
    selector = LabelSelector(
        match_expressions=[
            LabelSelectorRequirement(key="a", operator="In"),
            LabelSelectorRequirement(key="b", operator="Exists", values=["x"]),
            LabelSelectorRequirement(key="c", operator="Near"),
        ]
    )
    causes = validation.validate_label_selector(selector, "spec.selector")
    assert [(c.field, c.reason) for c in causes] == [
        ("spec.selector.matchExpressions[0].values", "FieldValueRequired"),
        ("spec.selector.matchExpressions[1].values", "FieldValueForbidden"),
        ("spec.selector.matchExpressions[2].operator", "FieldValueInvalid"),
    ]


def test_replica_set_replication_controller_and_daemon_set() -> None:
    rs = defaults.apply_defaults(
        apps.ReplicaSet(
            metadata=_meta(),
            spec=apps.ReplicaSetSpec(
                selector=LabelSelector(match_labels={"app": "db"}), template=_template()
            ),
        )
    )
    assert _fields(validation.validate(rs)) == ["spec.template.metadata.labels"]
    rc = defaults.apply_defaults(
        core.ReplicationController(
            metadata=_meta(), spec=core.ReplicationControllerSpec(template=_template())
        )
    )
    assert validation.validate(rc) == [] and rc.spec.selector == {"app": "web"}
    ds = defaults.apply_defaults(
        apps.DaemonSet(
            metadata=_meta(),
            spec=apps.DaemonSetSpec(
                selector=LabelSelector(match_labels={"app": "web"}),
                template=_template(),
                update_strategy=apps.DaemonSetUpdateStrategy(type="Sometimes"),
            ),
        )
    )
    assert _fields(validation.validate(ds)) == ["spec.updateStrategy.type"]


def test_job_rules() -> None:
    job = defaults.apply_defaults(
        batch.Job(
            metadata=_meta(),
            spec=batch.JobSpec(template=_template(restart="Never"), parallelism=-1),
        )
    )
    assert _fields(validation.validate(job)) == ["spec.parallelism"]
    always = defaults.apply_defaults(
        batch.Job(metadata=_meta(), spec=batch.JobSpec(template=_template()))
    )
    cause = _one(validation.validate(always))
    assert cause.field == "spec.template.spec.restartPolicy"
    assert cause.message == 'Unsupported value: "Always": supported values: "OnFailure", "Never"'


def test_job_update_immutables() -> None:
    old = defaults.generate_job_selector(
        defaults.apply_defaults(
            batch.Job(
                metadata=_meta(uid="u"), spec=batch.JobSpec(template=_template(restart="Never"))
            )
        )
    )
    new = codec.deep_copy(old)
    new.spec.completions = 5
    new.spec.template.spec.containers[0].image = "other"
    assert _fields(validation.validate(new, old=old)) == ["spec.completions", "spec.template"]
    scaled = codec.deep_copy(old)
    scaled.spec.parallelism = 4
    assert validation.validate(scaled, old=old) == []


def test_lease_durations() -> None:
    lease = coordination.Lease(
        metadata=_meta(),
        spec=coordination.LeaseSpec(
            holder_identity="n", lease_duration_seconds=0, lease_transitions=-1
        ),
    )
    causes = validation.validate(lease)
    assert [(c.field, c.message) for c in causes] == [
        ("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0"),
        ("spec.leaseTransitions", "Invalid value: -1: must be greater than or equal to 0"),
    ]


def test_hpa_min_max() -> None:
    ref = autoscaling.CrossVersionObjectReference(kind="Deployment", name="web")
    hpa = autoscaling.HorizontalPodAutoscaler(
        metadata=_meta(),
        spec=autoscaling.HorizontalPodAutoscalerSpec(
            scale_target_ref=ref, min_replicas=5, max_replicas=2
        ),
    )
    cause = _one(validation.validate(hpa))
    assert (cause.field, cause.message) == (
        "spec.maxReplicas",
        "Invalid value: 2: must be greater than or equal to `minReplicas`",
    )
    v2 = defaults.apply_defaults(
        autoscaling.HorizontalPodAutoscalerV2(
            metadata=_meta(),
            spec=autoscaling.HorizontalPodAutoscalerSpecV2(
                min_replicas=0, max_replicas=3, metrics=[autoscaling.MetricSpec(type="Pods")]
            ),
        )
    )
    assert _fields(validation.validate(v2)) == [
        "spec.minReplicas",
        "spec.scaleTargetRef.kind",
        "spec.scaleTargetRef.name",
        "spec.metrics[0].pods",
    ]


def test_config_map_and_secret() -> None:
    cm = core.ConfigMap(
        metadata=_meta(), data={"bad/key": "v", "k": "v"}, binary_data={"k": "AA=="}
    )
    assert _fields(validation.validate(cm)) == ["data[bad/key]", "data[k]"]
    secret = defaults.apply_defaults(core.Secret(metadata=_meta(), data={"k": "not base64!"}))
    assert _fields(validation.validate(secret)) == ["data[k]"]


@pytest.mark.parametrize(
    ("secret_type", "data", "annotations", "missing"),
    [
        ("kubernetes.io/tls", {"tls.crt": "YQ=="}, {}, ["data[tls.key]"]),
        ("kubernetes.io/dockerconfigjson", {}, {}, ["data[.dockerconfigjson]"]),
        ("kubernetes.io/ssh-auth", {}, {}, ["data[ssh-privatekey]"]),
        ("kubernetes.io/basic-auth", {}, {}, ["data[username]"]),
        ("kubernetes.io/basic-auth", {"password": "YQ=="}, {}, []),
        (
            "kubernetes.io/service-account-token",
            {},
            {},
            ["metadata.annotations[kubernetes.io/service-account.name]"],
        ),
        (
            "kubernetes.io/service-account-token",
            {},
            {"kubernetes.io/service-account.name": "sa"},
            [],
        ),
        ("example.com/custom", {}, {}, []),
    ],
)
def test_typed_secrets_need_their_keys(
    secret_type: str, data: dict[str, str], annotations: dict[str, str], missing: list[str]
) -> None:
    secret = core.Secret(metadata=_meta(annotations=annotations), type=secret_type, data=data)
    causes = validation.validate(secret)
    assert [(c.field, c.reason) for c in causes] == [(m, "FieldValueRequired") for m in missing]


def test_namespace_finalizers_are_qualified_names() -> None:
    ns = core.Namespace(
        metadata=ObjectMeta(name="a"),
        spec=core.NamespaceSpec(finalizers=["kubernetes", "bad name"]),
    )
    assert _fields(validation.validate(ns)) == ["spec.finalizers[1]"]


def test_immutable_config_map() -> None:
    old = core.ConfigMap(metadata=_meta(), data={"a": "1"}, immutable=True)
    new = codec.deep_copy(old)
    new.data = {"a": "2"}
    cause = _one(validation.validate(new, old=old))
    assert (cause.field, cause.message) == (
        "data",
        "Forbidden: field is immutable when `immutable` is set",
    )


def test_node_taints_and_pod_cidr() -> None:
    node = core.Node(
        metadata=ObjectMeta(name="n"),
        spec=core.NodeSpec(pod_cidr="nope", taints=[core.Taint(key="k", effect="Sometimes")]),
    )
    assert _fields(validation.validate(node)) == ["spec.taints[0].effect", "spec.podCIDRs[0]"]
    old = core.Node(metadata=ObjectMeta(name="n"), spec=core.NodeSpec(pod_cidr="127.64.1.0/24"))
    new = codec.deep_copy(old)
    new.spec.pod_cidr = "127.64.2.0/24"
    assert _fields(validation.validate(new, old=old)) == ["spec.podCIDRs"]


def test_priority_class_bounds_and_immutability() -> None:
    pc = scheduling.PriorityClass(metadata=ObjectMeta(name="huge"), value=2_000_000_000)
    assert _fields(validation.validate(pc)) == ["value"]
    old = scheduling.PriorityClass(metadata=ObjectMeta(name="p"), value=1)
    new = scheduling.PriorityClass(metadata=ObjectMeta(name="p"), value=2)
    cause = _one(validation.validate(new, old=old))
    assert (cause.field, cause.message) == ("value", "Forbidden: may not be changed in an update.")


def test_endpoints_slices_events_bindings_pdbs() -> None:
    ep = core.Endpoints(
        metadata=_meta(),
        subsets=[
            core.EndpointSubset(
                addresses=[core.EndpointAddress(ip="x")],
                ports=[core.EndpointPort(port=0, protocol="TCP")],
            )
        ],
    )
    assert _fields(validation.validate(ep)) == [
        "subsets[0].addresses[0].ip",
        "subsets[0].ports[0].port",
    ]
    es = discovery.EndpointSlice(metadata=_meta(), address_type="IPv5")
    assert _fields(validation.validate(es)) == ["addressType"]
    event = core.Event(
        metadata=_meta(), type="Odd", involved_object=core.ObjectReference(namespace="other")
    )
    assert _fields(validation.validate(event)) == ["involvedObject.namespace", "type"]
    binding = core.Binding(metadata=_meta())
    assert _fields(validation.validate(binding)) == ["target.name"]
    pdb = policy.PodDisruptionBudget(
        metadata=_meta(),
        spec=policy.PodDisruptionBudgetSpec(min_available=1, max_unavailable="10%"),
    )
    assert _fields(validation.validate(pdb)) == ["spec"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("s", '"s"'), (3, "3"), (True, "true"), ({"a": "b"}, 'map[string]string{"a":"b"}')],
)
def test_value_formatting(value: Any, expected: str) -> None:
    assert validation.fmt(value) == expected
