"""Turn a request path and method into what it asks for: the API group/version, namespace,
resource, name, subresource and verb (Kubernetes' RequestInfo).

Paths: `/api/v1/...` for the core group, `/apis/<group>/<version>/...` otherwise; then either
`namespaces/<ns>/<resource>[/<name>[/<sub>]]` or `<resource>[/<name>[/<sub>]]`.
`namespaces/<name>/status` and `namespaces/<name>/finalize` address the namespace itself.
"""

from __future__ import annotations

from dataclasses import dataclass

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})


def parse_bool(value: str | None) -> bool:
    """Go's strconv.ParseBool truthy values (the Python client sends `watch=True`)."""
    return value in _TRUE


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """A resource request; `verb` is Kubernetes' (get, list, watch, create, update, patch,
    delete, deletecollection)."""

    group: str
    version: str
    resource: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    verb: str = ""


def split_path(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def parse_resource_path(method: str, parts: list[str], watch: bool) -> RequestInfo | None:
    """`parts` is the path split on '/'. Returns None for anything that is not a resource
    request (discovery and the like are answered elsewhere)."""
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3 or any(not p for p in rest):
        return None
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    verb = _verb(method, bool(name), watch)
    if not verb:
        return None
    return RequestInfo(group, version, resource, namespace, name, sub, verb)


def _verb(method: str, named: bool, watch: bool) -> str:
    match method:
        case "GET" | "HEAD":
            if watch:
                return "watch"
            return "get" if named else "list"
        case "POST":
            return "create"
        case "PUT":
            return "update"
        case "PATCH":
            return "patch"
        case "DELETE":
            return "delete" if named else "deletecollection"
    return ""
