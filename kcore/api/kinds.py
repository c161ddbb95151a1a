"""The table of built-in kinds: importing this module fills kcore.api.registry.

One row per served resource with Kubernetes' names (plural, singular, short names), scope,
categories ("all" only for workload kinds, as `kubectl get all` expects) and subresources.
"""

from __future__ import annotations

from typing import Any

from kcore.api import (
    apps,
    autoscaling,
    batch,
    coordination,
    core,
    discovery,
    meta,
    metrics,
    policy,
    scheduling,
)
from kcore.api.registry import ResourceInfo, register

READ_ONLY = ("get", "list")
ALL = ("all",)


def _add(
    group: str,
    version: str,
    kind_type: type[Any],
    list_type: type[Any] | None,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    sub: dict[str, str] | None = None,
    verbs: tuple[str, ...] | None = None,
) -> ResourceInfo:
    extra: dict[str, Any] = {"verbs": verbs} if verbs else {}
    return register(
        ResourceInfo(
            group=group,
            version=version,
            kind=kind_type.KIND,
            plural=plural,
            singular=kind_type.KIND.lower(),
            namespaced=namespaced,
            type=kind_type,
            list_kind=f"{kind_type.KIND}List",
            short_names=short,
            categories=categories,
            subresources=dict(sub or {}),
            list_type=list_type,
            **extra,
        )
    )


# core/v1
PODS = _add(
    "",
    "v1",
    core.Pod,
    core.PodList,
    "pods",
    short=("po",),
    categories=ALL,
    sub={
        "status": "Pod",
        "binding": "Binding",
        "eviction": "Eviction",
        "log": "Pod",
        "exec": "PodExecOptions",
    },
)
SERVICES = _add(
    "",
    "v1",
    core.Service,
    core.ServiceList,
    "services",
    short=("svc",),
    categories=ALL,
    sub={"status": "Service"},
)
ENDPOINTS = _add("", "v1", core.Endpoints, core.EndpointsList, "endpoints", short=("ep",))
NAMESPACES = _add(
    "",
    "v1",
    core.Namespace,
    core.NamespaceList,
    "namespaces",
    namespaced=False,
    short=("ns",),
    sub={"status": "Namespace", "finalize": "Namespace"},
)
NODES = _add(
    "",
    "v1",
    core.Node,
    core.NodeList,
    "nodes",
    namespaced=False,
    short=("no",),
    sub={"status": "Node"},
)
CONFIGMAPS = _add("", "v1", core.ConfigMap, core.ConfigMapList, "configmaps", short=("cm",))
SECRETS = _add("", "v1", core.Secret, core.SecretList, "secrets")
SERVICEACCOUNTS = _add(
    "",
    "v1",
    core.ServiceAccount,
    core.ServiceAccountList,
    "serviceaccounts",
    short=("sa",),
    sub={"token": "TokenRequest"},
)
EVENTS = _add("", "v1", core.Event, core.EventList, "events", short=("ev",))
REPLICATIONCONTROLLERS = _add(
    "",
    "v1",
    core.ReplicationController,
    core.ReplicationControllerList,
    "replicationcontrollers",
    short=("rc",),
    categories=ALL,
    sub={"status": "ReplicationController", "scale": "Scale"},
)
BINDINGS = _add("", "v1", core.Binding, None, "bindings", verbs=("create",))

# apps/v1
DEPLOYMENTS = _add(
    "apps",
    "v1",
    apps.Deployment,
    apps.DeploymentList,
    "deployments",
    short=("deploy",),
    categories=ALL,
    sub={"status": "Deployment", "scale": "Scale"},
)
REPLICASETS = _add(
    "apps",
    "v1",
    apps.ReplicaSet,
    apps.ReplicaSetList,
    "replicasets",
    short=("rs",),
    categories=ALL,
    sub={"status": "ReplicaSet", "scale": "Scale"},
)
DAEMONSETS = _add(
    "apps",
    "v1",
    apps.DaemonSet,
    apps.DaemonSetList,
    "daemonsets",
    short=("ds",),
    categories=ALL,
    sub={"status": "DaemonSet"},
)
CONTROLLERREVISIONS = _add(
    "apps", "v1", apps.ControllerRevision, apps.ControllerRevisionList, "controllerrevisions"
)

# batch/v1
JOBS = _add("batch", "v1", batch.Job, batch.JobList, "jobs", categories=ALL, sub={"status": "Job"})

# coordination.k8s.io/v1
LEASES = _add("coordination.k8s.io", "v1", coordination.Lease, coordination.LeaseList, "leases")

# autoscaling/v1 and v2
HPA_V1 = _add(
    "autoscaling",
    "v1",
    autoscaling.HorizontalPodAutoscaler,
    autoscaling.HorizontalPodAutoscalerList,
    "horizontalpodautoscalers",
    short=("hpa",),
    categories=ALL,
    sub={"status": "HorizontalPodAutoscaler"},
)
HPA_V2 = _add(
    "autoscaling",
    "v2",
    autoscaling.HorizontalPodAutoscalerV2,
    autoscaling.HorizontalPodAutoscalerListV2,
    "horizontalpodautoscalers",
    short=("hpa",),
    categories=ALL,
    sub={"status": "HorizontalPodAutoscaler"},
)

# discovery.k8s.io/v1
ENDPOINTSLICES = _add(
    "discovery.k8s.io",
    "v1",
    discovery.EndpointSlice,
    discovery.EndpointSliceList,
    "endpointslices",
)

# scheduling.k8s.io/v1
PRIORITYCLASSES = _add(
    "scheduling.k8s.io",
    "v1",
    scheduling.PriorityClass,
    scheduling.PriorityClassList,
    "priorityclasses",
    namespaced=False,
    short=("pc",),
)

# policy/v1
PODDISRUPTIONBUDGETS = _add(
    "policy",
    "v1",
    policy.PodDisruptionBudget,
    policy.PodDisruptionBudgetList,
    "poddisruptionbudgets",
    short=("pdb",),
    sub={"status": "PodDisruptionBudget"},
)

# metrics.k8s.io/v1beta1 (read-only, computed by the API server from kubelet stats)
POD_METRICS = _add(
    "metrics.k8s.io",
    "v1beta1",
    metrics.PodMetrics,
    metrics.PodMetricsList,
    "pods",
    verbs=READ_ONLY,
)
NODE_METRICS = _add(
    "metrics.k8s.io",
    "v1beta1",
    metrics.NodeMetrics,
    metrics.NodeMetricsList,
    "nodes",
    namespaced=False,
    verbs=READ_ONLY,
)

# Kinds that are not resources of their own: subresource bodies and meta/v1 envelopes.
SUBRESOURCE_TYPES: dict[tuple[str, str], type[Any]] = {
    ("autoscaling/v1", "Scale"): autoscaling.Scale,
    ("policy/v1", "Eviction"): policy.Eviction,
    ("v1", "Binding"): core.Binding,
}
META_TYPES: dict[tuple[str, str], type[Any]] = {
    ("v1", "Status"): meta.Status,
    ("v1", "DeleteOptions"): meta.DeleteOptions,
    ("meta.k8s.io/v1", "DeleteOptions"): meta.DeleteOptions,
    ("meta.k8s.io/v1", "Table"): meta.Table,
    ("meta.k8s.io/v1", "PartialObjectMetadata"): meta.PartialObjectMetadata,
    ("v1", "APIResourceList"): meta.APIResourceList,
}
