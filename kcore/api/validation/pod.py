"""Pod validation: resources, containers, probes, env, volumes, scheduling constraints, the
pod spec as templates share it, and the narrow set of pod spec fields an update may change."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from kcore.api import codec, core, names, quantity
from kcore.api.errors import Cause
from kcore.api.validation.field import (
    PROTOCOLS,
    TAINT_EFFECTS,
    duplicate,
    each,
    forbidden,
    invalid,
    non_negative,
    not_found,
    not_supported,
    one_of,
    port_number,
    positive,
    required,
)
from kcore.api.validation.objectmeta import validate_label_selector
from kcore.api.validation.podstatus import validate_pod_status

_QUANTITY_MEMO_LIMIT = 4096
_quantities: dict[str, Fraction] = {}


def _parse_quantity(value: Any) -> Fraction:
    """quantity.parse_quantity, memoized for the few strings every pod repeats ("100m");
    bounded so that hostile input cannot grow the table. Bad values still raise."""
    if isinstance(value, str):
        known = _quantities.get(value)
        if known is not None:
            return known
    parsed = quantity.parse_quantity(value)
    if isinstance(value, str) and len(_quantities) < _QUANTITY_MEMO_LIMIT:
        _quantities[value] = parsed
    return parsed


def validate_resource_list(resources: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for name, value in resources.items():
        at = f"{path}[{name}]"
        causes += each(at, name, names.is_qualified_name(name))
        try:
            parsed = _parse_quantity(value)
        except ValueError as exc:
            causes.append(invalid(at, value, str(exc)))
            continue
        if parsed < 0:
            causes.append(invalid(at, value, "must be greater than or equal to 0"))
    return causes


def validate_resource_requirements(res: core.ResourceRequirements, path: str) -> list[Cause]:
    causes = validate_resource_list(res.limits, f"{path}.limits")
    causes += validate_resource_list(res.requests, f"{path}.requests")
    if causes:
        return causes
    for name, request in res.requests.items():
        limit = res.limits.get(name)
        if limit is not None and _parse_quantity(request) > _parse_quantity(limit):
            detail = f"must be less than or equal to {name} limit of {limit}"
            causes.append(invalid(f"{path}.requests[{name}]", request, detail))
    return causes


PULL_POLICIES = ("Always", "IfNotPresent", "Never")


def validate_containers(
    containers: list[core.Container], path: str, volumes: set[str], seen: set[str]
) -> list[Cause]:
    causes: list[Cause] = []
    for i, c in enumerate(containers):
        at = f"{path}[{i}]"
        if not c.name:
            causes.append(required(f"{at}.name"))
        else:
            causes += each(f"{at}.name", c.name, names.is_dns1123_label(c.name))
            if c.name in seen:
                causes.append(duplicate(f"{at}.name", c.name))
            seen.add(c.name)
        causes += validate_container(c, at, volumes)
    return causes


def validate_container(c: core.Container, path: str, volumes: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    if not c.image.strip():
        causes.append(required(f"{path}.image"))
    causes += one_of(f"{path}.imagePullPolicy", c.image_pull_policy, PULL_POLICIES)
    causes += _validate_ports(c.ports, f"{path}.ports")
    causes += _validate_env(c.env, f"{path}.env")
    causes += validate_resource_requirements(c.resources, f"{path}.resources")
    causes += _validate_mounts(c.volume_mounts, f"{path}.volumeMounts", volumes)
    causes += _validate_probe(c.liveness_probe, f"{path}.livenessProbe", single_success=True)
    causes += _validate_probe(c.readiness_probe, f"{path}.readinessProbe", single_success=False)
    causes += _validate_probe(c.startup_probe, f"{path}.startupProbe", single_success=True)
    if c.termination_message_policy:
        policies = ("File", "FallbackToLogsOnError")
        causes += one_of(f"{path}.terminationMessagePolicy", c.termination_message_policy, policies)
    return causes


def _validate_ports(ports: list[core.ContainerPort], path: str) -> list[Cause]:
    causes: list[Cause] = []
    names_seen: set[str] = set()
    for i, port in enumerate(ports):
        at = f"{path}[{i}]"
        if port.name:
            causes += each(f"{at}.name", port.name, names.is_valid_port_name(port.name))
            if port.name in names_seen:
                causes.append(duplicate(f"{at}.name", port.name))
            names_seen.add(port.name)
        if port.container_port == 0:
            causes.append(required(f"{at}.containerPort"))
        causes += port_number(f"{at}.containerPort", port.container_port or None)
        causes += port_number(f"{at}.hostPort", port.host_port or None)
        causes += one_of(f"{at}.protocol", port.protocol, PROTOCOLS)
    return causes


def _validate_env(env: list[core.EnvVar], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, var in enumerate(env):
        at = f"{path}[{i}]"
        if not var.name:
            causes.append(required(f"{at}.name"))
        else:
            causes += each(f"{at}.name", var.name, names.is_env_var_name(var.name))
        causes += _validate_env_source(var, at)
    return causes


def _validate_env_source(var: core.EnvVar, path: str) -> list[Cause]:
    source = var.value_from
    if source is None:
        return []
    refs = [source.field_ref, source.resource_field_ref, source.config_map_key_ref]
    count = sum(r is not None for r in [*refs, source.secret_key_ref])
    if var.value:
        detail = "may not be specified when `value` is not empty"
        return [invalid(f"{path}.valueFrom", "", detail)]
    if count == 0:
        return [
            invalid(
                f"{path}.valueFrom",
                "",
                "must specify one of: `fieldRef`, "
                "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            )
        ]
    if count > 1:
        detail = "may not have more than one field specified at a time"
        return [invalid(f"{path}.valueFrom", "", detail)]
    return []


def _validate_mounts(mounts: list[core.VolumeMount], path: str, volumes: set[str]) -> list[Cause]:
    causes: list[Cause] = []
    paths: set[str] = set()
    for i, mount in enumerate(mounts):
        at = f"{path}[{i}]"
        if not mount.name:
            causes.append(required(f"{at}.name"))
        elif mount.name not in volumes:
            causes.append(not_found(f"{at}.name", mount.name))
        if not mount.mount_path:
            causes.append(required(f"{at}.mountPath"))
        elif mount.mount_path in paths:
            causes.append(invalid(f"{at}.mountPath", mount.mount_path, "must be unique"))
        paths.add(mount.mount_path)
    return causes


def _validate_probe(probe: core.Probe | None, path: str, *, single_success: bool) -> list[Cause]:
    if probe is None:
        return []
    handlers = [
        ("exec", probe.exec), ("httpGet", probe.http_get),
        ("tcpSocket", probe.tcp_socket), ("grpc", probe.grpc),
    ]  # fmt: skip
    present = [name for name, handler in handlers if handler is not None]
    causes: list[Cause] = []
    if not present:
        causes.append(required(path, "must specify a handler type"))
    for extra in present[1:]:
        causes.append(forbidden(f"{path}.{extra}", "may not specify more than 1 handler type"))
    causes += non_negative(f"{path}.initialDelaySeconds", probe.initial_delay_seconds)
    for attr, value in (
        ("timeoutSeconds", probe.timeout_seconds), ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ):  # fmt: skip
        causes += positive(f"{path}.{attr}", value)
    if single_success and probe.success_threshold not in (None, 1):
        causes.append(invalid(f"{path}.successThreshold", probe.success_threshold, "must be 1"))
    causes += _validate_handler_ports(probe.http_get, probe.tcp_socket, path)
    return causes


def _validate_handler_ports(
    http_get: core.HTTPGetAction | None, tcp: core.TCPSocketAction | None, path: str
) -> list[Cause]:
    causes: list[Cause] = []
    for name, action in (("httpGet", http_get), ("tcpSocket", tcp)):
        if action is None:
            continue
        port = action.port
        if isinstance(port, int):
            causes += port_number(f"{path}.{name}.port", port if port else -1)
        else:
            causes += each(f"{path}.{name}.port", port, names.is_valid_port_name(port))
    return causes


def validate_volumes(volumes: list[core.Volume], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, volume in enumerate(volumes):
        at = f"{path}[{i}]"
        if not volume.name:
            causes.append(required(f"{at}.name"))
        else:
            causes += each(f"{at}.name", volume.name, names.is_dns1123_label(volume.name))
            if volume.name in seen:
                causes.append(duplicate(f"{at}.name", volume.name))
            seen.add(volume.name)
        causes += _validate_volume_source(volume, at)
    return causes


def _validate_volume_source(volume: core.Volume, path: str) -> list[Cause]:
    sources = [
        ("emptyDir", volume.empty_dir), ("hostPath", volume.host_path),
        ("configMap", volume.config_map), ("secret", volume.secret),
        ("downwardAPI", volume.downward_api), ("projected", volume.projected),
        ("persistentVolumeClaim", volume.persistent_volume_claim),
    ]  # fmt: skip
    present = [name for name, source in sources if source is not None]
    if not present:
        return [required(path, "must specify a volume type")]
    causes = [
        forbidden(f"{path}.{extra}", "may not specify more than 1 volume type")
        for extra in present[1:]
    ]
    if volume.host_path is not None and not volume.host_path.path:
        causes.append(required(f"{path}.hostPath.path"))
    if volume.config_map is not None and not volume.config_map.name:
        causes.append(required(f"{path}.configMap.name"))
    if volume.secret is not None and not volume.secret.secret_name:
        causes.append(required(f"{path}.secret.secretName"))
    pvc = volume.persistent_volume_claim
    if pvc is not None and not pvc.claim_name:
        causes.append(required(f"{path}.persistentVolumeClaim.claimName"))
    return causes


RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")


def validate_pod_spec(spec: core.PodSpec, path: str) -> list[Cause]:
    causes = validate_volumes(spec.volumes, f"{path}.volumes")
    volumes = {v.name for v in spec.volumes}
    seen: set[str] = set()
    causes += validate_containers(spec.init_containers, f"{path}.initContainers", volumes, seen)
    if not spec.containers:
        causes.append(required(f"{path}.containers"))
    causes += validate_containers(spec.containers, f"{path}.containers", volumes, seen)
    causes += one_of(f"{path}.restartPolicy", spec.restart_policy, RESTART_POLICIES)
    causes += one_of(f"{path}.dnsPolicy", spec.dns_policy, DNS_POLICIES)
    causes += non_negative(
        f"{path}.terminationGracePeriodSeconds", spec.termination_grace_period_seconds
    )
    causes += _active_deadline(f"{path}.activeDeadlineSeconds", spec.active_deadline_seconds)
    causes += names.validate_labels(spec.node_selector, f"{path}.nodeSelector")
    causes += _validate_dns_labels(spec, path)
    causes += _validate_tolerations(spec.tolerations, f"{path}.tolerations")
    causes += _validate_affinity(spec.affinity, f"{path}.affinity")
    causes += _validate_spread(spec.topology_spread_constraints, path)
    causes += validate_resource_list(spec.overhead, f"{path}.overhead")
    if spec.host_network:
        causes += _validate_host_network_ports(spec, path)
    return causes


def _validate_host_network_ports(spec: core.PodSpec, path: str) -> list[Cause]:
    """With the host's network a container port is a host port: the two must agree."""
    causes: list[Cause] = []
    for attr, containers in (("initContainers", spec.init_containers),
                             ("containers", spec.containers)):  # fmt: skip
        for i, container in enumerate(containers):
            for j, port in enumerate(container.ports):
                if port.host_port not in (None, 0, port.container_port):
                    at = f"{path}.{attr}[{i}].ports[{j}].hostPort"
                    detail = "must match `containerPort` when `hostNetwork` is true"
                    causes.append(invalid(at, port.host_port, detail))
    return causes


def _active_deadline(path: str, value: int | None) -> list[Cause]:
    if value is None or 1 <= value <= 2**31 - 1:
        return []
    return [invalid(path, value, "must be between 1 and 2147483647, inclusive")]


def _validate_dns_labels(spec: core.PodSpec, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for attr, value in (("hostname", spec.hostname), ("subdomain", spec.subdomain)):
        if value:
            causes += each(f"{path}.{attr}", value, names.is_dns1123_label(value))
    for attr, value in (
        ("serviceAccountName", spec.service_account_name),
        ("priorityClassName", spec.priority_class_name),
        ("nodeName", spec.node_name),
    ):
        if value:
            causes += each(f"{path}.{attr}", value, names.is_dns1123_subdomain(value))
    return causes


def _validate_tolerations(tolerations: list[core.Toleration], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, t in enumerate(tolerations):
        at = f"{path}[{i}]"
        if t.key:
            causes += each(f"{at}.key", t.key, names.is_qualified_name(t.key))
        elif t.operator != "Exists":
            detail = (
                "operator must be Exists when `key` is empty, which means "
                '"match all values and all keys"'
            )
            causes.append(invalid(f"{at}.operator", t.operator, detail))
        if t.operator == "Exists" and t.value:
            detail = "value must be empty when `operator` is 'Exists'"
            causes.append(invalid(f"{at}.operator", t.value, detail))
        elif t.operator not in ("", "Equal", "Exists"):
            causes.append(not_supported(f"{at}.operator", t.operator, ("Equal", "Exists")))
        if t.effect and t.effect not in TAINT_EFFECTS:
            causes.append(not_supported(f"{at}.effect", t.effect, TAINT_EFFECTS))
        if t.toleration_seconds is not None and t.effect != "NoExecute":
            detail = "effect must be 'NoExecute' when `tolerationSeconds` is set"
            causes.append(invalid(f"{at}.effect", t.effect, detail))
    return causes


NODE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def _validate_affinity(affinity: core.Affinity | None, path: str) -> list[Cause]:
    if affinity is None:
        return []
    causes: list[Cause] = []
    node = affinity.node_affinity
    if node is not None:
        at = f"{path}.nodeAffinity"
        required_terms = node.required_during_scheduling_ignored_during_execution
        if required_terms is not None:
            req_path = f"{at}.requiredDuringSchedulingIgnoredDuringExecution"
            if not required_terms.node_selector_terms:
                causes.append(
                    required(
                        f"{req_path}.nodeSelectorTerms", "must have at least one node selector term"
                    )
                )
            for i, term in enumerate(required_terms.node_selector_terms):
                causes += _validate_node_term(term, f"{req_path}.nodeSelectorTerms[{i}]")
        pref_path = f"{at}.preferredDuringSchedulingIgnoredDuringExecution"
        for i, pref in enumerate(node.preferred_during_scheduling_ignored_during_execution):
            causes += _weight(pref.weight, f"{pref_path}[{i}].weight")
            causes += _validate_node_term(pref.preference, f"{pref_path}[{i}].preference")
    for name, pod_aff in (
        ("podAffinity", affinity.pod_affinity),
        ("podAntiAffinity", affinity.pod_anti_affinity),
    ):
        if pod_aff is not None:
            causes += _validate_pod_affinity(pod_aff, f"{path}.{name}")
    return causes


def _weight(weight: int, path: str) -> list[Cause]:
    if 1 <= weight <= 100:
        return []
    return [invalid(path, weight, "must be in the range 1-100")]


def _validate_node_term(term: core.NodeSelectorTerm, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for attr, reqs in (
        ("matchExpressions", term.match_expressions),
        ("matchFields", term.match_fields),
    ):
        for i, req in enumerate(reqs):
            at = f"{path}.{attr}[{i}]"
            if req.operator not in NODE_OPERATORS:
                causes.append(not_supported(f"{at}.operator", req.operator, NODE_OPERATORS))
            elif req.operator in ("In", "NotIn") and not req.values:
                detail = "must be specified when `operator` is 'In' or 'NotIn'"
                causes.append(required(f"{at}.values", detail))
            elif req.operator in ("Exists", "DoesNotExist") and req.values:
                detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                causes.append(forbidden(f"{at}.values", detail))
            elif req.operator in ("Gt", "Lt") and len(req.values) != 1:
                detail = "must be specified single value when `operator` is 'Lt' or 'Gt'"
                causes.append(required(f"{at}.values", detail))
    return causes


def _validate_pod_affinity(aff: core.PodAffinity, path: str) -> list[Cause]:
    causes: list[Cause] = []
    req_path = f"{path}.requiredDuringSchedulingIgnoredDuringExecution"
    for i, term in enumerate(aff.required_during_scheduling_ignored_during_execution):
        causes += _validate_affinity_term(term, f"{req_path}[{i}]")
    pref_path = f"{path}.preferredDuringSchedulingIgnoredDuringExecution"
    for i, weighted in enumerate(aff.preferred_during_scheduling_ignored_during_execution):
        causes += _weight(weighted.weight, f"{pref_path}[{i}].weight")
        causes += _validate_affinity_term(
            weighted.pod_affinity_term, f"{pref_path}[{i}].podAffinityTerm"
        )
    return causes


def _validate_affinity_term(term: core.PodAffinityTerm, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not term.topology_key:
        causes.append(required(f"{path}.topologyKey", "can not be empty"))
    else:
        causes += each(
            f"{path}.topologyKey", term.topology_key, names.is_qualified_name(term.topology_key)
        )
    if term.label_selector is not None:
        causes += validate_label_selector(term.label_selector, f"{path}.labelSelector")
    for i, ns in enumerate(term.namespaces):
        causes += each(f"{path}.namespaces[{i}]", ns, names.is_dns1123_label(ns))
    return causes


def _validate_spread(constraints: list[core.TopologySpreadConstraint], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, c in enumerate(constraints):
        at = f"{path}.topologySpreadConstraints[{i}]"
        if c.max_skew <= 0:
            causes.append(invalid(f"{at}.maxSkew", c.max_skew, "must be greater than zero"))
        if not c.topology_key:
            causes.append(required(f"{at}.topologyKey", "can not be empty"))
        causes += one_of(
            f"{at}.whenUnsatisfiable", c.when_unsatisfiable, ("DoNotSchedule", "ScheduleAnyway")
        )
    return causes


POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def validate_pod(pod: core.Pod, old: core.Pod | None) -> list[Cause]:
    causes = validate_pod_spec(pod.spec, "spec")
    causes += validate_pod_status(pod, old)
    if old is not None:
        causes += _validate_pod_update(pod.spec, old.spec)
    return causes


def _validate_pod_update(new: core.PodSpec, old: core.PodSpec) -> list[Cause]:
    causes = _validate_deadline_update(new.active_deadline_seconds, old.active_deadline_seconds)
    if _mask_mutable(new, old) != old:
        causes.append(forbidden("spec", POD_UPDATE_MESSAGE))
    return causes


def _validate_deadline_update(new: int | None, old: int | None) -> list[Cause]:
    path = "spec.activeDeadlineSeconds"
    if old is not None and new is None:
        return [invalid(path, None, "must not update from a positive integer to nil value")]
    if old is not None and new is not None and new > old:
        return [invalid(path, new, "must be less than or equal to previous value")]
    return []


def _mask_mutable(new: core.PodSpec, old: core.PodSpec) -> core.PodSpec:
    """`new` with every change an update may make put back to `old`'s value: images, the
    deadline, added tolerations, removed scheduling gates, and the first nodeName."""
    masked = codec.deep_copy(new)
    pairs = ((masked.containers, old.containers), (masked.init_containers, old.init_containers))
    for mine, theirs in pairs:
        for container, previous in zip(mine, theirs, strict=False):
            container.image = previous.image
    masked.active_deadline_seconds = old.active_deadline_seconds
    if all(t in new.tolerations for t in old.tolerations):
        masked.tolerations = old.tolerations
    if all(g in old.scheduling_gates for g in new.scheduling_gates):
        masked.scheduling_gates = old.scheduling_gates
    if not old.node_name:
        masked.node_name = old.node_name
    return masked


def validate_binding(binding: core.Binding, old: Any) -> list[Cause]:
    causes: list[Cause] = []
    if not binding.target.name:
        causes.append(required("target.name"))
    if binding.target.kind not in ("", "Node"):
        causes.append(not_supported("target.kind", binding.target.kind, ("Node",)))
    return causes
