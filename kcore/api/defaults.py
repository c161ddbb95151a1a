"""Kubernetes' defaulters: the values the API server fills in before validating and storing.

`apply_defaults(obj)` returns a defaulted copy and never touches its argument. Each kind has one
function that mutates the fresh copy; nested shapes (pod specs inside templates, containers,
probes, quantities) have their own small helpers so every workload kind defaults its template
exactly like a bare pod. Admission-time values (serviceAccountName, job selectors) are separate
helpers because Kubernetes sets them outside the defaulters, on create only.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

from kcore.api import apps, autoscaling, batch, codec, core, discovery, quantity, scheduling
from kcore.api.meta import LabelSelector

T = TypeVar("T")

DEFAULT_SCHEDULER = "default-scheduler"
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
FILE_MODE = 0o644  # 420: Kubernetes' default mode for projected files
SESSION_AFFINITY_TIMEOUT = 10800
TOKEN_EXPIRATION_SECONDS = 3600
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


def apply_defaults(obj: T) -> T:
    """A copy of `obj` with Kubernetes' defaults applied (kinds without defaults: a plain copy)."""
    fresh = codec.deep_copy(obj)
    default_in_place(fresh)
    return fresh


def default_in_place(obj: Any) -> None:
    """Apply the defaults to `obj` itself: for callers holding an object nobody else shares
    (the API server's freshly decoded request body), where apply_defaults' copy is waste."""
    default = _DEFAULTERS.get(type(obj))
    if default is not None:
        default(obj)


# --- pod -------------------------------------------------------------------------------------
def default_pod(pod: core.Pod) -> None:
    """Pod-only defaults (templates do not get these): service links on, and each container's
    limits double as its requests where no request is given."""
    default_pod_spec(pod.spec)
    if pod.spec.enable_service_links is None:
        pod.spec.enable_service_links = True
    for container in [*pod.spec.init_containers, *pod.spec.containers]:
        requests = container.resources.requests
        for name, value in container.resources.limits.items():
            requests.setdefault(name, value)
    if not pod.status.phase:
        pod.status.phase = "Pending"
    if not pod.status.qos_class:
        pod.status.qos_class = qos_class(pod.spec)
    _clear_empty_times(pod.status)


def _clear_empty_times(status: core.PodStatus) -> None:
    """Terminated states are always encoded: an empty time there must be null, not "" (which
    is no timestamp, and the python client rejects it)."""
    statuses = [
        *status.init_container_statuses,
        *status.container_statuses,
        *status.ephemeral_container_statuses,
    ]
    for cs in statuses:
        for state in (cs.state.terminated, cs.last_state.terminated):
            if state is not None:
                state.started_at = state.started_at or None
                state.finished_at = state.finished_at or None


def default_pod_spec(spec: core.PodSpec) -> None:
    spec.restart_policy = spec.restart_policy or "Always"
    spec.dns_policy = spec.dns_policy or "ClusterFirst"
    spec.scheduler_name = spec.scheduler_name or DEFAULT_SCHEDULER
    if spec.termination_grace_period_seconds is None:
        spec.termination_grace_period_seconds = 30
    if spec.security_context is None:
        spec.security_context = core.PodSecurityContext()
    if spec.service_account and not spec.service_account_name:
        spec.service_account_name = spec.service_account
    spec.overhead = canonical_resources(spec.overhead)
    for container in [*spec.init_containers, *spec.containers, *spec.ephemeral_containers]:
        default_container(container, host_network=bool(spec.host_network))
    for volume in spec.volumes:
        default_volume(volume)


def default_container(container: core.Container, *, host_network: bool = False) -> None:
    if not container.image_pull_policy:
        container.image_pull_policy = image_pull_policy(container.image)
    container.termination_message_path = (
        container.termination_message_path or TERMINATION_MESSAGE_PATH
    )
    container.termination_message_policy = container.termination_message_policy or "File"
    for port in container.ports:
        port.protocol = port.protocol or "TCP"
        if host_network and port.host_port is None:
            port.host_port = port.container_port
    for probe in (container.liveness_probe, container.readiness_probe, container.startup_probe):
        if probe is not None:
            default_probe(probe)
    for env in container.env:
        if env.value_from is not None and env.value_from.field_ref is not None:
            env.value_from.field_ref.api_version = env.value_from.field_ref.api_version or "v1"
    default_resources(container.resources)


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged image (without digest), else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def default_probe(probe: core.Probe) -> None:
    probe.timeout_seconds = probe.timeout_seconds or 1
    probe.period_seconds = probe.period_seconds or 10
    probe.success_threshold = probe.success_threshold or 1
    probe.failure_threshold = probe.failure_threshold or 3
    if probe.http_get is not None:
        probe.http_get.path = probe.http_get.path or "/"
        probe.http_get.scheme = probe.http_get.scheme or "HTTP"


def default_resources(resources: core.ResourceRequirements) -> None:
    resources.limits = canonical_resources(resources.limits)
    resources.requests = canonical_resources(resources.requests)


def canonical_resources(resources: dict[str, Any]) -> dict[str, Any]:
    """Resource quantities in Kubernetes' canonical string form; bad values are left for
    validation to report."""
    return {name: _canonical_quantity(value) for name, value in resources.items()}


# Quantity strings repeat endlessly ("100m", "64Mi"): their canonical form and exact value are
# memoized, bounded so that hostile input cannot grow the tables without limit.
_MEMO_LIMIT = 4096
_canonical_memo: dict[str, str] = {}
_value_memo: dict[str, Any] = {}


def _canonical_quantity(value: Any) -> Any:
    if isinstance(value, str):
        known = _canonical_memo.get(value)
        if known is not None:
            return known
    try:
        out = quantity.canonical(value)
    except ValueError:
        return value
    if isinstance(value, str) and len(_canonical_memo) < _MEMO_LIMIT:
        _canonical_memo[value] = out
    return out


def default_volume(volume: core.Volume) -> None:
    sources = (
        volume.empty_dir, volume.host_path, volume.config_map, volume.secret,
        volume.downward_api, volume.projected, volume.persistent_volume_claim,
    )  # fmt: skip
    if all(source is None for source in sources):
        volume.empty_dir = core.EmptyDirVolumeSource()
    for with_mode in (volume.config_map, volume.secret, volume.downward_api, volume.projected):
        if with_mode is not None and with_mode.default_mode is None:
            with_mode.default_mode = FILE_MODE
    if volume.host_path is not None and volume.host_path.type is None:
        volume.host_path.type = ""
    if volume.downward_api is not None:
        _default_field_refs(volume.downward_api.items)
    for projection in volume.projected.sources if volume.projected is not None else []:
        token = projection.service_account_token
        if token is not None and token.expiration_seconds is None:
            token.expiration_seconds = TOKEN_EXPIRATION_SECONDS
        if projection.downward_api is not None:
            _default_field_refs(projection.downward_api.items)


def _default_field_refs(items: list[core.DownwardAPIVolumeFile]) -> None:
    for item in items:
        if item.field_ref is not None:
            item.field_ref.api_version = item.field_ref.api_version or "v1"


def qos_class(spec: core.PodSpec) -> str:
    """Guaranteed, Burstable or BestEffort from the containers' cpu/memory requests and limits."""
    containers = [*spec.init_containers, *spec.containers]
    requests = [c.resources.requests for c in containers]
    limits = [c.resources.limits for c in containers]
    tracked = ("cpu", "memory")
    if not any(r.get(k) for r in [*requests, *limits] for k in tracked):
        return "BestEffort"
    for req, lim in zip(requests, limits, strict=True):
        for k in tracked:
            if k not in lim or _quantity_key(req.get(k, lim[k])) != _quantity_key(lim[k]):
                return "Burstable"
    return "Guaranteed"


def _quantity_key(value: Any) -> Any:
    if isinstance(value, str):
        known = _value_memo.get(value)
        if known is not None:
            return known
    try:
        out = quantity.parse_quantity(value)
    except ValueError:
        return value
    if isinstance(value, str) and len(_value_memo) < _MEMO_LIMIT:
        _value_memo[value] = out
    return out


def default_service_account(pod: core.Pod) -> core.Pod:
    """Admission's ServiceAccount default: "default" when the pod names none (a copy)."""
    fresh = codec.deep_copy(pod)
    set_default_service_account(fresh)
    return fresh


def set_default_service_account(pod: core.Pod) -> None:
    """default_service_account on `pod` itself (an object the caller owns alone)."""
    name = pod.spec.service_account_name or pod.spec.service_account or "default"
    pod.spec.service_account_name = name
    pod.spec.service_account = name


def default_toleration_seconds(pod: core.Pod, seconds: int = 300) -> core.Pod:
    """Admission's DefaultTolerationSeconds (a copy): tolerate the not-ready and unreachable
    NoExecute taints for `seconds` unless the pod already tolerates them."""
    fresh = codec.deep_copy(pod)
    for key in (NOT_READY_TAINT, UNREACHABLE_TAINT):
        if not any(_tolerates_no_execute(t, key) for t in fresh.spec.tolerations):
            toleration = core.Toleration(
                key=key, operator="Exists", effect="NoExecute", toleration_seconds=seconds
            )
            fresh.spec.tolerations = [*fresh.spec.tolerations, toleration]
    return fresh


def _tolerates_no_execute(t: core.Toleration, key: str) -> bool:
    return t.effect in ("", "NoExecute") and (
        t.key == key or (not t.key and t.operator == "Exists")
    )


def default_pod_template(template: core.PodTemplateSpec | None) -> None:
    if template is not None:
        default_pod_spec(template.spec)


# --- services and endpoints ---------------------------------------------------------------
def default_service(svc: core.Service) -> None:
    spec = svc.spec
    spec.type = spec.type or "ClusterIP"
    spec.session_affinity = spec.session_affinity or "None"
    if spec.session_affinity == "ClientIP":
        _default_client_ip_timeout(spec)
    for port in spec.ports:
        port.protocol = port.protocol or "TCP"
        if port.target_port in (None, 0, ""):
            port.target_port = port.port
    if spec.type in ("NodePort", "LoadBalancer") and not spec.external_traffic_policy:
        spec.external_traffic_policy = "Cluster"
    if spec.type == "LoadBalancer" and spec.allocate_load_balancer_node_ports is None:
        spec.allocate_load_balancer_node_ports = True
    if spec.type != "ExternalName":
        spec.internal_traffic_policy = spec.internal_traffic_policy or "Cluster"
        spec.ip_families = spec.ip_families or ["IPv4"]
        spec.ip_family_policy = spec.ip_family_policy or "SingleStack"


def _default_client_ip_timeout(spec: core.ServiceSpec) -> None:
    config = spec.session_affinity_config or core.SessionAffinityConfig()
    client_ip = config.client_ip or core.ClientIPConfig()
    if client_ip.timeout_seconds is None:
        client_ip.timeout_seconds = SESSION_AFFINITY_TIMEOUT
    config.client_ip = client_ip
    spec.session_affinity_config = config


def default_endpoints(ep: core.Endpoints) -> None:
    for subset in ep.subsets:
        for port in subset.ports:
            port.protocol = port.protocol or "TCP"


def default_endpoint_slice(slice_: discovery.EndpointSlice) -> None:
    for port in slice_.ports:
        if port.protocol is None:
            port.protocol = "TCP"


# --- cluster objects --------------------------------------------------------------------------
def default_namespace(ns: core.Namespace) -> None:
    ns.status.phase = ns.status.phase or "Active"


def default_node(node: core.Node) -> None:
    node.status.capacity = canonical_resources(node.status.capacity)
    if node.status.allocatable:
        node.status.allocatable = canonical_resources(node.status.allocatable)
    else:
        node.status.allocatable = dict(node.status.capacity)


def default_secret(secret: core.Secret) -> None:
    """type Opaque; stringData is write-only: merged into data (base64) and dropped."""
    secret.type = secret.type or "Opaque"
    if secret.string_data:
        data = dict(secret.data)
        for key, value in secret.string_data.items():
            data[key] = base64.b64encode(value.encode()).decode()
        secret.data = data
        secret.string_data = {}


def default_priority_class(pc: scheduling.PriorityClass) -> None:
    pc.preemption_policy = pc.preemption_policy or "PreemptLowerPriority"


# --- workloads ---------------------------------------------------------------------------------
def default_deployment(d: apps.Deployment) -> None:
    spec = d.spec
    spec.replicas = 1 if spec.replicas is None else spec.replicas
    spec.strategy.type = spec.strategy.type or "RollingUpdate"
    if spec.strategy.type == "RollingUpdate":
        rolling = spec.strategy.rolling_update or apps.RollingUpdateDeployment()
        rolling.max_unavailable = (
            "25%" if rolling.max_unavailable is None else (rolling.max_unavailable)
        )
        rolling.max_surge = "25%" if rolling.max_surge is None else rolling.max_surge
        spec.strategy.rolling_update = rolling
    if spec.revision_history_limit is None:
        spec.revision_history_limit = 10
    if spec.progress_deadline_seconds is None:
        spec.progress_deadline_seconds = 600
    default_pod_template(spec.template)


def default_replica_set(rs: apps.ReplicaSet) -> None:
    rs.spec.replicas = 1 if rs.spec.replicas is None else rs.spec.replicas
    default_pod_template(rs.spec.template)


def default_replication_controller(rc: core.ReplicationController) -> None:
    """replicas 1; selector and the controller's own labels default to the template's labels."""
    spec = rc.spec
    spec.replicas = 1 if spec.replicas is None else spec.replicas
    template_labels = spec.template.metadata.labels if spec.template is not None else {}
    if template_labels and not spec.selector:
        spec.selector = dict(template_labels)
    if template_labels and not rc.metadata.labels:
        rc.metadata.labels = dict(template_labels)
    default_pod_template(spec.template)


def default_daemon_set(ds: apps.DaemonSet) -> None:
    strategy = ds.spec.update_strategy
    strategy.type = strategy.type or "RollingUpdate"
    if strategy.type == "RollingUpdate":
        rolling = strategy.rolling_update or apps.RollingUpdateDaemonSet()
        rolling.max_unavailable = 1 if rolling.max_unavailable is None else rolling.max_unavailable
        rolling.max_surge = 0 if rolling.max_surge is None else rolling.max_surge
        strategy.rolling_update = rolling
    if ds.spec.revision_history_limit is None:
        ds.spec.revision_history_limit = 10
    default_pod_template(ds.spec.template)


def default_job(job: batch.Job) -> None:
    spec = job.spec
    if spec.completions is None and spec.parallelism is None:
        spec.completions = 1
    if spec.parallelism is None:
        spec.parallelism = 1
    if spec.backoff_limit is None:
        spec.backoff_limit = 6
    spec.completion_mode = spec.completion_mode or "NonIndexed"
    if spec.suspend is None:
        spec.suspend = False
    template_labels = spec.template.metadata.labels
    if template_labels and not job.metadata.labels:
        job.metadata.labels = dict(template_labels)
    if not spec.pod_replacement_policy:
        failed_only = spec.pod_failure_policy is not None
        spec.pod_replacement_policy = "Failed" if failed_only else "TerminatingOrFailed"
    default_pod_template(spec.template)


def generate_job_selector(job: batch.Job) -> batch.Job:
    """The Job strategy's selector (on create, once metadata.uid is set): a copy whose selector
    and template labels carry batch.kubernetes.io/controller-uid and job-name."""
    fresh = codec.deep_copy(job)
    if fresh.spec.manual_selector:
        return fresh
    uid, name = fresh.metadata.uid, fresh.metadata.name
    labels = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid}
    labels |= {"batch.kubernetes.io/job-name": name, "job-name": name}
    template_meta = fresh.spec.template.metadata
    template_meta.labels = {**template_meta.labels, **labels}
    if fresh.spec.selector is None:
        fresh.spec.selector = LabelSelector(
            match_labels={"batch.kubernetes.io/controller-uid": uid}
        )
    return fresh


def default_hpa_v1(hpa: autoscaling.HorizontalPodAutoscaler) -> None:
    if hpa.spec.min_replicas is None:
        hpa.spec.min_replicas = 1
    hpa.status.last_scale_time = hpa.status.last_scale_time or None


def default_hpa_v2(hpa: autoscaling.HorizontalPodAutoscalerV2) -> None:
    if hpa.spec.min_replicas is None:
        hpa.spec.min_replicas = 1
    hpa.status.last_scale_time = hpa.status.last_scale_time or None
    if not hpa.spec.metrics:
        target = autoscaling.MetricTarget(type="Utilization", average_utilization=80)
        source = autoscaling.ResourceMetricSource(name="cpu", target=target)
        hpa.spec.metrics = [autoscaling.MetricSpec(type="Resource", resource=source)]
    behavior = hpa.spec.behavior
    if behavior is not None:
        behavior.scale_up = _scaling_rules(behavior.scale_up, up=True)
        behavior.scale_down = _scaling_rules(behavior.scale_down, up=False)


def _scaling_rules(
    rules: autoscaling.HPAScalingRules | None, *, up: bool
) -> autoscaling.HPAScalingRules:
    """Fill unset scaling rules: up 0s window, max of +4 pods or +100% per 15s; down 100%/15s."""
    rules = rules or autoscaling.HPAScalingRules()
    if up and rules.stabilization_window_seconds is None:
        rules.stabilization_window_seconds = 0
    rules.select_policy = rules.select_policy or "Max"
    if not rules.policies:
        percent = autoscaling.HPAScalingPolicy(type="Percent", value=100, period_seconds=15)
        pods = autoscaling.HPAScalingPolicy(type="Pods", value=4, period_seconds=15)
        rules.policies = [pods, percent] if up else [percent]
    return rules


_DEFAULTERS: dict[type[Any], Callable[[Any], None]] = {
    core.Pod: default_pod,
    core.Service: default_service,
    core.Endpoints: default_endpoints,
    core.Namespace: default_namespace,
    core.Node: default_node,
    core.Secret: default_secret,
    core.ReplicationController: default_replication_controller,
    apps.Deployment: default_deployment,
    apps.ReplicaSet: default_replica_set,
    apps.DaemonSet: default_daemon_set,
    batch.Job: default_job,
    autoscaling.HorizontalPodAutoscaler: default_hpa_v1,
    autoscaling.HorizontalPodAutoscalerV2: default_hpa_v2,
    discovery.EndpointSlice: default_endpoint_slice,
    scheduling.PriorityClass: default_priority_class,
}
