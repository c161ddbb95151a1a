"""Which handler serves a resource request: (subresource, verb) → handler, after checking the
resource exists, the subresource is served, the verb is allowed and the scope matches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kcore.api import errors
from kcore.api.registry import ResourceInfo
from kcore.apiserver import metrics_api
from kcore.apiserver.discovery import SERVED_SUBRESOURCES
from kcore.apiserver.handlers import delete, pod_exec, read, subresources, watch, write
from kcore.apiserver.handlers.context import Context
from kcore.apiserver.requestinfo import RequestInfo

Handler = Callable[[Context], Awaitable[Any]]

HANDLERS: dict[tuple[str, str], Handler] = {
    ("", "get"): read.get,
    ("", "list"): read.list_objects,
    ("", "watch"): watch.watch,
    ("", "create"): write.create,
    ("", "update"): write.update,
    ("", "patch"): write.patch,
    ("", "delete"): delete.delete,
    ("", "deletecollection"): delete.delete_collection,
    ("status", "get"): read.get,
    ("status", "update"): write.update,
    ("status", "patch"): write.patch,
    ("scale", "get"): subresources.get_scale,
    ("scale", "update"): subresources.update_scale,
    ("scale", "patch"): subresources.patch_scale,
    ("binding", "create"): subresources.bind,
    ("eviction", "create"): subresources.evict,
    ("log", "get"): subresources.logs,
    ("finalize", "update"): subresources.finalize,
    ("exec", "get"): pod_exec.exec_,
    ("exec", "create"): pod_exec.exec_,
}
NOT_FOUND_MESSAGE = "the server could not find the requested resource"


def resolve(ri: RequestInfo, info: ResourceInfo | None) -> Handler:
    if info is None:
        raise errors.StatusError(404, "NotFound", NOT_FOUND_MESSAGE)
    if ri.subresource and (
        ri.subresource not in info.subresources or ri.subresource not in SERVED_SUBRESOURCES
    ):
        raise errors.StatusError(404, "NotFound", NOT_FOUND_MESSAGE)
    if ri.namespace and not info.namespaced:
        raise errors.StatusError(404, "NotFound", NOT_FOUND_MESSAGE)
    if info.plural == "bindings" and info.group == "" and ri.verb == "create":
        return subresources.bind
    handler = HANDLERS.get((ri.subresource, ri.verb))
    named_create = ri.verb == "create" and ri.name and not ri.subresource
    if handler is None or named_create or (not ri.subresource and ri.verb not in info.verbs):
        raise errors.method_not_allowed(
            f"{ri.verb} is not supported on resources of kind {info.plural!r}"
        )
    if info.namespaced and not ri.namespace and ri.verb not in ("list", "watch"):
        raise errors.method_not_allowed(
            f"{ri.verb} of {info.plural} needs a namespace in the request path"
        )
    if metrics_api.serves(info):
        return metrics_api.handler(ri.verb)
    return handler
