"""Which kinds exist: group, version, resource names, scope and Struct type of each.

The API server builds its routes, discovery and OpenAPI from this table; clients and
controllers use it to find a kind's resource path. Each model module registers its kinds with
`register(...)` at import; `kcore.api.kinds` imports them all.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    type: type[Any]
    list_kind: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # subresource name -> kind served there ("status": same kind, "scale": "Scale", ...)
    subresources: dict[str, str] = field(default_factory=dict)
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    # the `*List` Struct (kcore.api.kinds fills it for every built-in kind)
    list_type: builtins.type[Any] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


_BY_RESOURCE: dict[tuple[str, str, str], ResourceInfo] = {}
_BY_KIND: dict[tuple[str, str], ResourceInfo] = {}


def register(info: ResourceInfo) -> ResourceInfo:
    if not info.list_kind:
        object.__setattr__(info, "list_kind", f"{info.kind}List")
    _BY_RESOURCE[(info.group, info.version, info.plural)] = info
    _BY_KIND[(info.api_version, info.kind)] = info
    return info


def by_resource(group: str, version: str, plural: str) -> ResourceInfo | None:
    return _BY_RESOURCE.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> ResourceInfo | None:
    return _BY_KIND.get((api_version, kind))


def all_resources() -> list[ResourceInfo]:
    return list(_BY_RESOURCE.values())
