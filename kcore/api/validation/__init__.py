"""Validation of API objects on create and update, with Kubernetes' field paths and messages.

`validate(obj, old=None) -> list[Cause]` checks metadata (names per kind, labels, annotations,
owner references, finalizers, immutable identity on update) and then the kind's own rules. The
message of each Cause is Kubernetes' `field.Error.ErrorBody()` ("Invalid value: "Foo": ...",
"Required value", "Unsupported value: ...") so the API server's 422 reads like the real one.
Objects are expected to be defaulted first, as the API server does.

The rules live in one module per family (field errors, object meta, pods, services, cluster
kinds, workloads); this module dispatches by kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kcore.api import (
    apps,
    autoscaling,
    batch,
    coordination,
    core,
    discovery,
    names,
    policy,
    scheduling,
)
from kcore.api.errors import Cause
from kcore.api.validation.cluster import (
    validate_config_map,
    validate_event,
    validate_lease,
    validate_namespace,
    validate_node,
    validate_priority_class,
    validate_secret,
    validate_service_account,
)
from kcore.api.validation.field import fmt, forbidden, invalid, not_supported, required
from kcore.api.validation.objectmeta import (
    NameCheck,
    validate_label_selector,
    validate_object_meta,
    validate_object_meta_update,
)
from kcore.api.validation.pod import validate_binding, validate_pod
from kcore.api.validation.service import (
    validate_endpoint_slice,
    validate_endpoints,
    validate_service,
)
from kcore.api.validation.workloads import (
    validate_daemon_set,
    validate_deployment,
    validate_hpa_v1,
    validate_hpa_v2,
    validate_job,
    validate_pdb,
    validate_replica_set,
    validate_replication_controller,
)

__all__ = [
    "fmt",
    "forbidden",
    "invalid",
    "not_supported",
    "required",
    "validate",
    "validate_label_selector",
    "validate_object_meta",
]
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
