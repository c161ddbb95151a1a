"""meta/v1 types every kind is built from, and the base Structs the object model shares.

`Model` fixes the encoding of every Kubernetes Struct once: keyword-only, default values omitted,
and snake_case attributes renamed to Kubernetes' JSON names by `k8s_name` (camelCase that keeps
Kubernetes' acronyms: podIP, hostIPs, imageID, podCIDR, systemUUID, targetCPUUtilization...).
`TypeMeta` subclasses always encode `kind` and `apiVersion`: they default to "" (so a client may
omit them) and `__post_init__` fills in the class's KIND and API_VERSION.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

import msgspec

# Words Kubernetes spells in capitals inside a camelCase JSON name (never as the first word).
_ACRONYMS = {
    "ip": "IP",
    "ips": "IPs",
    "id": "ID",
    "uuid": "UUID",
    "cidr": "CIDR",
    "cidrs": "CIDRs",
    "cpu": "CPU",
    "pid": "PID",
    "ipc": "IPC",
}


def k8s_name(attr: str) -> str:
    """Map a snake_case attribute to its Kubernetes JSON name: pod_ip -> podIP."""
    first, *rest = attr.split("_")
    return first + "".join(_ACRONYMS.get(word) or word.capitalize() for word in rest)


class Model(msgspec.Struct, kw_only=True, omit_defaults=True, rename=k8s_name, gc=False):
    """Base of every Kubernetes Struct: kw-only, defaults omitted, Kubernetes field names.

    Structs holding fields that Kubernetes' OpenAPI marks required and whose zero value is
    meaningful (ready=false, restartCount=0, exitCode=0, status.replicas=0...) are declared
    `omit_defaults=False`: the official python client rejects objects missing them. Time fields
    in those Structs are `str | None`, since an empty string is not a valid timestamp there.
    """


class TypeMeta(Model):
    """A top-level object: `kind` and `apiVersion` are filled in and always encoded."""

    KIND: ClassVar[str] = ""
    API_VERSION: ClassVar[str] = ""

    kind: str = ""
    api_version: str = ""

    def __post_init__(self) -> None:
        if not self.kind:
            self.kind = self.KIND
        if not self.api_version:
            self.api_version = self.API_VERSION


class OwnerReference(Model):
    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(Model):
    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    self_link: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: str = ""
    deletion_timestamp: str = ""
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    owner_references: list[OwnerReference] = []
    finalizers: list[str] = []
    managed_fields: list[dict[str, Any]] = []


class ListMeta(Model):
    self_link: str = ""
    resource_version: str = ""
    continue_: str = msgspec.field(default="", name="continue")
    remaining_item_count: int | None = None
    shard_info: dict[str, Any] | None = None


class Object(TypeMeta):
    """A top-level object with ObjectMeta."""

    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)


class ListObject(TypeMeta, omit_defaults=False):
    """A `*List`: kind, apiVersion, metadata and items are always encoded (items even empty)."""

    metadata: ListMeta = msgspec.field(default_factory=ListMeta)


class LabelSelectorRequirement(Model):
    key: str = ""
    operator: str = ""
    values: list[str] = []


class LabelSelector(Model):
    match_labels: dict[str, str] = {}
    match_expressions: list[LabelSelectorRequirement] = []


class Condition(Model, omit_defaults=False):
    """metav1.Condition (the standard condition shape of newer APIs)."""

    type: str = ""
    status: str = ""
    observed_generation: int | None = None
    last_transition_time: str = ""
    reason: str = ""
    message: str = ""


class StatusCause(Model):
    reason: str = ""
    message: str = ""
    field: str = ""


class StatusDetails(Model):
    name: str = ""
    group: str = ""
    kind: str = ""
    uid: str = ""
    causes: list[StatusCause] = []
    retry_after_seconds: int | None = None


class Status(TypeMeta):
    KIND = "Status"
    API_VERSION = "v1"

    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    status: str = ""
    message: str = ""
    reason: str = ""
    details: StatusDetails | None = None
    code: int = 0


class Preconditions(Model):
    uid: str | None = None
    resource_version: str | None = None


class DeleteOptions(TypeMeta):
    KIND = "DeleteOptions"
    API_VERSION = "v1"

    grace_period_seconds: int | None = None
    preconditions: Preconditions | None = None
    orphan_dependents: bool | None = None
    propagation_policy: str | None = None
    dry_run: list[str] = []
    ignore_store_read_error_with_cluster_breaking_potential: bool | None = None


class WatchEvent(Model, omit_defaults=False):
    """A watch event as Kubernetes streams it: {"type": ..., "object": {...}}."""

    type: str = ""
    object: Any = None


class TableColumnDefinition(Model, omit_defaults=False):
    name: str = ""
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0


class TableRow(Model):
    cells: list[Any] = []
    conditions: list[dict[str, Any]] = []
    object: Any = None


class Table(TypeMeta, omit_defaults=False):
    KIND = "Table"
    API_VERSION = "meta.k8s.io/v1"

    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    column_definitions: list[TableColumnDefinition] = []
    rows: list[TableRow] = []


class PartialObjectMetadata(Object):
    KIND = "PartialObjectMetadata"
    API_VERSION = "meta.k8s.io/v1"


class APIResource(Model, omit_defaults=False):
    name: str = ""
    singular_name: str = ""
    namespaced: bool = False
    group: str = ""
    version: str = ""
    kind: str = ""
    verbs: list[str] = []
    short_names: list[str] = []
    categories: list[str] = []
    storage_version_hash: str = ""


class APIResourceList(TypeMeta, omit_defaults=False):
    KIND = "APIResourceList"
    API_VERSION = "v1"

    group_version: str = ""
    resources: list[APIResource] = []


# Typed watch events for kcore's own clients: a tagged union on "type", one Decoder per kind
# (see codec.watch_decoder), so a stream line decodes straight into the object's Struct.
T = TypeVar("T")


class Added(msgspec.Struct, Generic[T], tag_field="type", tag="ADDED"):
    object: T


class Modified(msgspec.Struct, Generic[T], tag_field="type", tag="MODIFIED"):
    object: T


class Deleted(msgspec.Struct, Generic[T], tag_field="type", tag="DELETED"):
    object: T


class Bookmark(msgspec.Struct, Generic[T], tag_field="type", tag="BOOKMARK"):
    object: T


class Error(msgspec.Struct, tag_field="type", tag="ERROR"):
    object: Status
