"""Server-side printing: meta.k8s.io Tables with kubectl's familiar columns per resource.

Each printer is (columns, row function); a column is (name, type, priority) and priority-1
columns show only with `-o wide`. Rows carry a PartialObjectMetadata (or the full object for
`includeObject=Object`) so kubectl can add NAMESPACE and label columns.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from kcore.apiserver.objects import Obj

Column = tuple[str, str, int]
RowFn = Callable[[Obj, datetime.datetime], list[Any]]
_NAME: Column = ("Name", "string", 0)
_AGE: Column = ("Age", "string", 0)


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration (45s, 3m20s, 47m, 5h, 3d4h, 400d, 2y)."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    minutes, hours = s // 60, s // 3600
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    if days < 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def _parse_time(s: str | None) -> datetime.datetime | None:
    if not s:
        return None
    try:
        t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=datetime.UTC)


def age(ts: str | None, now: datetime.datetime) -> str:
    t = _parse_time(ts)
    return "<unknown>" if t is None else human_duration((now - t).total_seconds())


def _created(obj: Obj, now: datetime.datetime) -> str:
    return age((obj.get("metadata") or {}).get("creationTimestamp"), now)


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _spec(obj: Obj) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Obj) -> dict[str, Any]:
    return obj.get("status") or {}


def _pod_reason(pod: Obj) -> str:
    status = _status(pod)
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_row(pod: Obj, now: datetime.datetime) -> list[Any]:
    statuses = _status(pod).get("containerStatuses") or []
    total = len(_spec(pod).get("containers") or [])
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    gates = _spec(pod).get("readinessGates") or []
    return [
        _name(pod),
        f"{ready}/{total}",
        _pod_reason(pod),
        restarts,
        _created(pod, now),
        _status(pod).get("podIP") or "<none>",
        _spec(pod).get("nodeName") or "<none>",
        _status(pod).get("nominatedNodeName") or "<none>",
        f"0/{len(gates)}" if gates else "<none>",
    ]


def _containers(obj: Obj) -> list[dict[str, Any]]:
    template = _spec(obj).get("template") or {}
    return list((template.get("spec") or {}).get("containers") or [])


def selector_string(sel: Any) -> str:
    if not sel:
        return "<none>"
    if isinstance(sel, dict) and ("matchLabels" in sel or "matchExpressions" in sel):
        parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
        for e in sel.get("matchExpressions") or []:
            op, vals = e.get("operator", ""), ",".join(e.get("values") or [])
            parts.append(
                {
                    "In": f"{e['key']} in ({vals})",
                    "NotIn": f"{e['key']} notin ({vals})",
                    "Exists": e["key"],
                    "DoesNotExist": f"!{e['key']}",
                }.get(op, "")
            )
        return ",".join(parts) or "<none>"
    if isinstance(sel, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>"
    return str(sel)


def _workload_wide(obj: Obj) -> list[Any]:
    cs = _containers(obj)
    return [
        ",".join(c.get("name", "") for c in cs),
        ",".join(c.get("image", "") for c in cs),
        selector_string(_spec(obj).get("selector")),
    ]


def _deployment_row(d: Obj, now: datetime.datetime) -> list[Any]:
    st = _status(d)
    ready = f"{st.get('readyReplicas', 0)}/{_spec(d).get('replicas', 1)}"
    return [
        _name(d),
        ready,
        st.get("updatedReplicas", 0),
        st.get("availableReplicas", 0),
        _created(d, now),
        *_workload_wide(d),
    ]


def _replicaset_row(r: Obj, now: datetime.datetime) -> list[Any]:
    st = _status(r)
    return [
        _name(r),
        _spec(r).get("replicas", 1),
        st.get("replicas", 0),
        st.get("readyReplicas", 0),
        _created(r, now),
        *_workload_wide(r),
    ]


def _service_ports(svc: Obj) -> str:
    out = []
    for p in _spec(svc).get("ports") or []:
        s = f"{p.get('port')}"
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _service_row(svc: Obj, now: datetime.datetime) -> list[Any]:
    spec = _spec(svc)
    ingress = (_status(svc).get("loadBalancer") or {}).get("ingress") or []
    external = [i.get("ip") or i.get("hostname", "") for i in ingress] + list(
        spec.get("externalIPs") or []
    )
    ext = ",".join(external) or ("<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    return [
        _name(svc),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        ext,
        _service_ports(svc),
        _created(svc, now),
        selector_string(spec.get("selector")),
    ]


def _node_status(node: Obj) -> str:
    ready = "Unknown"
    for c in _status(node).get("conditions") or []:
        if c.get("type") == "Ready":
            ready = "Ready" if c.get("status") == "True" else "NotReady"
    return f"{ready},SchedulingDisabled" if _spec(node).get("unschedulable") else ready


def _node_roles(node: Obj) -> str:
    roles = sorted(
        k.split("/", 1)[1]
        for k in ((node.get("metadata") or {}).get("labels") or {})
        if k.startswith("node-role.kubernetes.io/")
    )
    return ",".join(roles) or "<none>"


def _node_row(node: Obj, now: datetime.datetime) -> list[Any]:
    info = _status(node).get("nodeInfo") or {}
    addrs = {a.get("type"): a.get("address") for a in _status(node).get("addresses") or []}
    return [
        _name(node),
        _node_status(node),
        _node_roles(node),
        _created(node, now),
        info.get("kubeletVersion", ""),
        addrs.get("InternalIP") or "<none>",
        addrs.get("ExternalIP") or "<none>",
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _endpoints_row(ep: Obj, now: datetime.datetime) -> list[Any]:
    out = []
    for subset in ep.get("subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or []] or [None]
        for a in subset.get("addresses") or []:
            out += [a["ip"] if p is None else f"{a.get('ip')}:{p}" for p in ports]
    shown = ",".join(out[:3]) + (f" + {len(out) - 3} more..." if len(out) > 3 else "")
    return [_name(ep), shown or "<none>", _created(ep, now)]


def _event_row(ev: Obj, now: datetime.datetime) -> list[Any]:
    last = ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp")
    inv = ev.get("involvedObject") or {}
    obj = f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}"
    return [
        age(last, now),
        ev.get("type", ""),
        ev.get("reason", ""),
        obj,
        ev.get("message", ""),
        _name(ev),
    ]


def _hpa_row(h: Obj, now: datetime.datetime) -> list[Any]:
    spec, st = _spec(h), _status(h)
    ref = spec.get("scaleTargetRef") or {}
    return [
        _name(h),
        f"{ref.get('kind')}/{ref.get('name')}",
        _hpa_targets(spec, st),
        spec.get("minReplicas", 1),
        spec.get("maxReplicas"),
        st.get("currentReplicas", 0),
        _created(h, now),
    ]


def _hpa_targets(spec: Obj, st: Obj) -> str:
    """Kubernetes' formatHPAMetrics: 'current/target' per metric, at most two, then
    '+ N more...'; a v1 object's CPU fields read as its one cpu metric."""
    if "metrics" not in spec:  # autoscaling/v1
        target = spec.get("targetCPUUtilizationPercentage")
        if target is None:
            return "<none>"
        current = st.get("currentCPUUtilizationPercentage")
        return f"cpu: {'<unknown>' if current is None else f'{current}%'}/{target}%"
    metrics, statuses = spec.get("metrics") or [], st.get("currentMetrics") or []
    if not metrics:
        return "<none>"
    shown = [_hpa_metric(m, statuses[i] if i < len(statuses) else {}) for i, m in
             enumerate(metrics)]  # fmt: skip
    more = f" + {len(shown) - 2} more..." if len(shown) > 2 else ""
    return ", ".join(shown[:2]) + more


def _hpa_metric(m: Obj, status: Obj) -> str:
    kind = m.get("type", "")
    field = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
             "Object": "object", "External": "external"}.get(kind)  # fmt: skip
    if field is None:
        return "<unknown type>"
    source, current = m.get(field) or {}, (status.get(field) or {}).get("current")
    target = source.get("target") or {}
    name = f"{source.get('name')}: " if kind in ("Resource", "ContainerResource") else ""
    for key, avg in (("averageUtilization", ""), ("averageValue", " (avg)"), ("value", "")):
        if key in target:
            shown = (current or {}).get(key)
            pct = "%" if key == "averageUtilization" else ""
            suffix = avg if kind in ("Object", "External") else ""
            now = "<unknown>" if shown is None else f"{shown}{pct}"
            return f"{name}{now}/{target[key]}{pct}{suffix}"
    return f"{name}<unknown>/<auto>"


def _job_row(job: Obj, now: datetime.datetime) -> list[Any]:
    spec, st = _spec(job), _status(job)
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    state = next((t for t in ("Complete", "Failed", "Suspended") if conds.get(t) == "True"),
                 "Running")  # fmt: skip
    completions = f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}"
    start, end = _parse_time(st.get("startTime")), _parse_time(st.get("completionTime"))
    duration = human_duration(((end or now) - start).total_seconds()) if start else ""
    return [_name(job), state, completions, duration, _created(job, now), *_workload_wide(job)]


def _daemonset_row(ds: Obj, now: datetime.datetime) -> list[Any]:
    st = _status(ds)
    template = (_spec(ds).get("template") or {}).get("spec") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted((template.get("nodeSelector") or {}).items()))
    keys = ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
            "updatedNumberScheduled", "numberAvailable")  # fmt: skip
    counts = [st.get(k, 0) for k in keys]
    return [_name(ds), *counts, selector or "<none>", _created(ds, now), *_workload_wide(ds)]


def _simple(*extract: Callable[[Obj], Any]) -> RowFn:
    return lambda o, now: [_name(o), *(f(o) for f in extract), _created(o, now)]


_COLUMNS: dict[str, tuple[list[Column], RowFn]] = {
    "pods": (
        [
            _NAME,
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "integer", 0),
            _AGE,
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        _pod_row,
    ),
    "deployments": (
        [
            _NAME,
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            _AGE,
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _deployment_row,
    ),
    "replicasets": (
        [
            _NAME,
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            _AGE,
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _replicaset_row,
    ),
    "services": (
        [
            _NAME,
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            _AGE,
            ("Selector", "string", 1),
        ],
        _service_row,
    ),
    "nodes": (
        [
            _NAME,
            ("Status", "string", 0),
            ("Roles", "string", 0),
            _AGE,
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        _node_row,
    ),
    "endpoints": ([_NAME, ("Endpoints", "string", 0), _AGE], _endpoints_row),
    "events": (
        [
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Message", "string", 0),
            ("Name", "string", 1),
        ],
        _event_row,
    ),
    "namespaces": (
        [_NAME, ("Status", "string", 0), _AGE],
        _simple(lambda o: _status(o).get("phase", "Active")),
    ),
    "serviceaccounts": (
        [_NAME, ("Secrets", "integer", 0), _AGE],
        _simple(lambda o: len(o.get("secrets") or [])),
    ),
    "leases": (
        [_NAME, ("Holder", "string", 0), _AGE],
        _simple(lambda o: _spec(o).get("holderIdentity", "")),
    ),
    "configmaps": (
        [_NAME, ("Data", "integer", 0), _AGE],
        _simple(lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
    ),
    "secrets": (
        [_NAME, ("Type", "string", 0), ("Data", "integer", 0), _AGE],
        _simple(lambda o: o.get("type", "Opaque"), lambda o: len(o.get("data") or {})),
    ),
    "horizontalpodautoscalers": (
        [
            _NAME,
            ("Reference", "string", 0),
            ("Targets", "string", 0),
            ("MinPods", "string", 0),
            ("MaxPods", "string", 0),
            ("Replicas", "string", 0),
            _AGE,
        ],
        _hpa_row,
    ),
}
_WIDE_WORKLOAD: list[Column] = [
    ("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1)]  # fmt: skip
_COLUMNS["replicationcontrollers"] = _COLUMNS["replicasets"]
_COLUMNS["jobs"] = (
    [_NAME, ("Status", "string", 0), ("Completions", "string", 0), ("Duration", "string", 0),
     _AGE, *_WIDE_WORKLOAD],
    _job_row,
)  # fmt: skip
_COLUMNS["daemonsets"] = (
    [_NAME, ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0),
     ("Up-to-date", "integer", 0), ("Available", "integer", 0), ("Node Selector", "string", 0),
     _AGE, *_WIDE_WORKLOAD],
    _daemonset_row,
)  # fmt: skip
_COLUMNS["priorityclasses"] = (
    [_NAME, ("Value", "integer", 0), ("Global-Default", "boolean", 0), _AGE,
     ("PreemptionPolicy", "string", 0)],
    lambda o, now: [_name(o), o.get("value", 0), bool(o.get("globalDefault")), _created(o, now),
                    o.get("preemptionPolicy", "PreemptLowerPriority")],
)  # fmt: skip
_COLUMNS["poddisruptionbudgets"] = (
    [_NAME, ("Min Available", "string", 0), ("Max Unavailable", "string", 0),
     ("Allowed Disruptions", "integer", 0), _AGE],
    lambda o, now: [_name(o), _spec(o).get("minAvailable", "N/A"),
                    _spec(o).get("maxUnavailable", "N/A"),
                    _status(o).get("disruptionsAllowed", 0), _created(o, now)],
)  # fmt: skip
_COLUMNS["endpointslices"] = (
    [_NAME, ("AddressType", "string", 0), ("Ports", "string", 0), ("Endpoints", "string", 0),
     _AGE],
    lambda o, now: [_name(o), o.get("addressType", ""),
                    ",".join(str(p.get("port")) for p in o.get("ports") or []) or "<unset>",
                    ",".join(a for e in o.get("endpoints") or [] for a in e.get("addresses") or [])
                    or "<unset>", _created(o, now)],
)  # fmt: skip
_DEFAULT: tuple[list[Column], RowFn] = ([_NAME, _AGE], _simple())


def _column_defs(columns: list[Column]) -> list[dict[str, Any]]:
    return [
        {
            "name": n,
            "type": t,
            "format": "name" if n == "Name" and i == 0 else "",
            "description": "",
            "priority": p,
        }
        for i, (n, t, p) in enumerate(columns)
    ]


def _row_object(obj: Obj, include: str, table_version: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{table_version}",
        "metadata": obj.get("metadata") or {},
    }


def table(
    resource: str,
    objs: list[Obj],
    *,
    list_meta: dict[str, Any] | None = None,
    include: str = "Metadata",
    headers: bool = True,
    table_version: str = "v1",
    served: list[Obj] | None = None,
) -> dict[str, Any]:
    """A Table of `objs`. `served`: the objects as the request's version shows them, for the
    rows' objects, when the cells are printed from another version (the stored form)."""
    columns, row_fn = _COLUMNS.get(resource, _DEFAULT)
    now = datetime.datetime.now(datetime.UTC)
    rows = []
    for obj, shown in zip(objs, objs if served is None else served, strict=True):
        row: dict[str, Any] = {"cells": row_fn(obj, now)}
        ro = _row_object(shown, include, table_version)
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{table_version}",
        "metadata": list_meta or {},
        "columnDefinitions": _column_defs(columns) if headers else [],
        "rows": rows,
    }
