"""Admission for writes: server-set metadata on create, namespace lifecycle (the namespace must
exist and not be terminating), status reset on create, and the update rules (immutable
metadata carried over, status kept on the main resource, generation bumped on spec change).
Defaulting and validation are the kind's own (kcore.api), run in objects.admit.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Awaitable, Callable

from kcore.api import errors, timeutil
from kcore.api.errors import Cause
from kcore.api.registry import ResourceInfo
from kcore.apiserver.objects import Obj, meta

NamespaceLookup = Callable[[str], Awaitable[Obj | None]]

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SERVER_SET = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "resourceVersion",
    "selfLink",
    "generation",
)
_IMMUTABLE = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "name",
    "namespace",
)
# Kinds whose status is writable on create (nodes report theirs; the rest start empty).
_STATUS_ON_CREATE = frozenset({"Node", "Namespace"})


def set_namespace(info: ResourceInfo, obj: Obj, url_namespace: str) -> None:
    m = meta(obj)
    if not info.namespaced:
        m.pop("namespace", None)
        return
    body_ns = m.get("namespace")
    if body_ns and url_namespace and body_ns != url_namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    m["namespace"] = url_namespace or body_ns or "default"


def generate_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


def prepare_create(info: ResourceInfo, obj: Obj) -> None:
    m = meta(obj)
    if not m.get("name") and m.get("generateName"):
        m["name"] = generate_name(str(m["generateName"]))
    if not m.get("name"):
        cause = Cause(
            "metadata.name",
            "Required value: name or generateName is required",
            "FieldValueRequired",
        )
        raise errors.invalid(info.kind, "", [cause], group=info.group)
    for k in _SERVER_SET:
        m.pop(k, None)
    m["uid"] = _uids.next()
    m["creationTimestamp"] = _clock.now()
    m["generation"] = 1
    m.pop("managedFields", None)
    if "status" in info.subresources and info.kind not in _STATUS_ON_CREATE:
        obj.pop("status", None)
    if info.kind == "Pod":
        obj["status"] = {"phase": "Pending"}


class _SecondClock:
    """timeutil.now() rendered once per second: every create stamps creationTimestamp, and
    formatting a datetime each time costs more than the rest of the metadata together."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._text = timeutil.from_timestamp(second)
            self._second = second
        return self._text


_clock = _SecondClock()


class _Uids:
    """Random (version 4) UUID strings, as str(uuid.uuid4()) gives, drawn from os.urandom in
    blocks: one system call per 256 uids instead of one each, and no UUID objects."""

    __slots__ = ("_at", "_pool")

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(16 * 256), 0
        raw = bytearray(self._pool[self._at : self._at + 16])
        self._at += 16
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_uids = _Uids()


async def check_namespace(info: ResourceInfo, lookup: NamespaceLookup, namespace: str) -> None:
    """Namespaced creates need an existing, non-terminating namespace; `lookup` answers the
    namespace's current object, or None if there is none."""
    if not info.namespaced:
        return
    ns = await lookup(namespace)
    if ns is None:
        raise errors.not_found("namespaces", namespace)
    if (ns.get("status") or {}).get("phase") == "Terminating" or meta(ns).get("deletionTimestamp"):
        raise errors.forbidden(
            f"unable to create new content in namespace {namespace} because it is being terminated"
        )


def carry_over(info: ResourceInfo, new: Obj, current: Obj, *, subresource: str) -> Obj:
    """The object to validate for an update: server-owned metadata from `current`; on the
    main resource the status stays, on .../status only the status changes."""
    if subresource == "status":
        out: Obj = {k: v for k, v in current.items() if k != "status"}
        if new.get("status") is not None:
            out["status"] = new["status"]
        return out
    nm, cm = meta(new), meta(current)
    for k in _IMMUTABLE:
        if k in cm:
            nm[k] = cm[k]
        else:
            nm.pop(k, None)
    if "status" in info.subresources:
        if "status" in current:
            new["status"] = current["status"]
        else:
            new.pop("status", None)
    return new


def bump_generation(new: Obj, current: Obj) -> None:
    if new.get("spec") != current.get("spec"):
        meta(new)["generation"] = int(meta(current).get("generation") or 0) + 1


def same_object(a: Obj, b: Obj) -> bool:
    """Equal ignoring resourceVersion (a no-op write is not stored)."""
    ma, mb = dict(meta(a)), dict(meta(b))
    ma.pop("resourceVersion", None)
    mb.pop("resourceVersion", None)
    return ma == mb and {k: v for k, v in a.items() if k != "metadata"} == {
        k: v for k, v in b.items() if k != "metadata"
    }
