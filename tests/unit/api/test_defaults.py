"""kcore.api.defaults: Kubernetes' defaulters per kind, on a copy of the input."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kcore.api import apps, autoscaling, batch, codec, core, defaults, discovery, scheduling
from kcore.api.meta import LabelSelector, ObjectMeta


def _pod(**container: Any) -> core.Pod:
    container.setdefault("image", "nginx")
    spec = core.PodSpec(containers=[core.Container(name="c", **container)])
    return core.Pod(metadata=ObjectMeta(name="p", namespace="default"), spec=spec)


def test_pod_spec_defaults() -> None:
    spec = defaults.apply_defaults(_pod()).spec
    assert spec.restart_policy == "Always"
    assert spec.dns_policy == "ClusterFirst"
    assert spec.scheduler_name == "default-scheduler"
    assert spec.termination_grace_period_seconds == 30
    assert spec.enable_service_links is True
    assert spec.security_context == core.PodSecurityContext()
    assert spec.service_account_name == ""  # admission's job, see default_service_account


def test_defaults_never_touch_the_input() -> None:
    pod = _pod()
    before = codec.encode(pod)
    defaulted = defaults.apply_defaults(pod)
    assert codec.encode(pod) == before
    assert defaulted is not pod and defaulted.spec.restart_policy == "Always"


def test_explicit_values_are_kept() -> None:
    pod = _pod(image_pull_policy="Never", termination_message_policy="FallbackToLogsOnError")
    pod.spec.restart_policy = "Never"
    pod.spec.termination_grace_period_seconds = 0
    spec = defaults.apply_defaults(pod).spec
    assert spec.restart_policy == "Never"
    assert spec.termination_grace_period_seconds == 0
    assert spec.containers[0].image_pull_policy == "Never"
    assert spec.containers[0].termination_message_policy == "FallbackToLogsOnError"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/nginx", "Always"),
        ("localhost:5000/nginx:1", "IfNotPresent"),
        ("nginx@sha256:abcd", "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    pod = defaults.apply_defaults(_pod(image=image))
    assert pod.spec.containers[0].image_pull_policy == policy


def test_container_defaults() -> None:
    probe = core.Probe(http_get=core.HTTPGetAction(port=80))
    ports = [core.ContainerPort(container_port=80)]
    c = defaults.apply_defaults(_pod(ports=ports, liveness_probe=probe)).spec.containers[0]
    assert c.termination_message_path == "/dev/termination-log"
    assert c.termination_message_policy == "File"
    assert c.ports[0].protocol == "TCP" and c.ports[0].host_port is None
    live = c.liveness_probe
    assert live is not None and live.http_get is not None
    assert (live.timeout_seconds, live.period_seconds) == (1, 10)
    assert (live.success_threshold, live.failure_threshold) == (1, 3)
    assert (live.http_get.path, live.http_get.scheme) == ("/", "HTTP")


def test_host_network_copies_container_ports_to_host_ports() -> None:
    pod = _pod(ports=[core.ContainerPort(container_port=8080)])
    pod.spec.host_network = True
    assert defaults.apply_defaults(pod).spec.containers[0].ports[0].host_port == 8080


def test_requests_default_to_limits_and_quantities_are_canonical() -> None:
    resources = core.ResourceRequirements(
        limits={"cpu": 0.5, "memory": "1024Mi"}, requests={"memory": 134217728}
    )
    pod = defaults.apply_defaults(_pod(resources=resources))
    res = pod.spec.containers[0].resources
    assert res.limits == {"cpu": "500m", "memory": "1Gi"}
    assert res.requests == {"cpu": "500m", "memory": "134217728"}
    assert pod.status.qos_class == "Burstable"


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        (core.ResourceRequirements(), "BestEffort"),
        (core.ResourceRequirements(limits={"cpu": "1", "memory": "1Gi"}), "Guaranteed"),
        (core.ResourceRequirements(requests={"cpu": "1"}), "Burstable"),
        (
            core.ResourceRequirements(
                limits={"cpu": "1", "memory": "1Gi"}, requests={"cpu": "1000m", "memory": "1Gi"}
            ),
            "Guaranteed",
        ),
    ],
)
def test_qos_class(resources: core.ResourceRequirements, qos: str) -> None:
    pod = defaults.apply_defaults(_pod(resources=resources))
    assert pod.status.qos_class == qos and pod.status.phase == "Pending"


def test_volume_defaults() -> None:
    pod = _pod()
    projected = core.ProjectedVolumeSource(
        sources=[
            core.VolumeProjection(
                service_account_token=core.ServiceAccountTokenProjection(path="t")
            )
        ]
    )
    pod.spec.volumes = [
        core.Volume(name="bare"),
        core.Volume(name="cm", config_map=core.ConfigMapVolumeSource(name="x")),
        core.Volume(name="s", secret=core.SecretVolumeSource(secret_name="x", default_mode=0o400)),
        core.Volume(name="p", projected=projected),
        core.Volume(name="h", host_path=core.HostPathVolumeSource(path="/tmp")),
    ]
    bare, cm, secret, proj, host = defaults.apply_defaults(pod).spec.volumes
    assert bare.empty_dir == core.EmptyDirVolumeSource()
    assert cm.config_map is not None and cm.config_map.default_mode == 420
    assert secret.secret is not None and secret.secret.default_mode == 0o400
    assert proj.projected is not None and proj.projected.default_mode == 420
    token = proj.projected.sources[0].service_account_token
    assert token is not None and token.expiration_seconds == 3600
    assert host.host_path is not None and host.host_path.type == ""


def test_env_field_ref_api_version() -> None:
    source = core.EnvVarSource(field_ref=core.ObjectFieldSelector(field_path="status.podIP"))
    pod = defaults.apply_defaults(_pod(env=[core.EnvVar(name="IP", value_from=source)]))
    field_ref = pod.spec.containers[0].env[0].value_from.field_ref  # type: ignore[union-attr]
    assert field_ref is not None and field_ref.api_version == "v1"


def test_service_account_admission_helper() -> None:
    pod = defaults.default_service_account(_pod())
    assert (pod.spec.service_account_name, pod.spec.service_account) == ("default", "default")
    named = _pod()
    named.spec.service_account_name = "robot"
    assert defaults.default_service_account(named).spec.service_account == "robot"


def test_default_toleration_seconds() -> None:
    pod = defaults.default_toleration_seconds(_pod())
    keys = [(t.key, t.effect, t.toleration_seconds) for t in pod.spec.tolerations]
    assert keys == [
        ("node.kubernetes.io/not-ready", "NoExecute", 300),
        ("node.kubernetes.io/unreachable", "NoExecute", 300),
    ]
    assert defaults.default_toleration_seconds(pod).spec.tolerations == pod.spec.tolerations


def test_service_defaults() -> None:
    ports = [
        core.ServicePort(port=80),
        core.ServicePort(name="x", port=81, target_port="web", protocol="UDP"),
    ]
    svc = core.Service(spec=core.ServiceSpec(ports=ports, selector={"a": "b"}))
    spec = defaults.apply_defaults(svc).spec
    assert spec.type == "ClusterIP" and spec.session_affinity == "None"
    assert [(p.protocol, p.target_port) for p in spec.ports] == [("TCP", 80), ("UDP", "web")]
    assert spec.internal_traffic_policy == "Cluster" and spec.external_traffic_policy == ""
    assert spec.ip_families == ["IPv4"] and spec.ip_family_policy == "SingleStack"


def test_load_balancer_and_client_ip_defaults() -> None:
    svc = core.Service(
        spec=core.ServiceSpec(
            type="LoadBalancer", session_affinity="ClientIP", ports=[core.ServicePort(port=1)]
        )
    )
    spec = defaults.apply_defaults(svc).spec
    assert spec.external_traffic_policy == "Cluster"
    assert spec.allocate_load_balancer_node_ports is True
    config = spec.session_affinity_config
    assert config is not None and config.client_ip is not None
    assert config.client_ip.timeout_seconds == 10800


def test_external_name_service_gets_no_ip_families() -> None:
    svc = core.Service(spec=core.ServiceSpec(type="ExternalName", external_name="a.example"))
    spec = defaults.apply_defaults(svc).spec
    assert spec.ip_families == [] and spec.internal_traffic_policy is None


def _template(**labels: str) -> core.PodTemplateSpec:
    return core.PodTemplateSpec(
        metadata=ObjectMeta(labels=labels),
        spec=core.PodSpec(containers=[core.Container(name="c", image="i:1")]),
    )


def test_deployment_defaults() -> None:
    dep = apps.Deployment(spec=apps.DeploymentSpec(template=_template(app="x")))
    spec = defaults.apply_defaults(dep).spec
    assert spec.replicas == 1
    assert spec.strategy.type == "RollingUpdate"
    assert spec.strategy.rolling_update == apps.RollingUpdateDeployment(
        max_unavailable="25%", max_surge="25%"
    )
    assert (spec.revision_history_limit, spec.progress_deadline_seconds) == (10, 600)
    assert spec.template.spec.restart_policy == "Always"
    assert spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert spec.template.spec.enable_service_links is None  # pods only, as in Kubernetes


def test_template_requests_do_not_copy_limits() -> None:
    template = _template()
    template.spec.containers[0].resources = core.ResourceRequirements(limits={"cpu": "1"})
    rs = apps.ReplicaSet(spec=apps.ReplicaSetSpec(template=template))
    res = defaults.apply_defaults(rs).spec.template.spec.containers[0].resources
    assert res.limits == {"cpu": "1"} and res.requests == {}


def test_deployment_keeps_zero_replicas_and_recreate() -> None:
    spec = apps.DeploymentSpec(replicas=0, strategy=apps.DeploymentStrategy(type="Recreate"))
    out = defaults.apply_defaults(apps.Deployment(spec=spec)).spec
    assert out.replicas == 0 and out.strategy.rolling_update is None


def test_replica_set_and_daemon_set_defaults() -> None:
    rs = defaults.apply_defaults(apps.ReplicaSet(spec=apps.ReplicaSetSpec(template=_template())))
    assert rs.spec.replicas == 1
    ds = defaults.apply_defaults(apps.DaemonSet(spec=apps.DaemonSetSpec(template=_template())))
    strategy = ds.spec.update_strategy
    assert strategy.type == "RollingUpdate" and strategy.rolling_update is not None
    assert (strategy.rolling_update.max_unavailable, strategy.rolling_update.max_surge) == (1, 0)
    assert ds.spec.revision_history_limit == 10


def test_replication_controller_selector_and_labels_from_template() -> None:
    rc = core.ReplicationController(spec=core.ReplicationControllerSpec(template=_template(a="b")))
    out = defaults.apply_defaults(rc)
    assert out.spec.replicas == 1
    assert out.spec.selector == {"a": "b"} and out.metadata.labels == {"a": "b"}


def test_job_defaults() -> None:
    job = batch.Job(spec=batch.JobSpec(template=_template(app="j")))
    out = defaults.apply_defaults(job)
    spec = out.spec
    assert (spec.completions, spec.parallelism, spec.backoff_limit) == (1, 1, 6)
    assert spec.completion_mode == "NonIndexed" and spec.suspend is False
    assert spec.pod_replacement_policy == "TerminatingOrFailed"
    assert out.metadata.labels == {"app": "j"}
    parallel = batch.Job(spec=batch.JobSpec(parallelism=3, template=_template()))
    assert defaults.apply_defaults(parallel).spec.completions is None


def test_job_selector_generation() -> None:
    job = batch.Job(metadata=ObjectMeta(name="pi", uid="u-1"), spec=batch.JobSpec())
    out = defaults.generate_job_selector(job)
    assert out.spec.selector == LabelSelector(
        match_labels={"batch.kubernetes.io/controller-uid": "u-1"}
    )
    assert out.spec.template.metadata.labels["job-name"] == "pi"
    assert job.spec.selector is None


def test_hpa_defaults() -> None:
    v1 = defaults.apply_defaults(autoscaling.HorizontalPodAutoscaler())
    assert v1.spec.min_replicas == 1
    v2 = autoscaling.HorizontalPodAutoscalerV2(
        spec=autoscaling.HorizontalPodAutoscalerSpecV2(
            behavior=autoscaling.HorizontalPodAutoscalerBehavior()
        )
    )
    spec = defaults.apply_defaults(v2).spec
    assert spec.min_replicas == 1
    resource = spec.metrics[0].resource
    assert resource is not None and resource.name == "cpu"
    assert resource.target.average_utilization == 80
    assert spec.behavior is not None and spec.behavior.scale_up is not None
    assert spec.behavior.scale_up.stabilization_window_seconds == 0
    assert [p.type for p in spec.behavior.scale_up.policies] == ["Pods", "Percent"]
    assert spec.behavior.scale_down is not None
    assert [p.value for p in spec.behavior.scale_down.policies] == [100]


def test_cluster_object_defaults() -> None:
    assert defaults.apply_defaults(core.Namespace()).status.phase == "Active"
    node = core.Node(status=core.NodeStatus(capacity={"cpu": 2, "memory": "2048Mi"}))
    out = defaults.apply_defaults(node)
    assert out.status.capacity == {"cpu": "2", "memory": "2Gi"}
    assert out.status.allocatable == out.status.capacity
    pc = defaults.apply_defaults(scheduling.PriorityClass(value=5))
    assert pc.preemption_policy == "PreemptLowerPriority"


def test_secret_string_data_is_merged_into_data() -> None:
    secret = core.Secret(data={"a": "YQ=="}, string_data={"b": "bee", "a": "override"})
    out = defaults.apply_defaults(secret)
    assert out.type == "Opaque" and out.string_data == {}
    assert {k: base64.b64decode(v).decode() for k, v in out.data.items()} == {
        "a": "override",
        "b": "bee",
    }


def test_endpoint_ports_default_to_tcp() -> None:
    ep = core.Endpoints(subsets=[core.EndpointSubset(ports=[core.EndpointPort(port=1)])])
    assert defaults.apply_defaults(ep).subsets[0].ports[0].protocol == "TCP"
    es = discovery.EndpointSlice(ports=[discovery.EndpointPort(port=1)])
    assert defaults.apply_defaults(es).ports[0].protocol == "TCP"


def test_kinds_without_defaulters_are_copied() -> None:
    cm = core.ConfigMap(data={"a": "b"})
    out = defaults.apply_defaults(cm)
    assert out == cm and out is not cm


def test_empty_times_in_always_encoded_states_become_null() -> None:
    terminated = core.ContainerStateTerminated(exit_code=1, started_at="", finished_at="")
    status = core.ContainerStatus(name="c", state=core.ContainerState(terminated=terminated))
    pod = _pod()
    pod.status.container_statuses = [status]
    out = defaults.apply_defaults(pod).status.container_statuses[0].state.terminated
    assert out is not None and (out.started_at, out.finished_at) == (None, None)
    hpa = autoscaling.HorizontalPodAutoscaler()
    hpa.status.last_scale_time = ""
    assert defaults.apply_defaults(hpa).status.last_scale_time is None
