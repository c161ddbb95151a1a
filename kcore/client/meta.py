"""Reading identity off an object, typed Struct or plain dict alike.

Informers, the work queue and the recorder need an object's namespace, name, uid and
resourceVersion without knowing its kind; these helpers read `obj.metadata.<attr>` on Structs
(kcore.api models) and `obj["metadata"][<jsonName>]` on dicts.
"""

from __future__ import annotations

from typing import Any


def _field(obj: Any, attr: str, json_name: str) -> str:
    if isinstance(obj, dict):
        value = (obj.get("metadata") or {}).get(json_name)
    else:
        value = getattr(getattr(obj, "metadata", None), attr, None)
    return value or ""


def labels_of(obj: Any) -> dict[str, str]:
    if isinstance(obj, dict):
        labels = (obj.get("metadata") or {}).get("labels")
    else:
        labels = getattr(getattr(obj, "metadata", None), "labels", None)
    return labels or {}


def name_of(obj: Any) -> str:
    return _field(obj, "name", "name")


def namespace_of(obj: Any) -> str:
    return _field(obj, "namespace", "namespace")


def uid_of(obj: Any) -> str:
    return _field(obj, "uid", "uid")


def resource_version_of(obj: Any) -> str:
    return _field(obj, "resource_version", "resourceVersion")


def key_of(obj: Any) -> str:
    """The cache key: "namespace/name", or "name" for cluster-scoped objects."""
    ns = namespace_of(obj)
    return f"{ns}/{name_of(obj)}" if ns else name_of(obj)


def split_key(key: str) -> tuple[str, str]:
    """("namespace", "name") from a cache key; namespace is "" for cluster-scoped keys."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else ("", ns)
