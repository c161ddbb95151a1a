"""Discovery documents built from the kind registry: /version, /api, /apis, /apis/<group>,
/api/v1 and /apis/<group>/<version>.

Only groups whose version endpoints answer are listed (kubectl fails every command on a group it
cannot read). Subresources appear as `<resource>/<sub>` entries; `…/scale` names
autoscaling/v1 Scale, which client-go's scale client reads.
"""

from __future__ import annotations

from typing import Any

from kcore.api.registry import ResourceInfo
from kcore.apiserver import resources

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-kcore",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# subresource -> (verbs, kind override, group, version); kind None: the parent's kind.
_SUBRESOURCES: dict[str, tuple[list[str], str | None, str, str]] = {
    "status": (["get", "patch", "update"], None, "", ""),
    "scale": (["get", "patch", "update"], "Scale", "autoscaling", "v1"),
    "binding": (["create"], "Binding", "", ""),
    "eviction": (["create"], "Eviction", "policy", "v1"),
    "log": (["get"], None, "", ""),
    "finalize": (["update"], None, "", ""),
    "exec": (["create", "get"], "PodExecOptions", "", ""),
}
SERVED_SUBRESOURCES = frozenset(_SUBRESOURCES)


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str) -> dict[str, Any]:
    versions = [
        {"groupVersion": f"{name}/{v}", "version": v} for v in resources.group_versions()[name]
    ]
    return {"name": name, "versions": versions, "preferredVersion": dict(versions[0])}


def api_group_list() -> dict[str, Any]:
    groups = [_group(g) for g in resources.group_versions() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(name: str) -> dict[str, Any] | None:
    if not name or name not in resources.group_versions():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def _resource_entry(info: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": sorted(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    return entry


def _subresource_entries(info: ResourceInfo) -> list[dict[str, Any]]:
    out = []
    for sub in sorted(info.subresources):
        if sub not in _SUBRESOURCES:
            continue
        verbs, kind, group, version = _SUBRESOURCES[sub]
        entry: dict[str, Any] = {
            "name": f"{info.plural}/{sub}",
            "singularName": "",
            "namespaced": info.namespaced,
            "kind": kind or info.kind,
            "verbs": verbs,
        }
        if group:
            entry["group"], entry["version"] = group, version
        out.append(entry)
    return out


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    infos = resources.resources_of(group, version)
    if not infos:
        return None
    entries = []
    for info in infos:
        entries.append(_resource_entry(info))
        entries.extend(_subresource_entries(info))
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}
