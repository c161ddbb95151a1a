"""core/v1 kinds: Pod, Node, Service, Endpoints, Namespace, ConfigMap, Secret, ServiceAccount,
Event, ReplicationController, Binding — with every nested type a user or a component writes.

Field names follow Kubernetes' JSON exactly (see meta.k8s_name); quantities in resource lists are
`str | int | float` on decode and canonical strings after defaulting; IntOrString is `int | str`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kcore.api.meta import LabelSelector, ListObject, Model, Object, ObjectMeta

Quantity = str | int | float
ResourceList = dict[str, Quantity]
IntOrString = int | str


# --- environment -------------------------------------------------------------------------------
class ObjectFieldSelector(Model):
    api_version: str = ""
    field_path: str = ""


class ResourceFieldSelector(Model):
    container_name: str = ""
    resource: str = ""
    divisor: Quantity | None = None


class ConfigMapKeySelector(Model):
    name: str = ""
    key: str = ""
    optional: bool | None = None


class SecretKeySelector(Model):
    name: str = ""
    key: str = ""
    optional: bool | None = None


class EnvVarSource(Model):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: ConfigMapKeySelector | None = None
    secret_key_ref: SecretKeySelector | None = None
    file_key_ref: dict[str, Any] | None = None


class EnvVar(Model):
    name: str = ""
    value: str = ""
    value_from: EnvVarSource | None = None


class ConfigMapEnvSource(Model):
    name: str = ""
    optional: bool | None = None


class SecretEnvSource(Model):
    name: str = ""
    optional: bool | None = None


class EnvFromSource(Model):
    prefix: str = ""
    config_map_ref: ConfigMapEnvSource | None = None
    secret_ref: SecretEnvSource | None = None


# --- containers --------------------------------------------------------------------------------
class ContainerPort(Model):
    name: str = ""
    host_port: int | None = None
    container_port: int = 0
    protocol: str = ""
    host_ip: str = ""


class ResourceClaim(Model):
    name: str = ""


class ResourceRequirements(Model):
    limits: ResourceList = {}
    requests: ResourceList = {}
    claims: list[ResourceClaim] = []


class ExecAction(Model):
    command: list[str] = []


class HTTPHeader(Model, omit_defaults=False):
    name: str = ""
    value: str = ""


class HTTPGetAction(Model):
    path: str = ""
    port: IntOrString = 0
    host: str = ""
    scheme: str = ""
    http_headers: list[HTTPHeader] = []
    protocol: str | None = None


class TCPSocketAction(Model):
    port: IntOrString = 0
    host: str = ""


class GRPCAction(Model):
    port: int = 0
    service: str | None = None
    mode: str | None = None


class SleepAction(Model):
    seconds: int = 0


class Probe(Model):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: int | None = None
    timeout_seconds: int | None = None
    period_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None
    termination_grace_period_seconds: int | None = None


class LifecycleHandler(Model):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


class Lifecycle(Model):
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None
    stop_signal: str | None = None


class VolumeMount(Model):
    name: str = ""
    read_only: bool | None = None
    mount_path: str = ""
    sub_path: str = ""
    mount_propagation: str | None = None
    sub_path_expr: str = ""
    recursive_read_only: str | None = None
    bind_mount_options: list[str] = []


class VolumeDevice(Model):
    name: str = ""
    device_path: str = ""


class Capabilities(Model):
    add: list[str] = []
    drop: list[str] = []


class SELinuxOptions(Model):
    user: str = ""
    role: str = ""
    type: str = ""
    level: str = ""


class SeccompProfile(Model):
    type: str = ""
    localhost_profile: str | None = None


class AppArmorProfile(Model):
    type: str = ""
    localhost_profile: str | None = None


class WindowsSecurityContextOptions(Model):
    gmsa_credential_spec_name: str | None = None
    gmsa_credential_spec: str | None = None
    run_as_user_name: str | None = None
    host_process: bool | None = None


class SecurityContext(Model):
    capabilities: Capabilities | None = None
    privileged: bool | None = None
    se_linux_options: SELinuxOptions | None = None
    windows_options: WindowsSecurityContextOptions | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    proc_mount: str | None = None
    seccomp_profile: SeccompProfile | None = None
    app_armor_profile: AppArmorProfile | None = None


class ContainerResizePolicy(Model):
    resource_name: str = ""
    restart_policy: str = ""


class Container(Model):
    name: str = ""
    image: str = ""
    command: list[str] = []
    args: list[str] = []
    working_dir: str = ""
    ports: list[ContainerPort] = []
    env_from: list[EnvFromSource] = []
    env: list[EnvVar] = []
    resources: ResourceRequirements = msgspec.field(default_factory=ResourceRequirements)
    resize_policy: list[ContainerResizePolicy] = []
    restart_policy: str | None = None
    restart_policy_rules: list[dict[str, Any]] = []
    volume_mounts: list[VolumeMount] = []
    volume_devices: list[VolumeDevice] = []
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    termination_message_path: str = ""
    termination_message_policy: str = ""
    image_pull_policy: str = ""
    security_context: SecurityContext | None = None
    stdin: bool | None = None
    stdin_once: bool | None = None
    tty: bool | None = None


class EphemeralContainer(Container):
    target_container_name: str = ""


# --- volumes -----------------------------------------------------------------------------------
class KeyToPath(Model):
    key: str = ""
    path: str = ""
    mode: int | None = None
    user: int | None = None


class EmptyDirVolumeSource(Model):
    medium: str = ""
    size_limit: Quantity | None = None
    mode: int | None = None


class HostPathVolumeSource(Model):
    path: str = ""
    type: str | None = None


class ConfigMapVolumeSource(Model):
    name: str = ""
    items: list[KeyToPath] = []
    default_mode: int | None = None
    default_user: int | None = None
    optional: bool | None = None


class SecretVolumeSource(Model):
    secret_name: str = ""
    items: list[KeyToPath] = []
    default_mode: int | None = None
    default_user: int | None = None
    optional: bool | None = None


class DownwardAPIVolumeFile(Model):
    path: str = ""
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    mode: int | None = None
    user: int | None = None


class DownwardAPIVolumeSource(Model):
    items: list[DownwardAPIVolumeFile] = []
    default_mode: int | None = None
    default_user: int | None = None


class DownwardAPIProjection(Model):
    items: list[DownwardAPIVolumeFile] = []


class ConfigMapProjection(Model):
    name: str = ""
    items: list[KeyToPath] = []
    optional: bool | None = None


class SecretProjection(Model):
    name: str = ""
    items: list[KeyToPath] = []
    optional: bool | None = None


class ServiceAccountTokenProjection(Model):
    audience: str = ""
    expiration_seconds: int | None = None
    path: str = ""
    user: int | None = None


class VolumeProjection(Model):
    secret: SecretProjection | None = None
    downward_api: DownwardAPIProjection | None = msgspec.field(default=None, name="downwardAPI")
    config_map: ConfigMapProjection | None = None
    service_account_token: ServiceAccountTokenProjection | None = None
    cluster_trust_bundle: dict[str, Any] | None = None
    pod_certificate: dict[str, Any] | None = None


class ProjectedVolumeSource(Model):
    sources: list[VolumeProjection] = []
    default_mode: int | None = None
    default_user: int | None = None


class PersistentVolumeClaimVolumeSource(Model):
    claim_name: str = ""
    read_only: bool | None = None


class Volume(Model):
    name: str = ""
    empty_dir: EmptyDirVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = msgspec.field(default=None, name="downwardAPI")
    projected: ProjectedVolumeSource | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    # sources kcore's kubelet does not mount, kept so they survive a round trip
    nfs: dict[str, Any] | None = None
    csi: dict[str, Any] | None = None
    ephemeral: dict[str, Any] | None = None
    image: dict[str, Any] | None = None
    git_repo: dict[str, Any] | None = None
    aws_elastic_block_store: dict[str, Any] | None = None
    azure_disk: dict[str, Any] | None = None
    azure_file: dict[str, Any] | None = None
    cephfs: dict[str, Any] | None = None
    cinder: dict[str, Any] | None = None
    fc: dict[str, Any] | None = None
    flex_volume: dict[str, Any] | None = None
    flocker: dict[str, Any] | None = None
    gce_persistent_disk: dict[str, Any] | None = None
    glusterfs: dict[str, Any] | None = None
    iscsi: dict[str, Any] | None = None
    photon_persistent_disk: dict[str, Any] | None = None
    portworx_volume: dict[str, Any] | None = None
    quobyte: dict[str, Any] | None = None
    rbd: dict[str, Any] | None = None
    scale_io: dict[str, Any] | None = msgspec.field(default=None, name="scaleIO")
    storageos: dict[str, Any] | None = None
    vsphere_volume: dict[str, Any] | None = None


# --- scheduling constraints ----------------------------------------------------------------------
class NodeSelectorRequirement(Model):
    key: str = ""
    operator: str = ""
    values: list[str] = []


class NodeSelectorTerm(Model):
    match_expressions: list[NodeSelectorRequirement] = []
    match_fields: list[NodeSelectorRequirement] = []


class NodeSelector(Model):
    node_selector_terms: list[NodeSelectorTerm] = []


class PreferredSchedulingTerm(Model):
    weight: int = 0
    preference: NodeSelectorTerm = msgspec.field(default_factory=NodeSelectorTerm)


class NodeAffinity(Model):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] = []


class PodAffinityTerm(Model):
    label_selector: LabelSelector | None = None
    namespaces: list[str] = []
    topology_key: str = ""
    namespace_selector: LabelSelector | None = None
    match_label_keys: list[str] = []
    mismatch_label_keys: list[str] = []


class WeightedPodAffinityTerm(Model):
    weight: int = 0
    pod_affinity_term: PodAffinityTerm = msgspec.field(default_factory=PodAffinityTerm)


class PodAffinity(Model):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] = []
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] = []


class PodAntiAffinity(PodAffinity):
    pass


class Affinity(Model):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAntiAffinity | None = None


class Toleration(Model):
    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""
    toleration_seconds: int | None = None


class TopologySpreadConstraint(Model):
    max_skew: int = 0
    topology_key: str = ""
    when_unsatisfiable: str = ""
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    node_affinity_policy: str | None = None
    node_taints_policy: str | None = None
    match_label_keys: list[str] = []


# --- pod -----------------------------------------------------------------------------------------
class LocalObjectReference(Model):
    name: str = ""


class Sysctl(Model, omit_defaults=False):
    name: str = ""
    value: str = ""


class PodSecurityContext(Model):
    se_linux_options: SELinuxOptions | None = None
    windows_options: WindowsSecurityContextOptions | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: list[int] = []
    supplemental_groups_policy: str | None = None
    fs_group: int | None = None
    sysctls: list[Sysctl] = []
    fs_group_change_policy: str | None = None
    se_linux_change_policy: str | None = None
    seccomp_profile: SeccompProfile | None = None
    app_armor_profile: AppArmorProfile | None = None


class PodDNSConfigOption(Model):
    name: str = ""
    value: str | None = None


class PodDNSConfig(Model):
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[PodDNSConfigOption] = []


class HostAlias(Model):
    ip: str = ""
    hostnames: list[str] = []


class PodReadinessGate(Model):
    condition_type: str = ""


class PodOS(Model):
    name: str = ""


class PodSchedulingGate(Model):
    name: str = ""


class PodSpec(Model):
    volumes: list[Volume] = []
    init_containers: list[Container] = []
    containers: list[Container] = []
    ephemeral_containers: list[EphemeralContainer] = []
    restart_policy: str = ""
    termination_grace_period_seconds: int | None = None
    active_deadline_seconds: int | None = None
    dns_policy: str = ""
    node_selector: dict[str, str] = {}
    service_account_name: str = ""
    service_account: str = ""
    automount_service_account_token: bool | None = None
    node_name: str = ""
    host_network: bool | None = None
    host_pid: bool | None = None
    host_ipc: bool | None = None
    share_process_namespace: bool | None = None
    security_context: PodSecurityContext | None = None
    image_pull_secrets: list[LocalObjectReference] = []
    hostname: str = ""
    subdomain: str = ""
    affinity: Affinity | None = None
    scheduler_name: str = ""
    tolerations: list[Toleration] = []
    host_aliases: list[HostAlias] = []
    priority_class_name: str = ""
    priority: int | None = None
    dns_config: PodDNSConfig | None = None
    readiness_gates: list[PodReadinessGate] = []
    runtime_class_name: str | None = None
    enable_service_links: bool | None = None
    preemption_policy: str | None = None
    overhead: ResourceList = {}
    topology_spread_constraints: list[TopologySpreadConstraint] = []
    set_hostname_as_fqdn: bool | None = msgspec.field(default=None, name="setHostnameAsFQDN")
    os: PodOS | None = None
    host_users: bool | None = None
    scheduling_gates: list[PodSchedulingGate] = []
    resource_claims: list[dict[str, Any]] = []
    resources: ResourceRequirements | None = None
    hostname_override: str | None = None
    eviction_responders: list[dict[str, Any]] = []
    scheduling_group: dict[str, Any] | None = None


class PodCondition(Model):
    type: str = ""
    observed_generation: int | None = None
    status: str = ""
    last_probe_time: str = ""
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class ContainerStateWaiting(Model):
    reason: str = ""
    message: str = ""


class ContainerStateRunning(Model):
    started_at: str = ""


class ContainerStateTerminated(Model, omit_defaults=False):
    exit_code: int = 0
    signal: int | None = None
    reason: str = ""
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    container_id: str = ""


class ContainerState(Model):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(Model, omit_defaults=False):
    name: str = ""
    state: ContainerState = msgspec.field(default_factory=ContainerState)
    last_state: ContainerState = msgspec.field(default_factory=ContainerState)
    ready: bool = False
    restart_count: int = 0
    image: str = ""
    image_id: str = ""
    container_id: str = ""
    started: bool | None = None
    allocated_resources: ResourceList = {}
    resources: ResourceRequirements | None = None
    volume_mounts: list[dict[str, Any]] = []
    user: dict[str, Any] | None = None
    allocated_resources_status: list[dict[str, Any]] = []
    stop_signal: str | None = None


class PodIP(Model):
    ip: str = ""


class HostIP(Model):
    ip: str = ""


class PodStatus(Model):
    observed_generation: int | None = None
    phase: str = ""
    conditions: list[PodCondition] = []
    message: str = ""
    reason: str = ""
    nominated_node_name: str = ""
    host_ip: str = ""
    host_ips: list[HostIP] = []
    pod_ip: str = ""
    pod_ips: list[PodIP] = []
    start_time: str = ""
    init_container_statuses: list[ContainerStatus] = []
    container_statuses: list[ContainerStatus] = []
    qos_class: str = ""
    ephemeral_container_statuses: list[ContainerStatus] = []
    resize: str = ""
    allocated_resources: ResourceList = {}
    resources: ResourceRequirements | None = None
    resource_claim_statuses: list[dict[str, Any]] = []
    extended_resource_claim_status: dict[str, Any] | None = None
    node_allocatable_resource_claim_statuses: list[dict[str, Any]] = []
    volume_health: list[dict[str, Any]] = []


class Pod(Object):
    KIND = "Pod"
    API_VERSION = "v1"

    spec: PodSpec = msgspec.field(default_factory=PodSpec)
    status: PodStatus = msgspec.field(default_factory=PodStatus)


class PodList(ListObject):
    KIND = "PodList"
    API_VERSION = "v1"

    items: list[Pod] = []


class PodTemplateSpec(Model):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: PodSpec = msgspec.field(default_factory=PodSpec)


class ObjectReference(Model):
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_version: str = ""
    resource_version: str = ""
    field_path: str = ""


class Binding(Object):
    KIND = "Binding"
    API_VERSION = "v1"

    target: ObjectReference = msgspec.field(default_factory=ObjectReference)


# --- namespace, config, identity ----------------------------------------------------------------
class NamespaceSpec(Model):
    finalizers: list[str] = []


class NamespaceCondition(Model):
    type: str = ""
    status: str = ""
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class NamespaceStatus(Model):
    phase: str = ""
    conditions: list[NamespaceCondition] = []


class Namespace(Object):
    KIND = "Namespace"
    API_VERSION = "v1"

    spec: NamespaceSpec = msgspec.field(default_factory=NamespaceSpec)
    status: NamespaceStatus = msgspec.field(default_factory=NamespaceStatus)


class NamespaceList(ListObject):
    KIND = "NamespaceList"
    API_VERSION = "v1"

    items: list[Namespace] = []


class ConfigMap(Object):
    KIND = "ConfigMap"
    API_VERSION = "v1"

    immutable: bool | None = None
    data: dict[str, str] = {}
    binary_data: dict[str, str] = {}


class ConfigMapList(ListObject):
    KIND = "ConfigMapList"
    API_VERSION = "v1"

    items: list[ConfigMap] = []


class Secret(Object):
    KIND = "Secret"
    API_VERSION = "v1"

    immutable: bool | None = None
    data: dict[str, str] = {}
    string_data: dict[str, str] = {}
    type: str = ""


class SecretList(ListObject):
    KIND = "SecretList"
    API_VERSION = "v1"

    items: list[Secret] = []


class ServiceAccount(Object):
    KIND = "ServiceAccount"
    API_VERSION = "v1"

    secrets: list[ObjectReference] = []
    image_pull_secrets: list[LocalObjectReference] = []
    automount_service_account_token: bool | None = None


class ServiceAccountList(ListObject):
    KIND = "ServiceAccountList"
    API_VERSION = "v1"

    items: list[ServiceAccount] = []


# --- node ----------------------------------------------------------------------------------------
class Taint(Model):
    key: str = ""
    value: str = ""
    effect: str = ""
    time_added: str = ""


class NodeSpec(Model):
    pod_cidr: str = ""
    pod_cidrs: list[str] = []
    provider_id: str = ""
    unschedulable: bool | None = None
    taints: list[Taint] = []
    config_source: dict[str, Any] | None = None
    external_id: str = ""
    pod_preemption_policy: dict[str, Any] | None = None


class NodeCondition(Model):
    type: str = ""
    status: str = ""
    last_heartbeat_time: str = ""
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class NodeAddress(Model):
    type: str = ""
    address: str = ""


class DaemonEndpoint(Model, omit_defaults=False):
    port: int = msgspec.field(default=0, name="Port")


class NodeDaemonEndpoints(Model):
    kubelet_endpoint: DaemonEndpoint = msgspec.field(default_factory=DaemonEndpoint)


class NodeSystemInfo(Model, omit_defaults=False):
    machine_id: str = ""
    system_uuid: str = ""
    boot_id: str = ""
    kernel_version: str = ""
    os_image: str = ""
    container_runtime_version: str = ""
    kubelet_version: str = ""
    kube_proxy_version: str = ""
    operating_system: str = ""
    architecture: str = ""
    swap: dict[str, Any] | None = None
    running_in_user_namespace: bool | None = None


class ContainerImage(Model):
    names: list[str] = []
    size_bytes: int | None = None


class AttachedVolume(Model, omit_defaults=False):
    name: str = ""
    device_path: str = ""


class NodeStatus(Model):
    capacity: ResourceList = {}
    allocatable: ResourceList = {}
    phase: str = ""
    conditions: list[NodeCondition] = []
    addresses: list[NodeAddress] = []
    daemon_endpoints: NodeDaemonEndpoints | None = None
    node_info: NodeSystemInfo | None = None
    images: list[ContainerImage] = []
    volumes_in_use: list[str] = []
    volumes_attached: list[AttachedVolume] = []
    config: dict[str, Any] | None = None
    runtime_handlers: list[dict[str, Any]] = []
    features: dict[str, Any] | None = None
    declared_features: list[str] = []


class Node(Object):
    KIND = "Node"
    API_VERSION = "v1"

    spec: NodeSpec = msgspec.field(default_factory=NodeSpec)
    status: NodeStatus = msgspec.field(default_factory=NodeStatus)


class NodeList(ListObject):
    KIND = "NodeList"
    API_VERSION = "v1"

    items: list[Node] = []


# --- service and endpoints -------------------------------------------------------------------
class ServicePort(Model):
    name: str = ""
    protocol: str = ""
    app_protocol: str | None = None
    port: int = 0
    target_port: IntOrString | None = None
    node_port: int | None = None


class ClientIPConfig(Model):
    timeout_seconds: int | None = None


class SessionAffinityConfig(Model):
    client_ip: ClientIPConfig | None = None


class ServiceSpec(Model):
    ports: list[ServicePort] = []
    selector: dict[str, str] = {}
    cluster_ip: str = ""
    cluster_ips: list[str] = []
    type: str = ""
    external_ips: list[str] = []
    session_affinity: str = ""
    load_balancer_ip: str = ""
    load_balancer_source_ranges: list[str] = []
    external_name: str = ""
    external_traffic_policy: str = ""
    health_check_node_port: int | None = None
    publish_not_ready_addresses: bool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: list[str] = []
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
    traffic_distribution: str | None = None


class PortStatus(Model):
    port: int = 0
    protocol: str = ""
    error: str | None = None


class LoadBalancerIngress(Model):
    ip: str = ""
    hostname: str = ""
    ip_mode: str | None = None
    ports: list[PortStatus] = []


class LoadBalancerStatus(Model):
    ingress: list[LoadBalancerIngress] = []


class ServiceStatus(Model):
    load_balancer: LoadBalancerStatus = msgspec.field(default_factory=LoadBalancerStatus)
    conditions: list[dict[str, Any]] = []


class Service(Object):
    KIND = "Service"
    API_VERSION = "v1"

    spec: ServiceSpec = msgspec.field(default_factory=ServiceSpec)
    status: ServiceStatus = msgspec.field(default_factory=ServiceStatus)


class ServiceList(ListObject):
    KIND = "ServiceList"
    API_VERSION = "v1"

    items: list[Service] = []


class EndpointAddress(Model):
    ip: str = ""
    hostname: str = ""
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(Model):
    name: str = ""
    port: int = 0
    protocol: str = ""
    app_protocol: str | None = None


class EndpointSubset(Model):
    addresses: list[EndpointAddress] = []
    not_ready_addresses: list[EndpointAddress] = []
    ports: list[EndpointPort] = []


class Endpoints(Object):
    KIND = "Endpoints"
    API_VERSION = "v1"

    subsets: list[EndpointSubset] = []


class EndpointsList(ListObject):
    KIND = "EndpointsList"
    API_VERSION = "v1"

    items: list[Endpoints] = []


# --- events --------------------------------------------------------------------------------------
class EventSource(Model):
    component: str = ""
    host: str = ""


class EventSeries(Model):
    count: int = 0
    last_observed_time: str = ""


class Event(Object):
    KIND = "Event"
    API_VERSION = "v1"

    involved_object: ObjectReference = msgspec.field(default_factory=ObjectReference)
    reason: str = ""
    message: str = ""
    source: EventSource = msgspec.field(default_factory=EventSource)
    first_timestamp: str = ""
    last_timestamp: str = ""
    count: int = 0
    type: str = ""
    event_time: str = ""
    series: EventSeries | None = None
    action: str = ""
    related: ObjectReference | None = None
    reporting_component: str = ""
    reporting_instance: str = ""


class EventList(ListObject):
    KIND = "EventList"
    API_VERSION = "v1"

    items: list[Event] = []


# --- replication controller ------------------------------------------------------------------
class ReplicationControllerSpec(Model):
    replicas: int | None = None
    min_ready_seconds: int = 0
    selector: dict[str, str] = {}
    template: PodTemplateSpec | None = None


class ReplicationControllerCondition(Model):
    type: str = ""
    status: str = ""
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class ReplicationControllerStatus(Model, omit_defaults=False):
    replicas: int = 0
    fully_labeled_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    observed_generation: int = 0
    conditions: list[ReplicationControllerCondition] = []


class ReplicationController(Object):
    KIND = "ReplicationController"
    API_VERSION = "v1"

    spec: ReplicationControllerSpec = msgspec.field(default_factory=ReplicationControllerSpec)
    status: ReplicationControllerStatus = msgspec.field(default_factory=ReplicationControllerStatus)


class ReplicationControllerList(ListObject):
    KIND = "ReplicationControllerList"
    API_VERSION = "v1"

    items: list[ReplicationController] = []
