"""Validation of cluster and configuration kinds: Namespace, Node, ConfigMap, Secret,
ServiceAccount, Event, Lease and PriorityClass."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from kcore.api import coordination, core, names, scheduling
from kcore.api.errors import Cause
from kcore.api.validation.field import (
    TAINT_EFFECTS,
    each,
    forbidden,
    immutable,
    invalid,
    non_negative,
    not_supported,
    one_of,
    positive,
    required,
    too_long,
)
from kcore.api.validation.pod import validate_resource_list

MAX_USER_PRIORITY = 1_000_000_000
MAX_CONFIG_SIZE = 1024 * 1024
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def validate_namespace(ns: core.Namespace, old: Any) -> list[Cause]:
    causes: list[Cause] = []
    for i, finalizer in enumerate(ns.spec.finalizers):
        causes += each(f"spec.finalizers[{i}]", finalizer, names.is_qualified_name(finalizer))
    return causes


def validate_node(node: core.Node, old: core.Node | None) -> list[Cause]:
    causes: list[Cause] = []
    for i, taint in enumerate(node.spec.taints):
        at = f"spec.taints[{i}]"
        causes += each(f"{at}.key", taint.key, names.is_qualified_name(taint.key))
        if taint.value:
            causes += each(f"{at}.value", taint.value, names.is_valid_label_value(taint.value))
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
            causes += each(f"{field_name}[{key}]", key, is_config_key(key))
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


# keys a typed Secret must carry in data
SECRET_TYPE_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"


def validate_secret(secret: core.Secret, old: core.Secret | None) -> list[Cause]:
    causes = _validate_config_data(secret.data, {}, old, secret)
    for key, value in secret.data.items():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            redacted = "<secret contents redacted>"
            causes.append(invalid(f"data[{key}]", redacted, "illegal base64 data"))
    causes += _validate_secret_type(secret)
    if old is not None:
        causes += immutable("type", secret.type, old.type)
    return causes


def _validate_secret_type(secret: core.Secret) -> list[Cause]:
    causes = [
        required(f"data[{key}]")
        for key in SECRET_TYPE_KEYS.get(secret.type, ())
        if key not in secret.data
    ]
    if secret.type == "kubernetes.io/service-account-token" and not secret.metadata.annotations.get(
        SERVICE_ACCOUNT_NAME_KEY
    ):
        causes.append(required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_KEY}]"))
    if secret.type == "kubernetes.io/basic-auth" and not (
        secret.data.get("username") or secret.data.get("password")
    ):
        causes.append(required("data[username]"))
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


def validate_lease(lease: coordination.Lease, old: Any) -> list[Cause]:
    spec = lease.spec
    causes = positive("spec.leaseDurationSeconds", spec.lease_duration_seconds)
    causes += non_negative("spec.leaseTransitions", spec.lease_transitions)
    if spec.strategy is not None:
        causes += one_of("spec.strategy", spec.strategy, ("OldestEmulationVersion",))
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
