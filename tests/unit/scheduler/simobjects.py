"""Node and Pod objects for the scheduler daemon's unit tests (no server involved)."""

from __future__ import annotations

from typing import Any

from kcore.api.codec import from_dict
from kcore.api.core import Node, Pod


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: int = 110, **meta: Any) -> Node:
    capacity = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    spec = {k: meta.pop(k) for k in ("taints", "unschedulable") if k in meta}
    return from_dict(
        Node,
        {
            "metadata": {"name": name, "labels": meta.pop("labels", {})},
            "spec": spec,
            "status": {
                "capacity": capacity,
                "allocatable": capacity,
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        },
    )


def pod(name: str, *, cpu: str | None = "100m", memory: str | None = None, **spec: Any) -> Pod:
    """A one-container pod; other keyword arguments are PodSpec fields in JSON spelling,
    except `labels`, `namespace`, `deletionTimestamp` and `phase`."""
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: dict[str, Any] = {"name": "c", "image": "x", "resources": {"requests": requests}}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    meta = {
        "name": name,
        "namespace": spec.pop("namespace", "default"),
        "uid": f"uid-{name}",
        "labels": spec.pop("labels", {}),
    }
    if "deletionTimestamp" in spec:
        meta["deletionTimestamp"] = spec.pop("deletionTimestamp")
    status = {"phase": spec.pop("phase")} if "phase" in spec else {}
    doc = {"metadata": meta, "spec": {"containers": [container], **spec}, "status": status}
    return from_dict(Pod, doc)
