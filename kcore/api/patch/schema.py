"""Patch strategies of the built-in kinds, for strategic merge patch.

Transcribed from the `patchStrategy` / `patchMergeKey` struct tags of the Kubernetes API types
(core/v1, apps/v1, batch/v1, ...): a `Field` says how a JSON member merges, and a `Schema`
maps a struct's JSON member names to fields. Members absent from a schema use the defaults:
objects merge key by key, lists are replaced whole - which is also how kinds missing from
`KINDS` (custom resources) are patched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["KINDS", "Field", "Schema", "field_of", "schema_for"]

Strategy = Literal["", "merge", "replace"]


@dataclass(frozen=True, slots=True)
class Field:
    strategy: Strategy = ""
    merge_key: str = ""
    retain_keys: bool = False
    schema: Schema | None = None  # the struct inside (object member or list element)


Schema = Mapping[str, Field]
DEFAULT: Final = Field()


def field_of(schema: Schema | None, name: str) -> Field:
    return schema.get(name, DEFAULT) if schema else DEFAULT


def schema_for(kind: str) -> Schema | None:
    return KINDS.get(kind)


def _list(key: str, schema: Schema | None = None, *, retain: bool = False) -> Field:
    """A list merged element by element, matched on `key`."""
    return Field("merge", key, retain, schema)


def _obj(schema: Schema) -> Field:
    return Field(schema=schema)


_SET: Final = Field("merge")  # a list of scalars merged as a set
_TYPE_LIST: Final = _list("type")

OBJECT_META: Final[Schema] = {"finalizers": _SET, "ownerReferences": _list("uid")}
CONDITIONS: Final[Schema] = {"conditions": _TYPE_LIST}

CONTAINER: Final[Schema] = {
    "ports": _list("containerPort"),
    "env": _list("name"),
    "volumeMounts": _list("mountPath"),
    "volumeDevices": _list("devicePath"),
}
POD_SPEC: Final[Schema] = {
    "volumes": _list("name", retain=True),
    "initContainers": _list("name", CONTAINER),
    "containers": _list("name", CONTAINER),
    "ephemeralContainers": _list("name", CONTAINER),
    "imagePullSecrets": _list("name"),
    "hostAliases": _list("ip"),
    "topologySpreadConstraints": _list("topologyKey"),
    "resourceClaims": _list("name", retain=True),
    "schedulingGates": _list("name"),
}
POD_STATUS: Final[Schema] = {
    "conditions": _TYPE_LIST,
    "podIPs": _list("ip"),
    "hostIPs": _list("ip"),
    "resourceClaimStatuses": _list("name", retain=True),
}
POD_TEMPLATE: Final[Schema] = {"metadata": _obj(OBJECT_META), "spec": _obj(POD_SPEC)}


def _kind(spec: Schema | None = None, status: Schema = CONDITIONS, **top: Field) -> Schema:
    schema = {"metadata": _obj(OBJECT_META), "status": _obj(status), **top}
    if spec is not None:
        schema["spec"] = _obj(spec)
    return schema


_WITH_TEMPLATE: Final[Schema] = {"template": _obj(POD_TEMPLATE)}
JOB_SPEC: Final[Schema] = _WITH_TEMPLATE

# kinds whose only strategic members are metadata's and status.conditions
_PLAIN_KINDS: Final = (
    "Namespace", "ConfigMap", "Secret", "Endpoints", "EndpointSlice", "Event", "Lease",
    "PersistentVolume", "PersistentVolumeClaim", "HorizontalPodAutoscaler",
    "PodDisruptionBudget", "PriorityClass", "LimitRange", "ResourceQuota", "Binding",
    "ControllerRevision",
)  # fmt: skip

KINDS: Final[dict[str, Schema]] = {
    "Pod": _kind(POD_SPEC, POD_STATUS),
    "PodTemplate": _kind(template=_obj(POD_TEMPLATE)),
    "Deployment": _kind({**_WITH_TEMPLATE, "strategy": Field(retain_keys=True)}),
    "ReplicaSet": _kind(_WITH_TEMPLATE),
    "ReplicationController": _kind(_WITH_TEMPLATE),
    "DaemonSet": _kind(_WITH_TEMPLATE),
    "StatefulSet": _kind(_WITH_TEMPLATE),
    "Job": _kind(JOB_SPEC),
    "CronJob": _kind(
        {"jobTemplate": _obj({"metadata": _obj(OBJECT_META), "spec": _obj(JOB_SPEC)})}
    ),
    "Node": _kind({"podCIDRs": _SET}, {"conditions": _TYPE_LIST, "addresses": _list("type")}),
    "Service": _kind({"ports": _list("port")}),
    "ServiceAccount": _kind(secrets=_list("name")),
    **{kind: _kind() for kind in _PLAIN_KINDS},
}
