"""The served resources: lookup by URL, preferred versions, and storage keys.

Storage keys are `/registry/<resource>/<namespace>/<name>` (cluster-scoped:
`/registry/<resource>/<name>`), where `<resource>` is the plural for the core group and
`<plural>.<group>` otherwise (`/registry/deployments.apps/default/web`). A resource served in
more than one version (autoscaling v1 and v2 HPAs) is stored once per version: the preferred
version uses the plain prefix, others append `@<version>`
(`horizontalpodautoscalers.autoscaling@v2`) — kcore does no version conversion.
"""

from __future__ import annotations

import re
from functools import cache

import kcore.api.kinds  # noqa: F401  (fills the registry)
from kcore.api import registry
from kcore.api.registry import ResourceInfo

_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes' order: GA before beta before alpha, higher numbers first (as a sort key)."""
    m = _VERSION.match(version)
    if not m:
        return (3, 0, 0)
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0))


@cache
def group_versions() -> dict[str, list[str]]:
    """group -> versions, preferred first. autoscaling prefers v1 (kubectl autoscale posts it)."""
    found: dict[str, set[str]] = {}
    for info in registry.all_resources():
        found.setdefault(info.group, set()).add(info.version)
    ordered: dict[str, list[str]] = {}
    for group, versions in sorted(found.items()):
        order = sorted(versions, key=version_priority)
        if group == "autoscaling" and "v1" in order:
            order.remove("v1")
            order.insert(0, "v1")
        ordered[group] = order
    return ordered


def preferred_version(group: str) -> str:
    return group_versions()[group][0]


def lookup(group: str, version: str, plural: str) -> ResourceInfo | None:
    return registry.by_resource(group, version, plural)


def resources_of(group: str, version: str) -> list[ResourceInfo]:
    infos = [i for i in registry.all_resources() if i.group == group and i.version == version]
    return sorted(infos, key=lambda i: i.plural)


def storage_resource(info: ResourceInfo) -> str:
    base = info.group_resource
    if info.version != preferred_version(info.group):
        others = [v for v in group_versions()[info.group] if lookup(info.group, v, info.plural)]
        if len(others) > 1:
            return f"{base}@{info.version}"
    return base


def prefix(info: ResourceInfo, namespace: str = "") -> str:
    """Key prefix of all objects of `info` (in `namespace`, if given); ends with '/'."""
    base = f"/registry/{storage_resource(info)}/"
    return f"{base}{namespace}/" if namespace and info.namespaced else base


def key(info: ResourceInfo, namespace: str, name: str) -> str:
    return f"{prefix(info, namespace)}{name}"
