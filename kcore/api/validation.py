"""Validation of API objects on create and update, with Kubernetes' field paths and messages.

`validate(obj, old=None) -> list[Cause]` checks metadata (names per kind, labels, annotations,
owner references, finalizers, immutable identity on update) and then the kind's own rules. The
message of each Cause is Kubernetes' `field.Error.ErrorBody()` ("Invalid value: "Foo": ...",
"Required value", "Unsupported value: ...") so the API server's 422 reads like the real one.
Objects are expected to be defaulted first, as the API server does.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kcore.api import (
    apps,
    autoscaling,
    batch,
    codec,
    coordination,
    core,
    discovery,
    labels,
    names,
    policy,
    quantity,
    scheduling,
)
from kcore.api.errors import Cause
from kcore.api.meta import LabelSelector, ObjectMeta, OwnerReference

NODE_PORT_RANGE = (30000, 32767)
MAX_USER_PRIORITY = 1_000_000_000
MAX_CONFIG_SIZE = 1024 * 1024
STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
PORT_RANGE_MESSAGE = "must be between 1 and 65535, inclusive"
IMMUTABLE = "field is immutable"
PERCENT_MESSAGE = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)


# --- errors shaped like k8s.io/apimachinery/pkg/util/validation/field ---------------------------
def fmt(value: Any) -> str:
    """A value the way field.Error prints it (%q for strings, Go literals for the rest)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping):
        body = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in value.items())
        return f"map[string]string{{{body}}}"
    if value is None:
        return "null"
    return json.dumps(codec.to_dict(value), separators=(",", ":"))


def required(path: str, detail: str = "") -> Cause:
    message = f"Required value: {detail}" if detail else "Required value"
    return Cause(path, message, "FieldValueRequired")


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {fmt(value)}: {detail}", "FieldValueInvalid")


def not_supported(path: str, value: Any, valid: Iterable[str]) -> Cause:
    choices = ", ".join(json.dumps(v) for v in valid)
    message = f"Unsupported value: {fmt(value)}: supported values: {choices}"
    return Cause(path, message, "FieldValueNotSupported")


def duplicate(path: str, value: Any) -> Cause:
    return Cause(path, f"Duplicate value: {fmt(value)}", "FieldValueDuplicate")


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, f"Forbidden: {detail}", "FieldValueForbidden")


def not_found(path: str, value: Any) -> Cause:
    return Cause(path, f"Not found: {fmt(value)}", "FieldValueNotFound")


def too_long(path: str, limit: int) -> Cause:
    return Cause(path, f"Too long: may not be more than {limit} bytes", "FieldValueTooLong")


def _each(path: str, value: Any, messages: list[str]) -> list[Cause]:
    return [invalid(path, value, m) for m in messages]


def non_negative(path: str, value: int | None) -> list[Cause]:
    if value is not None and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def positive(path: str, value: int | None) -> list[Cause]:
    if value is not None and value <= 0:
        return [invalid(path, value, "must be greater than 0")]
    return []


def port_number(path: str, value: int | None) -> list[Cause]:
    if value is None or 1 <= value <= 65535:
        return []
    return [invalid(path, value, PORT_RANGE_MESSAGE)]


def one_of(path: str, value: str, valid: Iterable[str]) -> list[Cause]:
    options = list(valid)
    if not value:
        return [required(path)]
    return [] if value in options else [not_supported(path, value, options)]


def immutable(path: str, new: Any, old: Any) -> list[Cause]:
    return [] if new == old else [invalid(path, new, IMMUTABLE)]


# --- names -------------------------------------------------------------------------------------
NameCheck = Callable[[str], list[str]]


def _prefix_check(check: NameCheck) -> NameCheck:
    """generateName is a prefix: validated as a name with the trailing dash masked."""

    def check_prefix(value: str) -> list[str]:
        return check(value[:-1] + "a" if value.endswith("-") else value)

    return check_prefix


# --- metadata ----------------------------------------------------------------------------------
def validate_object_meta(
    meta: ObjectMeta, *, namespaced: bool, name_check: NameCheck, path: str = "metadata"
) -> list[Cause]:
    causes = _validate_name(meta, name_check, path)
    causes += _validate_namespace(meta, namespaced, path)
    causes += non_negative(f"{path}.generation", meta.generation)
    causes += names.validate_labels(meta.labels, f"{path}.labels")
    causes += names.validate_annotations(meta.annotations, f"{path}.annotations")
    causes += _validate_owner_references(meta, f"{path}.ownerReferences")
    causes += _validate_finalizers(meta.finalizers, f"{path}.finalizers")
    return causes


def _validate_name(meta: ObjectMeta, name_check: NameCheck, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if meta.generate_name:
        prefix_errors = _prefix_check(name_check)(meta.generate_name)
        causes += _each(f"{path}.generateName", meta.generate_name, prefix_errors)
    if not meta.name and not meta.generate_name:
        return [*causes, required(f"{path}.name", "name or generateName is required")]
    if meta.name:
        causes += _each(f"{path}.name", meta.name, name_check(meta.name))
    return causes


def _validate_namespace(meta: ObjectMeta, namespaced: bool, path: str) -> list[Cause]:
    if not namespaced:
        if meta.namespace:
            return [forbidden(f"{path}.namespace", "not allowed on this type")]
        return []
    if not meta.namespace:
        return [required(f"{path}.namespace")]
    return _each(f"{path}.namespace", meta.namespace, names.is_dns1123_label(meta.namespace))


def _validate_owner_references(meta: ObjectMeta, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, ref in enumerate(meta.owner_references):
        causes += _validate_owner_reference(ref, f"{path}[{i}]")
    controllers = [f"{r.kind}/{r.name}" for r in meta.owner_references if r.controller]
    if len(controllers) > 1:
        detail = (
            'Only one reference can have Controller set to true. Found "true" in references '
            f"for {controllers[0]} and {controllers[1]}"
        )
        causes.append(invalid(path, [codec.to_dict(r) for r in meta.owner_references], detail))
    return causes


def _validate_owner_reference(ref: OwnerReference, path: str) -> list[Cause]:
    checks = (
        ("apiVersion", ref.api_version, "version must not be empty"),
        ("kind", ref.kind, "kind must not be empty"),
        ("name", ref.name, "name must not be empty"),
        ("uid", ref.uid, "uid must not be empty"),
    )
    return [invalid(f"{path}.{attr}", value, msg) for attr, value, msg in checks if not value]


def _validate_finalizers(finalizers: list[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, name in enumerate(finalizers):
        at = f"{path}[{i}]"
        causes += _each(at, name, names.is_qualified_name(name))
        if "/" not in name and name not in STANDARD_FINALIZERS:
            detail = "name is neither a standard finalizer name nor is it fully qualified"
            causes.append(invalid(at, name, detail))
    return causes


def validate_object_meta_update(new: ObjectMeta, old: ObjectMeta) -> list[Cause]:
    causes = immutable("metadata.name", new.name, old.name)
    causes += immutable("metadata.namespace", new.namespace, old.namespace)
    if old.uid:
        causes += immutable("metadata.uid", new.uid, old.uid)
    if old.creation_timestamp:
        causes += immutable(
            "metadata.creationTimestamp", new.creation_timestamp, old.creation_timestamp
        )
    return causes


# --- label selectors -----------------------------------------------------------------------------
def validate_label_selector(selector: LabelSelector, path: str) -> list[Cause]:
    causes = names.validate_labels(selector.match_labels, f"{path}.matchLabels")
    for i, req in enumerate(selector.match_expressions):
        at = f"{path}.matchExpressions[{i}]"
        causes += _each(f"{at}.key", req.key, names.is_qualified_name(req.key))
        if req.operator in ("In", "NotIn") and not req.values:
            detail = "must be specified when `operator` is 'In' or 'NotIn'"
            causes.append(required(f"{at}.values", detail))
        elif req.operator in ("Exists", "DoesNotExist") and req.values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            causes.append(forbidden(f"{at}.values", detail))
        elif req.operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            causes.append(invalid(f"{at}.operator", req.operator, "not a valid selector operator"))
    return causes


def _selector_matches(selector: LabelSelector, template_labels: Mapping[str, str]) -> bool:
    try:
        return bool(labels.from_label_selector(selector).matches(template_labels))
    except ValueError:
        return False


# --- resources -----------------------------------------------------------------------------------
def validate_resource_list(resources: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for name, value in resources.items():
        at = f"{path}[{name}]"
        causes += _each(at, name, names.is_qualified_name(name))
        try:
            parsed = quantity.parse_quantity(value)
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
        if limit is not None and quantity.parse_quantity(request) > quantity.parse_quantity(limit):
            detail = f"must be less than or equal to {name} limit of {limit}"
            causes.append(invalid(f"{path}.requests[{name}]", request, detail))
    return causes


# --- containers ----------------------------------------------------------------------------------
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("SCTP", "TCP", "UDP")


def validate_containers(
    containers: list[core.Container], path: str, volumes: set[str], seen: set[str]
) -> list[Cause]:
    causes: list[Cause] = []
    for i, c in enumerate(containers):
        at = f"{path}[{i}]"
        if not c.name:
            causes.append(required(f"{at}.name"))
        else:
            causes += _each(f"{at}.name", c.name, names.is_dns1123_label(c.name))
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
            causes += _each(f"{at}.name", port.name, names.is_valid_port_name(port.name))
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
            causes += _each(f"{at}.name", var.name, names.is_env_var_name(var.name))
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
            causes += _each(f"{path}.{name}.port", port, names.is_valid_port_name(port))
    return causes


# --- volumes --------------------------------------------------------------------------------------
def validate_volumes(volumes: list[core.Volume], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, volume in enumerate(volumes):
        at = f"{path}[{i}]"
        if not volume.name:
            causes.append(required(f"{at}.name"))
        else:
            causes += _each(f"{at}.name", volume.name, names.is_dns1123_label(volume.name))
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


# --- pod spec ---------------------------------------------------------------------------------
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


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
    return causes


def _active_deadline(path: str, value: int | None) -> list[Cause]:
    if value is None or 1 <= value <= 2**31 - 1:
        return []
    return [invalid(path, value, "must be between 1 and 2147483647, inclusive")]


def _validate_dns_labels(spec: core.PodSpec, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for attr, value in (("hostname", spec.hostname), ("subdomain", spec.subdomain)):
        if value:
            causes += _each(f"{path}.{attr}", value, names.is_dns1123_label(value))
    for attr, value in (
        ("serviceAccountName", spec.service_account_name),
        ("priorityClassName", spec.priority_class_name),
        ("nodeName", spec.node_name),
    ):
        if value:
            causes += _each(f"{path}.{attr}", value, names.is_dns1123_subdomain(value))
    return causes


def _validate_tolerations(tolerations: list[core.Toleration], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, t in enumerate(tolerations):
        at = f"{path}[{i}]"
        if t.key:
            causes += _each(f"{at}.key", t.key, names.is_qualified_name(t.key))
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
        causes += _each(
            f"{path}.topologyKey", term.topology_key, names.is_qualified_name(term.topology_key)
        )
    if term.label_selector is not None:
        causes += validate_label_selector(term.label_selector, f"{path}.labelSelector")
    for i, ns in enumerate(term.namespaces):
        causes += _each(f"{path}.namespaces[{i}]", ns, names.is_dns1123_label(ns))
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


# --- kinds ---------------------------------------------------------------------------------------
POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def validate_pod(pod: core.Pod, old: core.Pod | None) -> list[Cause]:
    causes = validate_pod_spec(pod.spec, "spec")
    if old is not None:
        causes += _validate_pod_update(pod.spec, old.spec)
    return causes


def _validate_pod_update(new: core.PodSpec, old: core.PodSpec) -> list[Cause]:
    causes: list[Cause] = []
    if old.active_deadline_seconds is not None and new.active_deadline_seconds is None:
        causes.append(
            invalid(
                "spec.activeDeadlineSeconds",
                None,
                "must not update from a positive integer to nil value",
            )
        )
    elif (
        old.active_deadline_seconds is not None
        and new.active_deadline_seconds is not None
        and new.active_deadline_seconds > old.active_deadline_seconds
    ):
        causes.append(
            invalid(
                "spec.activeDeadlineSeconds",
                new.active_deadline_seconds,
                "must be less than or equal to previous value",
            )
        )
    masked = codec.deep_copy(new)
    for mine, theirs in (
        (masked.containers, old.containers),
        (masked.init_containers, old.init_containers),
    ):
        for container, previous in zip(mine, theirs, strict=False):
            container.image = previous.image
    masked.active_deadline_seconds = old.active_deadline_seconds
    if all(t in new.tolerations for t in old.tolerations):
        masked.tolerations = old.tolerations
    masked.node_name = masked.node_name if old.node_name else old.node_name
    if masked != old:
        causes.append(forbidden("spec", POD_UPDATE_MESSAGE))
    return causes


def validate_binding(binding: core.Binding, old: Any) -> list[Cause]:
    causes: list[Cause] = []
    if not binding.target.name:
        causes.append(required("target.name"))
    if binding.target.kind not in ("", "Node"):
        causes.append(not_supported("target.kind", binding.target.kind, ("Node",)))
    return causes


SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def validate_service(svc: core.Service, old: core.Service | None) -> list[Cause]:
    spec = svc.spec
    causes = one_of("spec.type", spec.type, SERVICE_TYPES)
    causes += one_of("spec.sessionAffinity", spec.session_affinity, ("ClientIP", "None"))
    causes += _validate_service_ports(spec)
    causes += names.validate_labels(spec.selector, "spec.selector")
    causes += _validate_cluster_ips(spec)
    if spec.type == "ExternalName" and not spec.external_name:
        causes.append(required("spec.externalName"))
    if spec.external_traffic_policy:
        if spec.type not in ("NodePort", "LoadBalancer"):
            detail = "may only be set when `type` is 'NodePort' or 'LoadBalancer'"
            causes.append(
                invalid("spec.externalTrafficPolicy", spec.external_traffic_policy, detail)
            )
        else:
            causes += one_of(
                "spec.externalTrafficPolicy", spec.external_traffic_policy, ("Cluster", "Local")
            )
    causes += _validate_session_timeout(spec)
    for i, ip in enumerate(spec.external_ips):
        causes += _ip("spec.externalIPs", i, ip)
    # an update that leaves clusterIP empty keeps the allocated one, as Kubernetes does
    if old is not None and old.spec.cluster_ip and spec.cluster_ip and spec.type != "ExternalName":
        causes += immutable("spec.clusterIP", spec.cluster_ip, old.spec.cluster_ip)
    return causes


def _validate_service_ports(spec: core.ServiceSpec) -> list[Cause]:
    causes: list[Cause] = []
    if not spec.ports and spec.type != "ExternalName" and spec.cluster_ip != "None":
        causes.append(required("spec.ports"))
    seen_names: set[str] = set()
    seen_ports: set[tuple[int, str]] = set()
    for i, port in enumerate(spec.ports):
        at = f"spec.ports[{i}]"
        if len(spec.ports) > 1 and not port.name:
            causes.append(required(f"{at}.name"))
        elif port.name:
            causes += _each(f"{at}.name", port.name, names.is_dns1123_label(port.name))
            if port.name in seen_names:
                causes.append(duplicate(f"{at}.name", port.name))
            seen_names.add(port.name)
        causes += port_number(f"{at}.port", port.port if port.port else -1)
        causes += one_of(f"{at}.protocol", port.protocol, PROTOCOLS)
        if (port.port, port.protocol) in seen_ports:
            causes.append(duplicate(at, codec.to_dict(port)))
        seen_ports.add((port.port, port.protocol))
        causes += _validate_target_port(port.target_port, f"{at}.targetPort")
        causes += _validate_node_port(spec.type, port.node_port, f"{at}.nodePort")
    return causes


def _validate_target_port(target: int | str | None, path: str) -> list[Cause]:
    if target is None:
        return []
    if isinstance(target, int):
        return port_number(path, target if target else -1)
    return _each(path, target, names.is_valid_port_name(target))


def _validate_node_port(svc_type: str, node_port: int | None, path: str) -> list[Cause]:
    if not node_port:
        return []
    if svc_type not in ("NodePort", "LoadBalancer"):
        return [forbidden(path, f"may not be used when `type` is '{svc_type}'")]
    low, high = NODE_PORT_RANGE
    if not low <= node_port <= high:
        detail = (
            f"provided port is not in the valid range. The range of valid ports is {low}-{high}"
        )
        return [invalid(path, node_port, detail)]
    return []


def _validate_cluster_ips(spec: core.ServiceSpec) -> list[Cause]:
    causes: list[Cause] = []
    if spec.cluster_ip and spec.cluster_ip != "None":
        causes += _ip("spec.clusterIP", None, spec.cluster_ip)
    if spec.cluster_ips and spec.cluster_ip and spec.cluster_ips[0] != spec.cluster_ip:
        detail = "must match `clusterIP` when set"
        causes.append(invalid("spec.clusterIPs[0]", spec.cluster_ips[0], detail))
    if spec.type == "ExternalName" and spec.cluster_ip:
        causes.append(forbidden("spec.clusterIP", "may not be set for ExternalName services"))
    return causes


def _validate_session_timeout(spec: core.ServiceSpec) -> list[Cause]:
    config = spec.session_affinity_config
    timeout = config.client_ip.timeout_seconds if config and config.client_ip else None
    if timeout is None:
        return []
    path = "spec.sessionAffinityConfig.clientIP.timeoutSeconds"
    if spec.session_affinity != "ClientIP":
        return [forbidden(path, "must not be set when `sessionAffinity` is None")]
    if not 0 < timeout <= 86400:
        return [invalid(path, timeout, "must be greater than 0 and less than 86400")]
    return []


def _ip(path: str, index: int | None, value: str) -> list[Cause]:
    at = path if index is None else f"{path}[{index}]"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return [invalid(at, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def validate_endpoints(ep: core.Endpoints, old: Any) -> list[Cause]:
    causes: list[Cause] = []
    for i, subset in enumerate(ep.subsets):
        at = f"subsets[{i}]"
        for attr, addresses in (
            ("addresses", subset.addresses),
            ("notReadyAddresses", subset.not_ready_addresses),
        ):
            for j, addr in enumerate(addresses):
                causes += _ip(f"{at}.{attr}[{j}].ip", None, addr.ip)
        for j, port in enumerate(subset.ports):
            causes += port_number(f"{at}.ports[{j}].port", port.port if port.port else -1)
            causes += one_of(f"{at}.ports[{j}].protocol", port.protocol, PROTOCOLS)
            if len(subset.ports) > 1 and not port.name:
                causes.append(required(f"{at}.ports[{j}].name"))
    return causes


def validate_endpoint_slice(es: discovery.EndpointSlice, old: Any) -> list[Cause]:
    causes = one_of("addressType", es.address_type, ("IPv4", "IPv6", "FQDN"))
    for i, endpoint in enumerate(es.endpoints):
        at = f"endpoints[{i}].addresses"
        if not 1 <= len(endpoint.addresses) <= 100:
            causes.append(required(at, "must contain at least 1 address"))
        if es.address_type in ("IPv4", "IPv6"):
            for j, address in enumerate(endpoint.addresses):
                causes += _ip(at, j, address)
    for i, port in enumerate(es.ports):
        causes += port_number(f"ports[{i}].port", port.port)
    if old is not None:
        causes += immutable("addressType", es.address_type, old.address_type)
    return causes


def validate_namespace(ns: core.Namespace, old: Any) -> list[Cause]:
    return []


def validate_node(node: core.Node, old: core.Node | None) -> list[Cause]:
    causes: list[Cause] = []
    for i, taint in enumerate(node.spec.taints):
        at = f"spec.taints[{i}]"
        causes += _each(f"{at}.key", taint.key, names.is_qualified_name(taint.key))
        if taint.value:
            causes += _each(f"{at}.value", taint.value, names.is_valid_label_value(taint.value))
        causes += one_of(f"{at}.effect", taint.effect, TAINT_EFFECTS)
    for i, cidr in enumerate(
        node.spec.pod_cidrs or ([node.spec.pod_cidr] if node.spec.pod_cidr else [])
    ):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            causes.append(invalid(f"spec.podCIDRs[{i}]", cidr, "must be a valid CIDR"))
    causes += validate_resource_list(node.status.capacity, "status.capacity")
    causes += validate_resource_list(node.status.allocatable, "status.allocatable")
    if old is not None and old.spec.pod_cidr:
        causes += _pod_cidr_update(node, old)
    return causes


def _pod_cidr_update(node: core.Node, old: core.Node) -> list[Cause]:
    if node.spec.pod_cidr != old.spec.pod_cidr:
        return [
            forbidden(
                "spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'
            )
        ]
    return []


def _validate_config_data(
    data: Mapping[str, str], binary: Mapping[str, str], old: Any, new_obj: Any
) -> list[Cause]:
    causes: list[Cause] = []
    size = 0
    for field_name, mapping in (("data", data), ("binaryData", binary)):
        for key, value in mapping.items():
            causes += _each(f"{field_name}[{key}]", key, is_config_key(key))
            size += len(value)
    for key in set(data) & set(binary):
        causes.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
    if size > MAX_CONFIG_SIZE:
        causes.append(too_long("", MAX_CONFIG_SIZE))
    if old is not None and old.immutable:
        causes += _immutable_config(new_obj, old)
    return causes


def _immutable_config(new: Any, old: Any) -> list[Cause]:
    causes: list[Cause] = []
    if not new.immutable:
        causes.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    if new.data != old.data:
        causes.append(forbidden("data", "field is immutable when `immutable` is set"))
    old_binary = getattr(old, "binary_data", None)
    if old_binary is not None and new.binary_data != old_binary:
        causes.append(forbidden("binaryData", "field is immutable when `immutable` is set"))
    return causes


def is_config_key(key: str) -> list[str]:
    errs: list[str] = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY.fullmatch(key):
        errs.append(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
            "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
            "'[-._a-zA-Z0-9]+')"
        )
    if key in (".", ".."):
        errs.append(f"must not be '{key}'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def validate_config_map(cm: core.ConfigMap, old: core.ConfigMap | None) -> list[Cause]:
    return _validate_config_data(cm.data, cm.binary_data, old, cm)


def validate_secret(secret: core.Secret, old: core.Secret | None) -> list[Cause]:
    causes = _validate_config_data(secret.data, {}, old, secret)
    for key, value in secret.data.items():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            causes.append(
                invalid(f"data[{key}]", "<secret contents redacted>", "illegal base64 data")
            )
    if secret.type == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in secret.data:
        causes.append(required("data[.dockerconfigjson]"))
    if old is not None:
        causes += immutable("type", secret.type, old.type)
    return causes


def validate_service_account(sa: core.ServiceAccount, old: Any) -> list[Cause]:
    return []


def validate_event(event: core.Event, old: Any) -> list[Cause]:
    causes: list[Cause] = []
    involved = event.involved_object
    if (
        involved.namespace
        and event.metadata.namespace
        and involved.namespace != event.metadata.namespace
    ):
        causes.append(
            invalid(
                "involvedObject.namespace", involved.namespace, "does not match event.namespace"
            )
        )
    if event.type and event.type not in ("Normal", "Warning"):
        causes.append(not_supported("type", event.type, ("Normal", "Warning")))
    return causes


# --- workloads --------------------------------------------------------------------------------
def _validate_template(
    template: core.PodTemplateSpec | None,
    selector_labels: Mapping[str, str] | LabelSelector | None,
    path: str,
    restart_policies: tuple[str, ...],
) -> list[Cause]:
    if template is None:
        return [required(path)]
    causes = names.validate_labels(template.metadata.labels, f"{path}.metadata.labels")
    causes += names.validate_annotations(
        template.metadata.annotations, f"{path}.metadata.annotations"
    )
    if selector_labels is not None and not _template_selected(
        selector_labels, template.metadata.labels
    ):
        detail = "`selector` does not match template `labels`"
        causes.append(invalid(f"{path}.metadata.labels", template.metadata.labels, detail))
    causes += validate_pod_spec(template.spec, f"{path}.spec")
    policy_path = f"{path}.spec.restartPolicy"
    causes = [c for c in causes if c.field != policy_path]
    if template.spec.restart_policy not in restart_policies:
        causes.append(not_supported(policy_path, template.spec.restart_policy, restart_policies))
    return causes


def _template_selected(
    selector: Mapping[str, str] | LabelSelector, template: Mapping[str, str]
) -> bool:
    if isinstance(selector, LabelSelector):
        return _selector_matches(selector, template)
    return all(template.get(k) == v for k, v in selector.items())


def _validate_selector(selector: LabelSelector | None, path: str) -> list[Cause]:
    if selector is None:
        return [required(path)]
    causes = validate_label_selector(selector, path)
    if not selector.match_labels and not selector.match_expressions:
        causes.append(invalid(path, selector, "empty selector is invalid for deployment"))
    return causes


def _selector_immutable(new: LabelSelector | None, old: LabelSelector | None) -> list[Cause]:
    return immutable("spec.selector", new, old) if old is not None else []


def _intstr_percent(value: int | str | None, path: str) -> tuple[list[Cause], float]:
    if value is None:
        return [], 0.0
    if isinstance(value, int):
        return non_negative(path, value), float(value)
    if not re.fullmatch(r"[0-9]+%", value):
        return [invalid(path, value, PERCENT_MESSAGE)], 0.0
    percent = int(value[:-1])
    if percent > 100:
        return [invalid(path, value, "must not be greater than 100%")], float(percent)
    return [], float(percent)


def _validate_rolling(
    max_unavailable: int | str | None, max_surge: int | str | None, path: str
) -> list[Cause]:
    unavailable_causes, unavailable = _intstr_percent(max_unavailable, f"{path}.maxUnavailable")
    surge_causes, surge = _intstr_percent(max_surge, f"{path}.maxSurge")
    causes = unavailable_causes + surge_causes
    if not causes and unavailable == 0 and surge == 0:
        detail = "may not be 0 when `maxSurge` is 0"
        causes.append(invalid(f"{path}.maxUnavailable", max_unavailable, detail))
    return causes


def validate_deployment(d: apps.Deployment, old: apps.Deployment | None) -> list[Cause]:
    spec = d.spec
    causes = non_negative("spec.replicas", spec.replicas)
    causes += _validate_selector(spec.selector, "spec.selector")
    causes += _validate_template(spec.template, spec.selector, "spec.template", ("Always",))
    causes += one_of("spec.strategy.type", spec.strategy.type, ("Recreate", "RollingUpdate"))
    rolling = spec.strategy.rolling_update
    if spec.strategy.type == "Recreate" and rolling is not None:
        detail = "may not be specified when strategy `type` is 'Recreate'"
        causes.append(forbidden("spec.strategy.rollingUpdate", detail))
    elif rolling is not None:
        causes += _validate_rolling(
            rolling.max_unavailable, rolling.max_surge, "spec.strategy.rollingUpdate"
        )
    causes += non_negative("spec.minReadySeconds", spec.min_ready_seconds)
    causes += non_negative("spec.revisionHistoryLimit", spec.revision_history_limit)
    deadline = spec.progress_deadline_seconds
    if deadline is not None and deadline <= spec.min_ready_seconds:
        causes.append(
            invalid(
                "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
            )
        )
    if old is not None:
        causes += _selector_immutable(spec.selector, old.spec.selector)
    return causes


def validate_replica_set(rs: apps.ReplicaSet, old: apps.ReplicaSet | None) -> list[Cause]:
    causes = non_negative("spec.replicas", rs.spec.replicas)
    causes += non_negative("spec.minReadySeconds", rs.spec.min_ready_seconds)
    causes += _validate_selector(rs.spec.selector, "spec.selector")
    causes += _validate_template(rs.spec.template, rs.spec.selector, "spec.template", ("Always",))
    if old is not None:
        causes += _selector_immutable(rs.spec.selector, old.spec.selector)
    return causes


def validate_replication_controller(
    rc: core.ReplicationController, old: core.ReplicationController | None
) -> list[Cause]:
    causes = non_negative("spec.replicas", rc.spec.replicas)
    if not rc.spec.selector:
        causes.append(required("spec.selector"))
    causes += names.validate_labels(rc.spec.selector, "spec.selector")
    causes += _validate_template(rc.spec.template, rc.spec.selector, "spec.template", ("Always",))
    return causes


def validate_daemon_set(ds: apps.DaemonSet, old: apps.DaemonSet | None) -> list[Cause]:
    causes = _validate_selector(ds.spec.selector, "spec.selector")
    causes += _validate_template(ds.spec.template, ds.spec.selector, "spec.template", ("Always",))
    strategy = ds.spec.update_strategy
    causes += one_of("spec.updateStrategy.type", strategy.type, ("OnDelete", "RollingUpdate"))
    if strategy.rolling_update is not None and strategy.type == "RollingUpdate":
        ru = strategy.rolling_update
        causes += _validate_rolling(
            ru.max_unavailable, ru.max_surge, "spec.updateStrategy.rollingUpdate"
        )
    causes += non_negative("spec.revisionHistoryLimit", ds.spec.revision_history_limit)
    if old is not None:
        causes += _selector_immutable(ds.spec.selector, old.spec.selector)
    return causes


def validate_job(job: batch.Job, old: batch.Job | None) -> list[Cause]:
    spec = job.spec
    causes = non_negative("spec.parallelism", spec.parallelism)
    causes += non_negative("spec.completions", spec.completions)
    causes += non_negative("spec.backoffLimit", spec.backoff_limit)
    causes += positive("spec.activeDeadlineSeconds", spec.active_deadline_seconds)
    causes += non_negative("spec.ttlSecondsAfterFinished", spec.ttl_seconds_after_finished)
    mode = spec.completion_mode or "NonIndexed"
    causes += one_of("spec.completionMode", mode, ("NonIndexed", "Indexed"))
    if mode == "Indexed" and spec.completions is None:
        causes.append(required("spec.completions", "when completion mode is Indexed"))
    if spec.selector is not None:
        causes += validate_label_selector(spec.selector, "spec.selector")
    selector = spec.selector if spec.selector is not None else None
    causes += _validate_job_template(spec.template, selector)
    if old is not None:
        causes += _validate_job_update(spec, old.spec)
    return causes


def _validate_job_template(
    template: core.PodTemplateSpec, selector: LabelSelector | None
) -> list[Cause]:
    return _validate_template(template, selector, "spec.template", ("OnFailure", "Never"))


def _validate_job_update(new: batch.JobSpec, old: batch.JobSpec) -> list[Cause]:
    causes = immutable("spec.selector", new.selector, old.selector)
    causes += immutable("spec.completionMode", new.completion_mode, old.completion_mode)
    if (new.completion_mode or "NonIndexed") == "NonIndexed":
        causes += immutable("spec.completions", new.completions, old.completions)
    if not old.suspend and new.template != old.template:
        causes.append(invalid("spec.template", new.template, IMMUTABLE))
    return causes


def validate_lease(lease: coordination.Lease, old: Any) -> list[Cause]:
    spec = lease.spec
    causes = positive("spec.leaseDurationSeconds", spec.lease_duration_seconds)
    causes += non_negative("spec.leaseTransitions", spec.lease_transitions)
    if spec.strategy is not None:
        causes += one_of("spec.strategy", spec.strategy, ("OldestEmulationVersion",))
    return causes


def _validate_hpa_common(
    min_replicas: int | None, max_replicas: int, kind: str, name: str
) -> list[Cause]:
    causes: list[Cause] = []
    if min_replicas is not None and min_replicas < 1:
        causes.append(
            invalid("spec.minReplicas", min_replicas, "must be greater than or equal to 1")
        )
    if max_replicas < 1:
        causes.append(invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    elif min_replicas is not None and max_replicas < min_replicas:
        causes.append(
            invalid(
                "spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"
            )
        )
    if not kind:
        causes.append(required("spec.scaleTargetRef.kind"))
    if not name:
        causes.append(required("spec.scaleTargetRef.name"))
    return causes


def validate_hpa_v1(hpa: autoscaling.HorizontalPodAutoscaler, old: Any) -> list[Cause]:
    spec = hpa.spec
    ref = spec.scale_target_ref
    causes = _validate_hpa_common(spec.min_replicas, spec.max_replicas, ref.kind, ref.name)
    target = spec.target_cpu_utilization_percentage
    if target is not None and target < 1:
        causes.append(
            invalid(
                "spec.targetCPUUtilizationPercentage", target, "must be greater than or equal to 1"
            )
        )
    return causes


METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
TARGET_TYPES = ("AverageValue", "Utilization", "Value")


def validate_hpa_v2(hpa: autoscaling.HorizontalPodAutoscalerV2, old: Any) -> list[Cause]:
    spec = hpa.spec
    ref = spec.scale_target_ref
    causes = _validate_hpa_common(spec.min_replicas, spec.max_replicas, ref.kind, ref.name)
    for i, metric in enumerate(spec.metrics):
        causes += _validate_metric(metric, f"spec.metrics[{i}]")
    return causes


def _validate_metric(metric: autoscaling.MetricSpec, path: str) -> list[Cause]:
    causes = one_of(f"{path}.type", metric.type, METRIC_TYPES)
    if causes:
        return causes
    field_name = metric.type[0].lower() + metric.type[1:]
    source = getattr(
        metric, "container_resource" if metric.type == "ContainerResource" else field_name
    )
    if source is None:
        return [
            required(
                f"{path}.{field_name}", "must populate information for the given metric source"
            )
        ]
    target: autoscaling.MetricTarget = source.target
    causes += one_of(f"{path}.{field_name}.target.type", target.type, TARGET_TYPES)
    if target.type == "Utilization" and target.average_utilization is None:
        causes.append(
            required(
                f"{path}.{field_name}.target.averageUtilization",
                "must set either a target raw value or a target utilization",
            )
        )
    return causes


def validate_priority_class(
    pc: scheduling.PriorityClass, old: scheduling.PriorityClass | None
) -> list[Cause]:
    causes: list[Cause] = []
    if pc.value > MAX_USER_PRIORITY and not pc.metadata.name.startswith("system-"):
        causes.append(
            forbidden(
                "value", f"maximum allowed value of a user defined priority is {MAX_USER_PRIORITY}"
            )
        )
    if pc.preemption_policy is not None:
        causes += one_of(
            "preemptionPolicy", pc.preemption_policy, ("Never", "PreemptLowerPriority")
        )
    if old is not None and pc.value != old.value:
        causes.append(forbidden("value", "may not be changed in an update."))
    return causes


def validate_pdb(pdb: policy.PodDisruptionBudget, old: Any) -> list[Cause]:
    spec = pdb.spec
    causes: list[Cause] = []
    if spec.min_available is not None and spec.max_unavailable is not None:
        causes.append(
            invalid(
                "spec", codec.to_dict(spec), "minAvailable and maxUnavailable cannot be both set"
            )
        )
    for attr, value in (
        ("minAvailable", spec.min_available),
        ("maxUnavailable", spec.max_unavailable),
    ):
        causes += _intstr_percent(value, f"spec.{attr}")[0]
    if spec.selector is not None:
        causes += validate_label_selector(spec.selector, "spec.selector")
    return causes


# --- dispatch -------------------------------------------------------------------------------------
Validator = Callable[[Any, Any], list[Cause]]
_SUBDOMAIN: NameCheck = names.is_dns1123_subdomain

# kind -> (validator, namespaced, name check)
_KINDS: dict[type[Any], tuple[Validator, bool, NameCheck]] = {
    core.Pod: (validate_pod, True, _SUBDOMAIN),
    core.Binding: (validate_binding, True, _SUBDOMAIN),
    core.Service: (validate_service, True, names.is_dns1035_label),
    core.Endpoints: (validate_endpoints, True, _SUBDOMAIN),
    core.Namespace: (validate_namespace, False, names.is_dns1123_label),
    core.Node: (validate_node, False, _SUBDOMAIN),
    core.ConfigMap: (validate_config_map, True, _SUBDOMAIN),
    core.Secret: (validate_secret, True, _SUBDOMAIN),
    core.ServiceAccount: (validate_service_account, True, _SUBDOMAIN),
    core.Event: (validate_event, True, _SUBDOMAIN),
    core.ReplicationController: (validate_replication_controller, True, _SUBDOMAIN),
    apps.Deployment: (validate_deployment, True, _SUBDOMAIN),
    apps.ReplicaSet: (validate_replica_set, True, _SUBDOMAIN),
    apps.DaemonSet: (validate_daemon_set, True, _SUBDOMAIN),
    batch.Job: (validate_job, True, _SUBDOMAIN),
    coordination.Lease: (validate_lease, True, _SUBDOMAIN),
    autoscaling.HorizontalPodAutoscaler: (validate_hpa_v1, True, _SUBDOMAIN),
    autoscaling.HorizontalPodAutoscalerV2: (validate_hpa_v2, True, _SUBDOMAIN),
    discovery.EndpointSlice: (validate_endpoint_slice, True, _SUBDOMAIN),
    scheduling.PriorityClass: (validate_priority_class, False, _SUBDOMAIN),
    policy.PodDisruptionBudget: (validate_pdb, True, _SUBDOMAIN),
}


def validate(obj: Any, *, old: Any = None) -> list[Cause]:
    """All field errors of `obj` (on update, against `old`): empty when valid.

    Kinds without rules of their own (leases' siblings, metrics...) get metadata checks only,
    scoped by the registry entry of their apiVersion/kind.
    """
    entry = _KINDS.get(type(obj))
    namespaced = entry[1] if entry else _namespaced(obj)
    name_check = entry[2] if entry else _SUBDOMAIN
    causes = validate_object_meta(obj.metadata, namespaced=namespaced, name_check=name_check)
    if old is not None:
        causes += validate_object_meta_update(obj.metadata, old.metadata)
    if entry is not None:
        causes += entry[0](obj, old)
    return causes


def _namespaced(obj: Any) -> bool:
    from kcore.api.registry import by_kind

    info = by_kind(getattr(obj, "api_version", ""), getattr(obj, "kind", ""))
    return True if info is None else info.namespaced
