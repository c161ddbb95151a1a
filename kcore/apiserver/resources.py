"""The served resources: lookup by URL, preferred versions, and storage keys.

Storage keys are `/registry/<resource>/<namespace>/<name>` (cluster-scoped:
`/registry/<resource>/<name>`), where `<resource>` is the plural for the core group and
`<plural>.<group>` otherwise (`/registry/deployments.apps/default/web`). A resource served in
more than one version (autoscaling v1 and v2 HPAs) is stored once, in its storage version (the
group's preferred version, as Kubernetes' storage version: autoscaling/v2), under that one
prefix; the other versions are views converted at the API boundary (`objects.Conversion`).
Data dirs from kcore releases that stored each version apart hold objects of another version's
shape under the plain prefix and others under `<plural>.<group>@<version>` (`legacy_prefix`);
the API server migrates them into the one layout at startup
(`resource_store.migrate_layout`).
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
    """group -> versions, preferred first, in Kubernetes' priority order (autoscaling: v2, v1,
    as Kubernetes 1.32's discovery)."""
    found: dict[str, set[str]] = {}
    for info in registry.all_resources():
        found.setdefault(info.group, set()).add(info.version)
    return {g: sorted(vs, key=version_priority) for g, vs in sorted(found.items())}


def preferred_version(group: str) -> str:
    return group_versions()[group][0]


def lookup(group: str, version: str, plural: str) -> ResourceInfo | None:
    return registry.by_resource(group, version, plural)


def resources_of(group: str, version: str) -> list[ResourceInfo]:
    infos = [i for i in registry.all_resources() if i.group == group and i.version == version]
    return sorted(infos, key=lambda i: i.plural)


def served_versions(info: ResourceInfo) -> list[ResourceInfo]:
    """Every served version of `info`'s resource, preferred first."""
    found = (lookup(info.group, v, info.plural) for v in group_versions()[info.group])
    return [i for i in found if i is not None]


def storage_info(info: ResourceInfo) -> ResourceInfo:
    """The version `info`'s objects are stored in: the most preferred one serving them."""
    return served_versions(info)[0]


def legacy_prefix(info: ResourceInfo) -> str:
    """Where older kcore data dirs kept `info`'s version of a resource served in several
    versions when it was not the preferred one (each version stored apart, in its shape)."""
    return f"/registry/{info.group_resource}@{info.version}/"


def prefix(info: ResourceInfo, namespace: str = "") -> str:
    """Key prefix of all objects of `info` (in `namespace`, if given); ends with '/'."""
    base = f"/registry/{info.group_resource}/"
    return f"{base}{namespace}/" if namespace and info.namespaced else base


def key(info: ResourceInfo, namespace: str, name: str) -> str:
    return f"{prefix(info, namespace)}{name}"
