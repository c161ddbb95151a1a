"""Objects as the API server handles them: plain dicts with Kubernetes' JSON shape.

Request bodies are decoded to dicts, run once through the kind's msgspec Struct (which drops
unknown fields, applies Go-correct types, defaults and validation) and stored as compact JSON
without `metadata.resourceVersion`; the store's mod revision becomes the resourceVersion on every
read. This module is the only place the API server touches kcore.api's codec, defaults and
validation.
"""

from __future__ import annotations

from typing import Any

import msgspec

from kcore.api import codec, defaults, errors, validation
from kcore.api.registry import ResourceInfo
from kcore.apiserver import wire

Obj = dict[str, Any]


def meta(obj: Obj) -> dict[str, Any]:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def check_kind(info: ResourceInfo, obj: Obj, *, kind: str = "", api_version: str = "") -> None:
    """The body's kind/apiVersion must be the resource's (missing ones are filled in)."""
    want_kind, want_av = kind or info.kind, api_version or info.api_version
    got_kind, got_av = obj.get("kind") or want_kind, obj.get("apiVersion") or want_av
    if got_kind != want_kind or got_av != want_av:
        raise errors.bad_request(
            f"the API version in the data ({got_av}) and kind ({got_kind}) do not match "
            f"the expected {want_av} {want_kind}"
        )
    obj["kind"], obj["apiVersion"] = want_kind, want_av


def to_struct(info: ResourceInfo, raw: Obj, *, strict: bool, nulls: bool = True) -> Any:
    """`raw` as the kind's Struct; `nulls=False` promises `raw` holds no None anywhere."""
    try:
        obj = codec.from_dict(info.type, raw, drop_nulls=nulls)
    except errors.StatusError:
        raise
    except (msgspec.ValidationError, TypeError, ValueError) as e:
        raise errors.bad_request(
            f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: {e}'
        ) from None
    if strict:
        unknown = codec.unknown_fields(raw, obj)
        if unknown:
            fields = ", ".join(f'unknown field "{f}"' for f in unknown)
            raise errors.bad_request(f"strict decoding error: {fields}")
    return obj


def admit(
    info: ResourceInfo, raw: Obj, *, strict: bool, old: Obj | None = None, nulls: bool = True
) -> Obj:
    """Decode through the Struct, default, validate (against `old` for updates), and return
    the canonical dict. The Struct is fresh from `raw`, so it is defaulted in place."""
    obj = to_struct(info, raw, strict=strict, nulls=nulls)
    defaults.default_in_place(obj)
    if old is None:
        obj = _on_create(info, obj)
    old_obj = to_struct(info, old, strict=False) if old is not None else None
    causes = validation.validate(obj, old=old_obj)
    if causes:
        raise errors.invalid(info.kind, name_of(raw), causes, group=info.group)
    result = codec.to_dict(obj)
    assert isinstance(result, dict)
    return result


def _on_create(info: ResourceInfo, obj: Any) -> Any:
    """Create-only admission defaults: a pod's service account, a job's generated selector."""
    if info.group == "" and info.kind == "Pod":
        defaults.set_default_service_account(obj)
        return obj
    if info.group == "batch" and info.kind == "Job":
        return defaults.generate_job_selector(obj)
    return obj


def encode_stored(obj: Obj) -> bytes:
    """The stored form: no resourceVersion (the store's revision is the truth)."""
    m = meta(obj)
    rv = m.pop("resourceVersion", None)
    try:
        return wire.encode_json(obj)
    finally:
        if rv is not None:
            m["resourceVersion"] = rv


def decode_stored(value: bytes, revision: int) -> Obj:
    obj: Obj = wire.decode_json(value)
    meta(obj)["resourceVersion"] = str(revision)
    return obj


def deep_copy(obj: Obj) -> Obj:
    """An independent copy of a JSON-shaped object: a JSON round trip through msgspec,
    ~10x faster than copy.deepcopy (the update path copies every object it mutates)."""
    copied: Obj = wire.decode_json(wire.encode_json(obj))
    return copied
